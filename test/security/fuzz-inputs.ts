/**
 * Generators of hostile request parts for the fuzz suite (fast-check): values from an OpenAPI
 * schema, the same values with one field broken, deep nesting, NUL and other control
 * characters, lone surrogates, numbers beyond int4 and double, malformed dates, over-long
 * strings, wrong JSON types, malformed content types and bodies.
 */
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  example?: unknown;
  examples?: unknown[];
}

/**
 * JSON too deep to build as a value (JSON.stringify itself overflows at 10,000 levels): kept as
 * text and spliced into the body where it stands.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

export type Value = Json | RawJson | Value[] | { [key: string]: Value };

/** A request body as sent: its bytes and its content type (none: no header). */
export interface Body {
  contentType?: string;
  text?: string;
}

/** JSON text of a value that may hold RawJson pieces. */
export function jsonText(value: Value): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0002RAW${raws.length - 1}\u0002`;
    }
    return v;
  });
  return text.replace(/"\\u0002RAW(\d+)\\u0002"/g, (_m, i: string) => raws[Number(i)]);
}

/** `levels` of arrays or objects around a leaf, as text. */
export function deepText(levels: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array'
    ? '['.repeat(levels) + '1' + ']'.repeat(levels)
    : '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
}

const deep = fc
  .tuple(
    fc.constantFrom(129, 200, 1_000, 10_000, 50_000),
    fc.constantFrom<'array' | 'object'>('array', 'object'),
  )
  .map(([levels, kind]) => new RawJson(deepText(levels, kind)));

/** Strings that break things that read strings: NUL, controls, lone surrogates, bidi, huge. */
const hostileString = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\u0001\u0007\b\t\n\r\u001b\u001f\u007f',
    '\ud800',
    'x\udc00',
    '\udbff\udbff',
    '\u202e\u200b\ufeff\uffff',
    '𝕏😀',
    'NaN',
    'Infinity',
    '-Infinity',
    '1e400',
    '-0',
    '0x1F',
    '99999999999',
    '2147483648',
    '-2147483649',
    '9'.repeat(40),
    '2026-13-45T99:99:99Z',
    '0000-00-00',
    '+275760-09-13T00:00:00.001Z',
    '-271821-04-20T00:00:00Z',
    '00000000-0000-0000-0000-000000000000',
    'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz',
    "'; DROP TABLE users; --",
    '$where',
    '../../etc/passwd',
    '__proto__',
    '4111111111111111',
    'x'.repeat(300),
    'y'.repeat(70_000),
  ),
  // Any UTF-16 code units, lone surrogates and NULs included.
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
);

const hostileNumber = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    -0,
    0.5,
    1.5,
    99_999_999_999,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53 + 2,
    -(2 ** 63),
    1e308,
    -1e308,
    5e-324,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** Any value that a well-meaning schema does not expect at a place. */
export const hostileValue: fc.Arbitrary<Value> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 3, arbitrary: hostileNumber },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Value>(
      null,
      true,
      false,
      [],
      {},
      [[]],
      { '': null },
      { '\u0000': 1 },
    ),
  },
  { weight: 1, arbitrary: deep },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Value> },
);

function resolve(schema: Schema, components: Record<string, Schema>): Schema {
  let at = schema;
  for (let i = 0; at.$ref && i < 10; i++) at = components[at.$ref.split('/').pop()!] ?? {};
  return at;
}

/** Values that the schema describes (mostly valid ones), depth-bounded. */
export function fromSchema(
  schema: Schema,
  components: Record<string, Schema>,
  depth = 0,
): fc.Arbitrary<Value> {
  const s = resolve(schema, components);
  if (depth > 5) return fc.constant(null);
  if (s.const !== undefined) return fc.constant(s.const as Json);
  if (s.enum) return fc.constantFrom(...(s.enum as Json[]));
  const alternatives = s.oneOf ?? s.anyOf;
  if (alternatives) return fc.oneof(...alternatives.map((a) => fromSchema(a, components, depth)));
  if (s.allOf?.length) return fromSchema(s.allOf[0], components, depth);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  const example = s.example ?? s.examples?.[0];
  switch (type) {
    case 'object': {
      const props = s.properties ?? {};
      if (Object.keys(props).length === 0) {
        return example !== undefined
          ? fc.constant(example as Json)
          : (fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), {
              maxKeys: 3,
            }) as fc.Arbitrary<Value>);
      }
      const record: Record<string, fc.Arbitrary<Value>> = {};
      for (const [key, child] of Object.entries(props))
        record[key] = fromSchema(child, components, depth + 1);
      return fc.record(record, { requiredKeys: s.required ?? [] }) as fc.Arbitrary<Value>;
    }
    case 'array':
      return fc.uniqueArray(fromSchema(s.items ?? {}, components, depth + 1), {
        maxLength: 3,
        selector: (v) => JSON.stringify(v),
      }) as fc.Arbitrary<Value>;
    case 'integer':
      return fc.integer({
        min: Math.ceil(s.minimum ?? -1000),
        max: Math.floor(Math.min(s.maximum ?? 1000, 1000)),
      });
    case 'number':
      return fc.double({
        min: s.minimum ?? -1000,
        max: Math.min(s.maximum ?? 1000, 1000),
        noNaN: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'string': {
      if (s.format === 'date-time')
        return fc
          .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString());
      if (s.format === 'email') return fc.emailAddress();
      if (s.format === 'uuid') return fc.uuid();
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
      const minLength = s.minLength ?? 0;
      const maxLength = Math.max(minLength, Math.min(s.maxLength ?? 24, 24));
      const text = fc.string({ minLength, maxLength });
      return typeof example === 'string' ? fc.oneof(fc.constant(example), text) : text;
    }
    default:
      return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Value>;
  }
}

type Path = Array<string | number>;

function pathsOf(value: Value): Path[] {
  const out: Path[] = [[]];
  const walk = (v: Value, at: Path, depth: number) => {
    if (depth > 6 || v === null || typeof v !== 'object' || v instanceof RawJson) return;
    const entries: Array<[string | number, Value]> = Array.isArray(v)
      ? v.map((c, i) => [i, c])
      : Object.entries(v);
    for (const [k, c] of entries) {
      out.push([...at, k]);
      walk(c, [...at, k], depth + 1);
    }
  };
  walk(value, [], 0);
  return out;
}

/** `value` with one node replaced, removed, or given an unknown sibling. */
function mutate(
  value: Value,
  pick: number,
  replacement: Value,
  how: 'replace' | 'delete' | 'add',
): Value {
  const copy = JSON.parse(JSON.stringify(value)) as Value;
  const paths = pathsOf(copy);
  const path = paths[pick % paths.length];
  if (path.length === 0)
    return how === 'add' ? { ...(copy as object), zz: replacement } : replacement;
  let parent = copy as Record<string | number, Value>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, Value>;
  const last = path[path.length - 1];
  if (how === 'delete' && !Array.isArray(parent)) delete parent[last];
  else if (how === 'add' && !Array.isArray(parent)) parent[`${String(last)}\u0000x`] = replacement;
  else parent[last] = replacement;
  return copy;
}

/** A valid value with one part broken. */
export function mutated(valid: fc.Arbitrary<Value>): fc.Arbitrary<Value> {
  return fc
    .tuple(valid, fc.nat(), hostileValue, fc.constantFrom('replace', 'replace', 'delete', 'add'))
    .map(([v, pick, replacement, how]) =>
      mutate(v, pick, replacement, how as 'replace' | 'delete' | 'add'),
    );
}

const json = (value: fc.Arbitrary<Value>) =>
  value.map((v): Body => ({ contentType: 'application/json', text: jsonText(v) }));

/** Bodies that are not JSON, or not labelled as JSON, or labelled wrongly. */
const malformedBody: fc.Arbitrary<Body> = fc.oneof(
  fc.record({
    contentType: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
      'application/json;;;',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/yaml',
      'application/xml',
      '*/*',
      ';',
      'garbage',
    ),
    text: fc.constantFrom(
      '',
      '{',
      '{"a":',
      '[1,]',
      'not json',
      '\u0000',
      '{"a":"\\ud800"}',
      '{"a":"\\u0000"}',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      'a=1&a[b][c][d]=2',
      '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
      'a: [1, *b]\nb: &b 2',
      '<a/>',
      'null',
      '1e999',
      '"\\u0000"',
      '['.repeat(100_000),
    ),
  }),
  fc.constant<Body>({}),
  fc.constant<Body>({ text: '{"a":1}' }),
);

/** Every kind of body for an operation whose valid bodies `valid` generates. */
export function bodies(valid: fc.Arbitrary<Value>): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 3, arbitrary: json(valid) },
    { weight: 5, arbitrary: json(mutated(valid)) },
    { weight: 1, arbitrary: json(hostileValue) },
    { weight: 1, arbitrary: json(deep) },
    { weight: 1, arbitrary: malformedBody },
  );
}

/** Percent-encodes every UTF-16 unit, lone surrogates too (as the invalid UTF-8 they would be). */
export function encodeRaw(text: string): string {
  let out = '';
  for (const ch of text) {
    try {
      out += encodeURIComponent(ch);
    } catch {
      const c = ch.charCodeAt(0); // a lone surrogate: its three WTF-8 bytes
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    }
  }
  return out;
}

/** Path segments and query values, percent-encoded as sent. */
export const hostileParam: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '0',
      '-1',
      '1.5',
      '1e3',
      '99999999999',
      '2147483648',
      '-2147483649',
      '9'.repeat(40),
      'NaN',
      'Infinity',
      '-0',
      '0x1F',
      '%201',
      '%00',
      'a%00b',
      '%01%02%1F%7F',
      '%ED%A0%80',
      '%FF%FE',
      '%',
      '%zz',
      '%C0%AF',
      '%2E%2E',
      'a%2Fb',
      'null',
      'true',
      '%5B%5D',
      '__proto__',
      'constructor',
      '00000000-0000-0000-0000-000000000000',
      'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz',
      '2026-13-45T99%3A99%3A99Z',
      '%2B275760-09-13T00%3A00%3A00.001Z',
      '-271821-04-20T00%3A00%3A00Z',
      'x'.repeat(101),
      'x'.repeat(1025),
      '%E6%97%A5%F0%9F%98%80',
      '4111111111111111',
    ),
  },
  { weight: 1, arbitrary: fc.uuid() },
  {
    weight: 2,
    arbitrary: fc
      .string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) })
      .map(encodeRaw),
  },
  { weight: 1, arbitrary: hostileString.map(encodeRaw) },
);
