import { isMap, isScalar, isSeq, parseDocument, stringify, visit, type Document } from 'yaml';

export interface TextProblem {
  from: number;
  to: number;
  message: string;
  pointer?: string;
}

export interface ParsedYaml {
  doc: Document.Parsed;
  value: unknown;
  errors: TextProblem[];
}

export function parseYaml(text: string): ParsedYaml {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const errors = doc.errors.map((e) => ({
    from: e.pos[0],
    to: Math.max(e.pos[1], e.pos[0] + 1),
    message: e.message,
  }));
  return { doc, value: errors.length ? undefined : doc.toJS({ maxAliasCount: 50 }), errors };
}

function unescape(part: string): string {
  return part.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Where a JSON pointer lands in the YAML text: the deepest node of the path that exists (a
 * missing property is reported on the object that lacks it). A collection is marked by its key,
 * so that an error on a whole stage does not paint the whole stage.
 */
export function pointerRange(
  doc: Document.Parsed,
  pointer: string,
  length: number,
): [number, number] {
  const parts =
    pointer === '' || pointer === '/' ? [] : pointer.replace(/^\//, '').split('/').map(unescape);
  let node: unknown = doc.contents;
  let key: unknown;
  for (const part of parts) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === part,
      );
      if (!pair) break;
      key = pair.key;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(part)];
      if (item === undefined) break;
      key = undefined;
      node = item;
    } else break;
  }
  const rangeOf = (n: unknown) =>
    (n as { range?: [number, number, number] } | null | undefined)?.range;
  const target = (isMap(node) || isSeq(node)) && rangeOf(key) ? key : rangeOf(node) ? node : key;
  const range = rangeOf(target);
  if (!range) return [0, Math.min(1, length)];
  return [range[0], Math.max(range[1], range[0] + 1)];
}

/**
 * A stored version's text as the editor and the diff show it: YAML as written, and a version
 * sent as JSON (often one long line) as the same document in YAML, so that it reads and diffs
 * line by line.
 */
export function editableSource(version: { source: string; sourceFormat: string }): string {
  if (version.sourceFormat !== 'json') return version.source;
  try {
    return stringify(JSON.parse(version.source));
  } catch {
    return version.source;
  }
}

/**
 * The connection named beside the key that starts at `keyStart` (a `queue:`, `exchange:` or
 * `topic:` being typed): the `connection:` of the same source, destination or dead letter, in
 * block or flow style. Undefined when that mapping names none.
 */
export function connectionBeside(text: string, keyStart: number): string | undefined {
  const doc = parseDocument(text, { prettyErrors: false });
  let connection: string | undefined;
  visit(doc, {
    Map(_, map) {
      const here = map.items.some(
        (p) => isScalar(p.key) && (p.key.range as number[] | undefined)?.[0] === keyStart,
      );
      if (!here) return undefined;
      const pair = map.items.find((p) => isScalar(p.key) && p.key.value === 'connection');
      if (pair && isScalar(pair.value) && typeof pair.value.value === 'string')
        connection = pair.value.value;
      return visit.BREAK;
    },
  });
  return connection;
}
