// The engine's own specs check it against the real protocol map (see eslint.config.mjs).
import { CONNECTORS } from '@junction/connectors';
import { compileRoute, validateRoute } from '../compile';
import { fullFormats } from 'ajv-formats/dist/formats';
import { prng } from '../pan/pan-corpus';
import { linearUrl } from '../schema/capped-formats';
import { SCHEMA_MAX_DEPTH, schemaCompileCost } from '../schema/schema-cost';
import { markSubschemas, STEP_MARK } from '../schema/schema-steps';
import { canonicalJson, firstDuplicate } from '../schema/unique-items';
import { envelopeOf, testResources } from '../testing';

const route = (schema: unknown) => ({
  id: 'u',
  source: { type: 'http', path: 'u' },
  pipeline: [{ validate: { schema } }],
  destinations: [{ type: 'log' }],
});

const uniqueLines = { properties: { lines: { type: 'array', uniqueItems: true } } };

async function outcome(schema: unknown, body: unknown) {
  // A clock that stands still: the message budget (compile.spec tests it) must not fail a large
  // body on a busy machine.
  const compiled = await compileRoute(route(schema), testResources({ protocols: CONNECTORS }), {
    clock: () => 0,
  });
  return compiled.run(envelopeOf(body));
}

describe('validate: uniqueItems', () => {
  it('uses JSON Schema equality: key order does not matter, 1 and 1.0 are equal', async () => {
    const failed = await outcome(uniqueLines, {
      lines: [{ sku: 1, qty: 2 }, { sku: 2 }, { qty: 2, sku: 1.0 }],
    });
    expect(failed.outcome).toBe('error');
    expect(failed.outcome === 'error' && failed.error.message).toBe(
      'body does not match the schema: /lines must NOT have duplicate items (items ## 0 and 2 are identical)',
    );
    for (const lines of [
      [1, '1', true, null, [1], { a: 1 }, { a: '1' }, [[1]], { '0': 1 }],
      [{ a: [1, 2] }, { a: [2, 1] }],
      [{ a: undefined }, {}],
    ])
      expect((await outcome(uniqueLines, { lines })).outcome).toBe('deliver');
    expect(
      (await outcome(uniqueLines, { lines: [[{ b: 1, a: 2 }], [{ a: 2, b: 1 }]] })).outcome,
    ).toBe('error');
  });

  it('applies inside items and respects uniqueItems: false', async () => {
    const nested = {
      properties: { m: { type: 'array', items: { type: 'array', uniqueItems: true } } },
    };
    const failed = await outcome(nested, {
      m: [
        [1, 2],
        [3, 3],
      ],
    });
    expect(failed.outcome === 'error' && failed.error.message).toMatch(
      /\/m\/1 must NOT have duplicate items \(items ## 0 and 1 are identical\)/,
    );
    expect(
      (
        await outcome(nested, {
          m: [
            [1, 2],
            [1, 2],
          ],
        })
      ).outcome,
    ).toBe('deliver');
    expect(
      (await outcome({ properties: { a: { uniqueItems: false } } }, { a: [1, 1] })).outcome,
    ).toBe('deliver');
  });

  it('reads each item once, not once per pair (a large array is linear work)', async () => {
    let reads = 0;
    const item = (sku: number) =>
      Object.defineProperty({}, 'sku', {
        enumerable: true,
        get: () => {
          reads++;
          return sku;
        },
      });
    const lines = Array.from({ length: 3000 }, (_, i) => item(i));
    expect((await outcome(uniqueLines, { lines })).outcome).toBe('deliver');
    // Pairwise deep-equal reads every item about 3000 times (millions of reads).
    expect(reads).toBeLessThanOrEqual(2 * lines.length);

    const many = Array.from({ length: 60_000 }, (_, sku) => ({ sku }));
    expect((await outcome(uniqueLines, { lines: many })).outcome).toBe('deliver');
    many.push({ sku: 59_999 });
    const failed = await outcome(uniqueLines, { lines: many });
    expect(failed.outcome === 'error' && failed.error.message).toMatch(
      /items ## 59999 and 60000 are identical/,
    );
  });
});

describe('canonicalJson / firstDuplicate', () => {
  it('writes equal JSON values alike and different ones apart', () => {
    expect(canonicalJson({ b: [1.0, 'x'], a: null })).toBe('{"a":null,"b":[1,"x"]}');
    expect(canonicalJson(-0)).toBe(canonicalJson(0));
    expect(canonicalJson('1')).not.toBe(canonicalJson(1));
    expect(firstDuplicate([{ a: 1 }, 2, { a: 1 }])).toEqual([0, 2]);
    expect(firstDuplicate([])).toBeUndefined();
  });
});

describe('validate: format url', () => {
  const urlField = { properties: { link: { type: 'string', format: 'url' } } };

  it("keeps ajv-formats' url check, at any length", async () => {
    for (const link of ['https://shop.example/orders/1', 'ftp://files.example/a'])
      expect((await outcome(urlField, { link })).outcome).toBe('deliver');
    for (const link of ['not a url', 'http://10.0.0.1/x', 'mailto:a@b.example'])
      expect((await outcome(urlField, { link })).outcome).toBe('error');
    const long = `https://shop.example/${'a'.repeat(100_000)}`;
    expect((await outcome(urlField, { link: long })).outcome).toBe('deliver');
    expect((await outcome(urlField, { link: `${long} ` })).outcome).toBe('error');
  });

  it("gives ajv-formats' pattern's answer on seeded random near-urls", () => {
    const pattern = fullFormats.url as RegExp;
    const check = linearUrl(pattern)!;
    const random = prng(20261206);
    const pick = (options: string[]) => options[Math.floor(random() * options.length)];
    const schemes = ['http://', 'https://', 'ftp://', 'HTTP://', 'htp://', 'http:/', ''];
    const users = ['', 'u@', 'u:p@', ':@', '@', '@u@', 'a b@', 'u@v@', 'ü@', 'x:y:z@', 'u/p@'];
    const hosts = ['shop.example', 'a.bc', '10.0.0.1', '8.8.8.8', '172.16.0.1', '172.32.0.1'];
    hosts.push('a-b.c-d.ef', 'a..b.cc', 'localhost', 'exa mple.com', 'ü.de', '224.0.0.1', '-a.com');
    const ports = ['', ':8', ':80', ':65535', ':123456', ':', ':ab'];
    const paths = ['', '/', '/a b', '/x?y#z', '?q', '#f', '/@', '/a@b:c', '/\u3000', ' ', '/ok'];
    const noise = ['a', '.', '-', '@', ':', '/', ' ', '\u3000', '1', 'ü', '\t', '@@', ':@'];
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = pick(schemes) + pick(users) + pick(hosts) + pick(ports) + pick(paths);
      for (let k = Math.floor(random() * 3); k > 0; k--) {
        const at = Math.floor(random() * (text.length + 1));
        text = text.slice(0, at) + pick(noise) + text.slice(at);
      }
      const expected = pattern.test(text);
      if (check(text) !== expected) throw new Error(`${JSON.stringify(text)}: not ${expected}`);
      if (expected) valid++;
    }
    expect(valid).toBeGreaterThan(300); // 472 of them match
  });

  it('answers at once on strings that make the pattern backtrack (quadratic: about 40 s at 300 KB)', async () => {
    // Each is 1 MB; ajv-formats' pattern would take hours on the first.
    for (const link of [
      `http://a${':@'.repeat(500_000)}`,
      `http://${'@a.bc/'.repeat(170_000)} `,
      `http://${'a@'.repeat(500_000)}`,
      `http://u@${'a.'.repeat(500_000)}`,
    ])
      expect((await outcome(urlField, { link })).outcome).toBe('error');
  });
});

describe('validate: the schema is never written to the console', () => {
  it('ignores an unknown format without quoting it (a card number, a forged log line)', async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
      jest.spyOn(console, level).mockImplementation(() => undefined),
    );
    try {
      const format = 'pan-5500000000000004\n{"level":50,"msg":"forged"}';
      expect((await outcome({ format }, 'any text')).outcome).toBe('deliver');
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});

describe('validate: what a schema may cost to compile', () => {
  const route = (...schemas: unknown[]) => ({
    id: 'costly',
    source: { type: 'http', path: 'costly' },
    pipeline: schemas.map((schema) => ({ validate: { schema } })),
    destinations: [{ type: 'log' }],
  });
  const resources = () => testResources({ protocols: CONNECTORS });
  const branches = (n: number) => ({ oneOf: Array.from({ length: n }, (_, i) => ({ const: i })) });

  it('counts each object once, and what grows faster than the schema more', () => {
    expect(schemaCompileCost({ type: 'string' })).toBe(1);
    // oneOf and anyOf grow with the square of their branches, an enum with that of its values.
    expect(schemaCompileCost(branches(600))).toBeGreaterThan(4 * schemaCompileCost(branches(150)));
    const values = (n: number) => ({ enum: Array.from({ length: n }, (_, i) => `v${i}`) });
    expect(schemaCompileCost(values(10_000))).toBeGreaterThan(1_500);
    expect(schemaCompileCost(values(100))).toBe(3);
    let deep: unknown = { type: 'string' };
    for (let i = 0; i < SCHEMA_MAX_DEPTH; i++) deep = { not: deep };
    expect(schemaCompileCost(deep)).toBeLessThan(100);
    expect(schemaCompileCost({ items: [deep] })).toBe(Infinity);
    // Counting stops once past the limit asked for.
    expect(schemaCompileCost(branches(10_000), 1_500)).toBeLessThan(400_000);
  });

  it('refuses, at its field, a schema that would hold the event loop, before ajv sees it', async () => {
    const problems = await validateRoute(route(branches(3000)), resources());
    expect(problems).toEqual([
      {
        pointer: '/pipeline/0/validate/schema',
        message: expect.stringMatching(
          /^is too large to compile: the document's schemas may cost 1500 together/,
        ),
      },
    ]);
    let deep: unknown = { type: 'string' };
    for (let i = 0; i <= SCHEMA_MAX_DEPTH; i++) deep = { type: 'array', items: deep };
    expect((await validateRoute(route(deep), resources()))[0].message).toBe(
      `is nested more than ${SCHEMA_MAX_DEPTH} levels deep`,
    );
  });

  it('holds every validate stage of a document to one budget', async () => {
    const half = branches(500); // about 1,380 each
    expect(await validateRoute(route(half), resources())).toEqual([]);
    const problems = await validateRoute(route(half, half, { type: 'object' }), resources());
    expect(problems.map((p) => p.pointer)).toEqual(['/pipeline/1/validate/schema']);
  });

  it('checks $refs without copying what they point at', async () => {
    const schema = {
      $defs: {
        address: { type: 'object', required: ['city'], properties: { city: { type: 'string' } } },
      },
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: 200 }, (_, i) => [`a${i}`, { $ref: '#/$defs/address' }]),
      ),
    };
    expect(
      (await outcome(schema, { a0: { city: 'Berlin' }, a199: { city: 'Köln' } })).outcome,
    ).toBe('deliver');
    const failed = await outcome(schema, { a7: { town: 'Berlin' } });
    expect(failed.outcome === 'error' && failed.error.message).toBe(
      "body does not match the schema: /a7 must have required property 'city'",
    );
  });
});

describe('validate: a stored version and the compile budget', () => {
  it('runs a stored version whatever its schema costs (it may predate the budget)', async () => {
    const doc = {
      id: 'old',
      source: { type: 'http', path: 'old' },
      pipeline: [
        { validate: { schema: { oneOf: Array.from({ length: 700 }, (_, i) => ({ const: i })) } } },
      ],
      destinations: [{ type: 'log' }],
    };
    const resources = testResources({ protocols: CONNECTORS });
    await expect(compileRoute(doc, resources)).rejects.toThrow(/is too large to compile/);
    const compiled = await compileRoute(doc, resources, {
      schemaCostLimit: Infinity,
      clock: () => 0,
    });
    expect((await compiled.run(envelopeOf(699))).outcome).toBe('deliver');
    expect((await compiled.run(envelopeOf(700))).outcome).toBe('error');
  });
});

describe('validate: a schema runs within the message budget', () => {
  /** 2^n evaluations of the last def on any body: n = 28 held the event loop 4.5 s. */
  const doubling = (n: number) => {
    const defs: Record<string, unknown> = { [`d${n}`]: { type: 'string' } };
    for (let i = 0; i < n; i++)
      defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] };
    return { $defs: defs, $ref: '#/$defs/d0' };
  };
  /** A clock that moves 1 ms on every read, and counts them. */
  const ticking = () => {
    const clock = Object.assign(() => ++clock.reads, { reads: 0 });
    return clock;
  };

  it('stops a schema that would run for hours at the deadline, as EXPRESSION_LIMIT', async () => {
    const clock = ticking();
    const compiled = await compileRoute(
      route(doubling(60)),
      testResources({ protocols: CONNECTORS }),
      { clock, messageBudgetMs: 100 },
    );
    for (const body of ['a string', 1]) {
      clock.reads = 0;
      const result = await compiled.run(envelopeOf(body));
      expect(result.outcome).toBe('error');
      if (result.outcome !== 'error') return;
      expect(result.error.code).toBe('EXPRESSION_LIMIT');
      expect(result.error.where).toBe('/pipeline/0 (validate)');
      expect(result.error.message).toMatch(/^the JSON Schema ran past the message's 100 ms/);
      // The clock is read at the start and on every 8th subschema: about 100 reads, 800 steps.
      expect(clock.reads).toBeGreaterThan(100);
      expect(clock.reads).toBeLessThan(110);
    }
  });

  it('lets a schema within the budget give its own answer', async () => {
    const compiled = await compileRoute(
      route(doubling(6)),
      testResources({ protocols: CONNECTORS }),
      { clock: ticking(), messageBudgetMs: 1000 },
    );
    expect((await compiled.run(envelopeOf('a string'))).outcome).toBe('deliver');
    const failed = await compiled.run(envelopeOf(1));
    expect(failed.outcome === 'error' && failed.error.code).toBe('SCHEMA_FAILED');
  });

  it('marks schemas only: values, property names and maps keep their meaning', async () => {
    const schema = {
      $comment: 'the author',
      type: 'object',
      required: ['$comment'],
      properties: {
        $comment: { const: { $comment: 'x', a: [1] } },
        e: { enum: [{ b: 1 }, [{ c: 2 }]] },
        d: { default: { z: 1 }, examples: [{ y: 2 }], type: ['string', 'null'] },
      },
      patternProperties: { '^p': { type: 'integer' } },
      dependentRequired: { e: ['d'] },
      dependencies: { d: ['e'], p1: { required: ['e'] } },
      additionalProperties: false,
      'x-extension': { any: { thing: true } },
    };
    const marked = markSubschemas(schema);
    const at = (...keys: string[]): unknown =>
      keys.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], marked);
    expect(at('$comment')).toBe(STEP_MARK);
    expect(at('properties', '$comment', '$comment')).toBe(STEP_MARK);
    expect(at('properties', '$comment', 'const')).toEqual({ $comment: 'x', a: [1] });
    expect(at('properties', 'e', 'enum')).toEqual([{ b: 1 }, [{ c: 2 }]]);
    expect(at('properties', 'd', 'default')).toEqual({ z: 1 });
    expect(at('properties', 'd', 'examples')).toEqual([{ y: 2 }]);
    expect(at('dependentRequired')).toEqual({ e: ['d'] });
    expect(at('dependencies', 'd')).toEqual(['e']);
    expect(at('dependencies', 'p1', '$comment')).toBe(STEP_MARK);
    expect(Object.keys(at('properties') as object)).toEqual(['$comment', 'e', 'd']);
    expect(at('patternProperties', '^p', '$comment')).toBe(STEP_MARK);
    expect(schema.properties.$comment.const.$comment).toBe('x'); // the original is not touched
    const body = { $comment: { $comment: 'x', a: [1] }, e: { b: 1 }, d: null, p1: 3 };
    expect((await outcome(schema, body)).outcome).toBe('deliver');
    for (const wrong of [
      { ...body, $comment: { a: [1] } },
      { ...body, e: [{ c: 2, $comment: STEP_MARK }] },
      { ...body, p1: 'x' },
      { ...body, extra: 1 },
      { e: { b: 1 } },
    ])
      expect((await outcome(schema, wrong)).outcome).toBe('error');
  });

  it('refuses a $ref into a value, which would run as a schema unmarked', async () => {
    const problems = await validateRoute(
      route({
        $defs: { a: { enum: [{ allOf: [{ $ref: '#/$defs/a/enum/0' }] }] } },
        properties: { b: { $ref: '#/$defs/a/enum/0' }, c: { $ref: '#/$defs/a' } },
      }),
      testResources({ protocols: CONNECTORS }),
    );
    expect(problems.map((p) => p.pointer)).toEqual([
      '/pipeline/0/validate/schema/properties/b/$ref',
    ]);
    expect(problems[0].message).toMatch(/must point at a schema, not into a value/);
    // A stored version (the worker compiles it without the save-time checks) still runs.
    const stored = await compileRoute(
      route({ $defs: { a: { enum: [{ type: 'string' }] } }, $ref: '#/$defs/a/enum/0' }),
      testResources({ protocols: CONNECTORS }),
      { schemaCostLimit: Infinity, clock: () => 0 },
    );
    expect((await stored.run(envelopeOf('x'))).outcome).toBe('deliver');
    expect((await stored.run(envelopeOf(1))).outcome).toBe('error');
  });
});

describe('validate: the JSON Schema dialect', () => {
  const resources = () => testResources({ protocols: CONNECTORS });
  const stored = async (schema: unknown, body: unknown) =>
    (
      await compileRoute(route(schema), resources(), { clock: () => 0, schemaCostLimit: Infinity })
    ).run(envelopeOf(body));
  const D2020 = 'https://json-schema.org/draft/2020-12/schema';

  it('reads a schema without $schema as draft 2020-12: its keywords are applied, not ignored', async () => {
    const closed = { type: 'object', properties: { id: {} }, unevaluatedProperties: false };
    expect((await outcome(closed, { id: 1 })).outcome).toBe('deliver');
    const extra = await outcome(closed, { id: 1, pan: 'x' });
    expect(extra.outcome === 'error' && extra.error.message).toMatch(
      /must NOT have unevaluated properties/,
    );
    const paired = { dependentRequired: { card: ['expiry'] } };
    expect((await outcome(paired, { card: 'c' })).outcome).toBe('error');
    expect((await outcome(paired, { card: 'c', expiry: '12/30' })).outcome).toBe('deliver');
    const tuple = { type: 'array', prefixItems: [{ type: 'string' }], items: { type: 'number' } };
    expect((await outcome(tuple, ['a', 1, 2])).outcome).toBe('deliver');
    expect((await outcome(tuple, [1])).outcome).toBe('error');
    expect((await outcome(tuple, ['a', 'b'])).outcome).toBe('error');
  });

  it('takes the dialect a schema names, in either spelling of its address', async () => {
    for (const $schema of [D2020, `${D2020}#`, 'http://json-schema.org/draft/2020-12/schema']) {
      expect(await validateRoute(route({ $schema, type: 'string' }), resources())).toEqual([]);
      expect((await outcome({ $schema, type: 'string' }, 1)).outcome).toBe('error');
    }
    const d2019 = 'https://json-schema.org/draft/2019-09/schema';
    expect(
      (await outcome({ $schema: d2019, dependentRequired: { a: ['b'] } }, { a: 1 })).outcome,
    ).toBe('error');
    for (const $schema of [
      'http://json-schema.org/draft-07/schema#',
      'https://json-schema.org/draft-06/schema',
    ]) {
      // A list under `items` is a tuple in these drafts.
      const tuple = { $schema, type: 'array', items: [{ type: 'string' }] };
      expect(await validateRoute(route(tuple), resources())).toEqual([]);
      expect((await outcome(tuple, ['a', 1])).outcome).toBe('deliver');
      expect((await outcome(tuple, [1])).outcome).toBe('error');
    }
  });

  it('refuses a dialect it does not read, at $schema, and an older draft`s list under items with a hint', async () => {
    for (const $schema of [
      'http://json-schema.org/draft-04/schema#',
      'https://example.com/my-dialect',
      42,
    ]) {
      const problems = await validateRoute(route({ $schema, type: 'string' }), resources());
      expect(problems).toEqual([
        expect.objectContaining({
          pointer: '/pipeline/0/validate/schema/$schema',
          message: expect.stringMatching(
            /names a dialect Junction does not read: use https:\/\/json-schema\.org\/draft\/2020-12/,
          ),
        }),
      ]);
    }
    const problems = await validateRoute(route({ items: [{ type: 'string' }] }), resources());
    expect(problems).toEqual([
      expect.objectContaining({
        pointer: '/pipeline/0/validate/schema',
        message: expect.stringMatching(/a list of them is `prefixItems`, or name draft-07/),
      }),
    ]);
  });

  it("takes 2020-12's and 2019-09's anchors and dynamic references (their meta-schemas' patterns are not the route's)", async () => {
    // A tree whose nodes an extending schema may close: the meta-schema checks $dynamicAnchor,
    // $anchor and $id with patterns, which the stage's guarded regex engine refused ("was not
    // checked for catastrophic backtracking") and counted against the document's 100 regexes.
    const tree = {
      $id: 'https://example.com/tree',
      $dynamicAnchor: 'node',
      type: 'object',
      properties: { data: true, children: { type: 'array', items: { $dynamicRef: '#node' } } },
    };
    const strict = {
      $id: 'https://example.com/strict-tree',
      $dynamicAnchor: 'node',
      $ref: 'tree',
      unevaluatedProperties: false,
      $defs: { tree },
    };
    expect(await validateRoute(route(strict), resources())).toEqual([]);
    expect((await outcome(strict, { children: [{ data: 1, children: [] }] })).outcome).toBe(
      'deliver',
    );
    expect((await outcome(strict, { children: [{ daat: 1 }] })).outcome).toBe('error');
    const anchored = { $defs: { id: { $anchor: 'id', type: 'string' } }, $ref: '#id' };
    expect(await validateRoute(route(anchored), resources())).toEqual([]);
    expect((await outcome(anchored, 1)).outcome).toBe('error');
    const recursive = {
      $schema: 'https://json-schema.org/draft/2019-09/schema',
      $id: 'https://example.com/list',
      $recursiveAnchor: true,
      type: 'array',
      items: { $recursiveRef: '#' },
    };
    expect(await validateRoute(route(recursive), resources())).toEqual([]);
    expect((await outcome(recursive, [[], [[]]])).outcome).toBe('deliver');
    expect((await outcome(recursive, [[1]])).outcome).toBe('error');
    // Many validate stages: the meta-schema's patterns are none of the document's regexes.
    const many = Array.from({ length: 60 }, () => ({ validate: { schema: anchored } }));
    expect(await validateRoute({ ...route(true), pipeline: many }, resources())).toEqual([]);
  });

  it('stops a dynamic reference that doubles at each step at the deadline', async () => {
    const n = 60;
    const defs: Record<string, unknown> = {
      [`d${n}`]: { $dynamicAnchor: `a${n}`, type: 'string' },
    };
    for (let i = 0; i < n; i++)
      defs[`d${i}`] = {
        $dynamicAnchor: `a${i}`,
        allOf: [{ $dynamicRef: `#a${i + 1}` }, { $dynamicRef: `#a${i + 1}` }],
      };
    let reads = 0;
    const compiled = await compileRoute(route({ $defs: defs, $ref: '#/$defs/d0' }), resources(), {
      clock: () => ++reads,
      messageBudgetMs: 100,
    });
    const result = await compiled.run(envelopeOf('x'));
    expect(result.outcome === 'error' && result.error.code).toBe('EXPRESSION_LIMIT');
  });

  it('does not pull a meta-schema into a stage: it would compile and run unmarked and uncounted', async () => {
    for (const $ref of [D2020, 'http://json-schema.org/draft-07/schema#']) {
      const problems = await validateRoute(route({ $ref }), resources());
      expect(problems).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/can't resolve reference/) }),
      ]);
    }
  });

  it('runs a stored version that names no dialect and is valid only in draft-07 as it ran before', async () => {
    const tuple = { type: 'array', items: [{ type: 'string' }] };
    expect((await stored(tuple, ['a', 1])).outcome).toBe('deliver');
    expect((await stored(tuple, [1])).outcome).toBe('error');
    // One valid in 2020-12 is read as 2020-12 there too.
    const closed = { type: 'object', unevaluatedProperties: false };
    expect((await stored(closed, { a: 1 })).outcome).toBe('error');
  });
});
