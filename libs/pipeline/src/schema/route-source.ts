import {
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
} from 'yaml';
import type { RouteProblem } from '../pipeline.error';

export type SourceFormat = 'yaml' | 'json';

/** Limits on a route's source text: a route is a page of YAML, not a data set. */
export const SOURCE_LIMITS = {
  /**
   * Largest source text, in characters. The yaml library parses about 1.5 us a character, up to
   * 3 on a flow sequence: 512 KiB held the event loop 0.6 to 1.7 s; 128 KiB holds a document at
   * the schema compile budget (about 1,400 properties) with room to spare.
   */
  maxLength: 128 * 1024,
  /** Deepest nesting of the parsed document (objects and arrays). */
  maxDepth: 64,
  /** Most alias expansions (`*a`), against billion-laughs documents. */
  maxAliasCount: 100,
  /** Most parse problems reported: a text can hold one in every few characters. */
  maxProblems: 100,
};

export interface ParsedSource {
  /** The parsed value, or undefined when the text has problems. */
  value?: unknown;
  /** Parse problems with line and column (1-based); empty when the text parsed. */
  problems: RouteProblem[];
  /** Line and column of the value at a JSON pointer, where the source has it. */
  locate(pointer: string): { line: number; column: number } | undefined;
}

/**
 * Parses a route's source text (YAML, of which JSON is a subset) without executing anything:
 * no custom tags, unique keys, a bounded number of alias expansions, a bounded size and depth.
 * Never throws for bad input: every problem comes back with where it is.
 */
export function parseRouteSource(text: string): ParsedSource {
  return fromData(parseRouteSourceData(text));
}

/**
 * What parseRouteSource finds, as plain data that can cross to another thread: the value, the
 * problems, and where every node of the document starts (by JSON pointer).
 */
export interface ParsedSourceData {
  value?: unknown;
  problems: RouteProblem[];
  /** [pointer, line, column] of every node, in document order. */
  positions: Array<[string, number, number]>;
}

/** parseRouteSource's work, as data (see ParsedSourceData). */
export function parseRouteSourceData(text: string): ParsedSourceData {
  const lines = new LineCounter();
  const nowhere = { problems: [] as RouteProblem[], positions: [] };
  if (text.length > SOURCE_LIMITS.maxLength) {
    return {
      ...nowhere,
      problems: [
        {
          pointer: '',
          message: `the source is longer than ${SOURCE_LIMITS.maxLength} characters`,
        },
      ],
    };
  }
  const tooDeep = flowDepthExceeded(text);
  if (tooDeep) return { ...nowhere, problems: [tooDeep] };
  let doc: Document;
  try {
    doc = parseDocument(text, {
      lineCounter: lines,
      prettyErrors: true,
      // yaml checks unique keys by comparing each key with every earlier key of its map:
      // 20,000 keys held the event loop 9 s. duplicateKeys does it in one pass.
      uniqueKeys: false,
      strict: true,
      customTags: [],
      schema: 'core',
    });
  } catch (err) {
    // A parser stack overflow on pathological nesting: refuse, never crash.
    return {
      ...nowhere,
      problems: [{ pointer: '', message: `cannot parse: ${(err as Error).message}` }],
    };
  }
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  const positions = positionsOf(doc, lines);
  const errors = [
    ...doc.errors.map((e) => ({
      message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''),
      offset: e.pos[0],
    })),
    ...duplicateKeys(doc),
  ].sort((a, b) => a.offset - b.offset);
  if (errors.length > 0) {
    return {
      problems: errors.slice(0, SOURCE_LIMITS.maxProblems).map((e) => ({
        pointer: '',
        message: `cannot parse: ${e.message}`,
        ...at(e.offset),
      })),
      positions,
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: SOURCE_LIMITS.maxAliasCount });
  } catch (err) {
    return {
      problems: [{ pointer: '', message: `cannot parse: ${(err as Error).message}` }],
      positions,
    };
  }
  if (depthOf(value) > SOURCE_LIMITS.maxDepth) {
    return {
      problems: [{ pointer: '', message: `nested deeper than ${SOURCE_LIMITS.maxDepth} levels` }],
      positions,
    };
  }
  return { value, problems: [], positions };
}

/** A ParsedSource from its data: `locate` finds a pointer's node, else its nearest ancestor's. */
export function fromData(data: ParsedSourceData): ParsedSource {
  const where = new Map<string, { line: number; column: number }>();
  for (const [pointer, line, column] of data.positions)
    if (!where.has(pointer)) where.set(pointer, { line, column });
  const locate = (pointer: string) => {
    for (let p = pointer; ; p = p.slice(0, p.lastIndexOf('/'))) {
      const found = where.get(p);
      if (found || p === '') return found;
    }
  };
  return data.value === undefined
    ? { problems: data.problems, locate }
    : { value: data.value, problems: data.problems, locate };
}

/**
 * Where each node of the document starts, by JSON pointer (a map's key unescaped as the pointer
 * spells it, `~0` and `~1`), in document order: the first of two equal keys comes first.
 */
function positionsOf(doc: Document, lines: LineCounter): Array<[string, number, number]> {
  const found: Array<[string, number, number]> = [];
  const stack: Array<[unknown, string]> = [[doc.contents, '']];
  while (stack.length > 0) {
    const [node, pointer] = stack.pop()!;
    if (!isNode(node)) continue;
    if (node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      found.push([pointer, line, col]);
    }
    const children: Array<[unknown, string]> = [];
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        const segment = String(key).replace(/~/g, '~0').replace(/\//g, '~1');
        children.push([pair.value, `${pointer}/${segment}`]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => children.push([item, `${pointer}/${i}`]));
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return found;
}

/** Problems of a document given as text get the line and column of their pointer. */
export function withPositions(problems: RouteProblem[], source: ParsedSource): RouteProblem[] {
  return problems.map((p) => (p.line !== undefined ? p : { ...p, ...source.locate(p.pointer) }));
}

/**
 * Keys that repeat an earlier key of their map, as yaml's `uniqueKeys: true` finds them (scalars
 * equal by value), in one pass over the document: a set of keys per map, and no recursion.
 */
function duplicateKeys(doc: Document): Array<{ message: string; offset: number }> {
  const found: Array<{ message: string; offset: number }> = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key) && !Number.isNaN(key.value)) {
          if (seen.has(key.value))
            found.push({ message: 'Map keys must be unique', offset: key.range?.[0] ?? 0 });
          seen.add(key.value);
        }
        stack.push(key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    } else if (isPair(node)) {
      stack.push(node.key, node.value);
    }
  }
  return found;
}

/** Nesting of flow collections ([ and {), counted before parsing so that the parser never recurses deep. */
function flowDepthExceeded(text: string): RouteProblem | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else if (c === '[' || c === '{') {
      if (++depth > SOURCE_LIMITS.maxDepth)
        return { pointer: '', message: `nested deeper than ${SOURCE_LIMITS.maxDepth} levels` };
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  return undefined;
}

/** Depth of a JSON value, without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, d);
    if (max > SOURCE_LIMITS.maxDepth) return max;
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return max;
}
