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
 * problems, and the document's nodes as a tree (each node's parent, its key, where it starts),
 * so that any pointer can be placed later. Linear in the text: a node keeps its own key only,
 * not its whole pointer (long keys over thousands of nodes would make pointers quadratic).
 */
export interface ParsedSourceData {
  value?: unknown;
  problems: RouteProblem[];
  nodes: SourceNodes;
}

/** The nodes of a document in document order; node 0 is the root (when there is one). */
export interface SourceNodes {
  /** The parent's index (-1 for the root). */
  parents: number[];
  /** The key under the parent: a map's key as a pointer segment reads it, or an item's index. */
  keys: string[];
  lines: number[];
  columns: number[];
}

const NO_NODES: SourceNodes = { parents: [], keys: [], lines: [], columns: [] };

/** parseRouteSource's work, as data (see ParsedSourceData). */
export function parseRouteSourceData(text: string): ParsedSourceData {
  const lines = new LineCounter();
  const nowhere = { problems: [] as RouteProblem[], nodes: NO_NODES };
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
  const nodes = nodesOf(doc, lines);
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
      nodes,
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: SOURCE_LIMITS.maxAliasCount });
  } catch (err) {
    return {
      problems: [{ pointer: '', message: `cannot parse: ${(err as Error).message}` }],
      nodes,
    };
  }
  if (depthOf(value) > SOURCE_LIMITS.maxDepth) {
    return {
      problems: [{ pointer: '', message: `nested deeper than ${SOURCE_LIMITS.maxDepth} levels` }],
      nodes,
    };
  }
  return { value, problems: [], nodes };
}

/**
 * A ParsedSource from its data: `locate` walks a pointer's segments down from the root and
 * answers the deepest node it reaches (the pointer's own, else its nearest ancestor's). The first
 * of two equal keys is the one found. A node's children are indexed when a pointer first passes.
 */
export function fromData(data: ParsedSourceData): ParsedSource {
  const { parents, keys, lines, columns } = data.nodes;
  const children = new Map<number, number[]>();
  for (let i = 1; i < parents.length; i++) {
    const list = children.get(parents[i]);
    if (list) list.push(i);
    else children.set(parents[i], [i]);
  }
  const indexed = new Map<number, Map<string, number>>();
  const childOf = (node: number, key: string): number | undefined => {
    let byKey = indexed.get(node);
    if (!byKey) {
      byKey = new Map();
      for (const child of children.get(node) ?? [])
        if (!byKey.has(keys[child])) byKey.set(keys[child], child);
      indexed.set(node, byKey);
    }
    return byKey.get(key);
  };
  const locate = (pointer: string) => {
    if (parents.length === 0) return undefined;
    let node = 0;
    for (const segment of pointer.split('/').slice(1)) {
      const next = childOf(node, segment.replace(/~1/g, '/').replace(/~0/g, '~'));
      if (next === undefined) break;
      node = next;
    }
    return { line: lines[node], column: columns[node] };
  };
  return data.value === undefined
    ? { problems: data.problems, locate }
    : { value: data.value, problems: data.problems, locate };
}

/** The document's nodes (see SourceNodes), walked without recursion. */
function nodesOf(doc: Document, lines: LineCounter): SourceNodes {
  const nodes: SourceNodes = { parents: [], keys: [], lines: [], columns: [] };
  const stack: Array<[unknown, number, string]> = [[doc.contents, -1, '']];
  while (stack.length > 0) {
    const [node, parent, key] = stack.pop()!;
    if (!isNode(node) || !node.range) continue;
    const index = nodes.parents.length;
    const { line, col } = lines.linePos(node.range[0]);
    nodes.parents.push(parent);
    nodes.keys.push(key);
    nodes.lines.push(line);
    nodes.columns.push(col);
    const kids: Array<[unknown, number, string]> = [];
    if (isMap(node)) {
      for (const pair of node.items)
        kids.push([pair.value, index, String(isScalar(pair.key) ? pair.key.value : pair.key)]);
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => kids.push([item, index, String(i)]));
    }
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
  }
  return nodes;
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
