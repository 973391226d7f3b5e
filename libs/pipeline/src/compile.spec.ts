// The engine's own specs check it against the real protocol map (see eslint.config.mjs).
import { CONNECTORS, type RouteSpec } from '@junction/connectors';
import { CompiledRoute, compileRoute, MESSAGE_BUDGET_MS, validateRoute } from './compile';
import { isTruthy } from './expression/truthy';
import { RouteValidationError } from './pipeline.error';
import { envelopeOf, testResources } from './testing';

const resources = testResources({ protocols: CONNECTORS });
/** Compiles (off the event loop, so asynchronously) and runs each message once that is done. */
const route = (
  pipeline: unknown[],
  destinations: unknown[] = [{ type: 'log' }],
): Pick<CompiledRoute, 'run'> => {
  const compiled = compileRoute(
    { id: 'r', source: { type: 'http', path: 'r' }, pipeline, destinations },
    resources,
  );
  compiled.catch(() => undefined); // a test that expects a failure awaits run()
  return { run: async (envelope, options) => (await compiled).run(envelope, options) };
};

describe('compileRoute', () => {
  it('throws every problem of a bad document', async () => {
    await expect(
      compileRoute({ id: 'BAD', source: {}, destinations: [] }, resources),
    ).rejects.toThrow(RouteValidationError);
  });

  describe('validate', () => {
    it('answers a document that is not an object, or has no object source, with its shape problems', async () => {
      for (const doc of [[[]], [], { id: 'r', source: 'amqp', destinations: [] }]) {
        const problems = await validateRoute(doc, resources);
        expect(problems.length).toBeGreaterThan(0);
      }
    });

    const r = route([
      {
        validate: {
          schema: {
            type: 'object',
            required: ['id'],
            properties: { id: { type: 'string' }, email: { type: 'string', format: 'email' } },
          },
        },
      },
    ]);
    it.each([
      [{ id: 'a' }, 'deliver'],
      [{ id: 'a', email: 'a@b.co' }, 'deliver'],
      [{}, 'error'],
      [{ id: 1 }, 'error'],
      [{ id: 'a', email: 'nope' }, 'error'],
      ['text', 'error'],
    ])('%j -> %s', async (body, outcome) => {
      expect((await r.run(envelopeOf(body))).outcome).toBe(outcome);
    });
    it('names what failed without echoing the value', async () => {
      const result = await r.run(envelopeOf({ id: 12345678, email: 'secret-value' }));
      expect(result.outcome === 'error' && result.error.code).toBe('SCHEMA_FAILED');
      const message = result.outcome === 'error' ? result.error.message : '';
      expect(message).toContain('/id must be string');
      expect(message).toContain('/email must match format "email"');
      expect(message).not.toContain('secret-value');
      expect(result.outcome === 'error' && result.error.where).toBe('/pipeline/0 (validate)');
    });
  });

  describe('filter', () => {
    it.each([
      ['total > 100', { total: 150 }, 'deliver'],
      ['total > 100', { total: 50 }, 'drop'],
      ['missing', {}, 'drop'],
      ['""', {}, 'drop'],
      ['0', {}, 'drop'],
      ['[]', {}, 'drop'],
      ['{}', {}, 'drop'],
      ['"x"', {}, 'deliver'],
      ['[0, 1]', {}, 'deliver'],
      ['$headers.tenant = "eu"', {}, 'deliver'],
      ['$meta.routeId = "test"', {}, 'deliver'],
    ])('%s on %j -> %s', async (expression, body, outcome) => {
      const result = await route([{ filter: expression }]).run(envelopeOf(body, { tenant: 'eu' }));
      expect(result.outcome).toBe(outcome);
      if (result.outcome === 'drop') expect(result).toMatchObject({ reason: 'filtered', stage: 0 });
    });

    it('agrees with $boolean', async () => {
      const values = [0, 1, '', 'a', [], [0], [0, 1], {}, { a: 1 }, null, true, false];
      for (const value of values) {
        const viaJsonata = await resources.expressions
          .compile('$boolean($)')
          .evaluate(value, { headers: {}, meta: {} });
        expect([value, isTruthy(value)]).toEqual([value, viaJsonata ?? false]);
      }
    });
  });

  describe('transform', () => {
    it('replaces the body and keeps id, headers and meta', async () => {
      const input = envelopeOf({ a: 1, b: { c: 2 } }, { h: 'v' });
      const result = await route([{ transform: '{ "sum": a + b.c, "h": $headers.h }' }]).run(input);
      expect(result.outcome).toBe('deliver');
      if (result.outcome !== 'deliver') return;
      expect(result.deliveries[0].envelope).toEqual({ ...input, body: { sum: 3, h: 'v' } });
      expect(input.body).toEqual({ a: 1, b: { c: 2 } });
    });
    it('fails when the expression yields nothing', async () => {
      const result = await route([{ transform: 'nothing.here' }]).run(envelopeOf({}));
      expect(result.outcome === 'error' && result.error.message).toMatch(/produced no value/);
    });
    it('fails a message on a runtime error and says where', async () => {
      const result = await route([{ filter: 'true' }, { transform: '$number("abc")' }]).run(
        envelopeOf({}),
      );
      expect(result.outcome).toBe('error');
      if (result.outcome !== 'error') return;
      expect(result.error.code).toBe('EXPRESSION_FAILED');
      expect(result.error.where).toBe('/pipeline/1 (transform)');
      expect(result.error.message).toMatch(/D3030/);
    });
  });

  describe('destinations', () => {
    const destinations = [
      { type: 'kafka', connection: 'k', topic: 'big', key: 'orderId', when: 'amount >= 1000' },
      {
        type: 'amqp',
        connection: 'r',
        exchange: 'orders',
        routingKey: '"eu." & $lowercase(country)',
      },
      { type: 'amqp', connection: 'r', queue: 'audit.copy' },
      { type: 'kafka', connection: 'k', topic: 'keyless' },
    ];
    it('routes by content and evaluates keys', async () => {
      const result = await route([], destinations).run(
        envelopeOf({ orderId: 'o1', amount: 5000, country: 'DE' }),
      );
      expect(result.outcome).toBe('deliver');
      if (result.outcome !== 'deliver') return;
      expect(result.deliveries.map((d) => [d.index, d.key, d.routingKey])).toEqual([
        [0, 'o1', undefined],
        [1, undefined, 'eu.de'],
        [2, undefined, undefined],
        [3, undefined, undefined],
      ]);
      const small = await route([], destinations).run(
        envelopeOf({ orderId: 'o2', amount: 5, country: 'FR' }),
      );
      expect(small.deliveries.map((d) => d.index)).toEqual([1, 2, 3]);
    });
    it('numeric keys become strings, a missing key means no key', async () => {
      const r = route([], [{ type: 'kafka', connection: 'k', topic: 't', key: 'n' }]);
      expect((await r.run(envelopeOf({ n: 42 }))).deliveries[0].key).toBe('42');
      expect((await r.run(envelopeOf({}))).deliveries[0].key).toBeNull();
    });
    it('a routing key that is not a string fails the message', async () => {
      const result = await route(
        [],
        [{ type: 'amqp', connection: 'r', exchange: 'x', routingKey: 'n' }],
      ).run(envelopeOf({ n: 1 }));
      expect(result.outcome === 'error' && result.error.where).toBe('/destinations/0');
    });
    it('no matching destination is reported as unroutable', async () => {
      const result = await route([], [{ type: 'log', when: 'false' }]).run(envelopeOf({}));
      expect(result).toMatchObject({ outcome: 'drop', reason: 'unroutable' });
    });
  });

  describe('trace', () => {
    it('records each stage input, output and time', async () => {
      const r = route([
        { filter: 'true' },
        { transform: '{"x": a}' },
        { mask: [{ path: 'x', with: 'redact' }] },
      ]);
      const result = await r.run(envelopeOf({ a: 1 }), { trace: true });
      expect(result.trace?.map((t) => [t.kind, t.input, t.output])).toEqual([
        ['filter', { a: 1 }, { a: 1 }],
        ['transform', { a: 1 }, { x: 1 }],
        ['mask', { x: 1 }, { x: '[REDACTED]' }],
      ]);
      expect(result.trace?.every((t) => t.durationMs >= 0)).toBe(true);
    });
    it('records the failing stage', async () => {
      const result = await route([{ transform: '$error("boom")' }]).run(envelopeOf({}), {
        trace: true,
      });
      expect(result.trace).toEqual([
        expect.objectContaining({
          kind: 'transform',
          error: { code: 'EXPRESSION_FAILED', message: expect.stringContaining('boom') },
        }),
      ]);
    });
    it('is off by default', async () => {
      expect((await route([{ filter: 'true' }]).run(envelopeOf({}))).trace).toBeUndefined();
    });
  });

  it('keeps the document it was compiled from', async () => {
    const doc: RouteSpec = {
      id: 'keep',
      source: { type: 'http', path: 'k' },
      destinations: [{ type: 'log' }],
    };
    expect((await compileRoute(doc, resources)).document).toBe(doc);
  });
});

describe('a message has one time budget for all its stages', () => {
  /** A clock that moves 30 ms on every read: each stage is then a 30 ms one. */
  const stepping = () => {
    let now = 0;
    return () => (now += 30);
  };
  const stages = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ transform: `$merge([$, {"s${i}": ${i}}])` }));
  const doc = (n: number) => ({
    id: 'budget',
    source: { type: 'http', path: 'budget' },
    pipeline: stages(n),
    destinations: [{ type: 'log', when: 's0 = 0' }],
  });

  it('fails the message at the stage that spends it, as EXPRESSION_LIMIT', async () => {
    const route = await compileRoute(doc(20), resources, {
      clock: stepping(),
      messageBudgetMs: 100,
    });
    const result = await route.run(envelopeOf({}));
    expect(result.outcome).toBe('error');
    if (result.outcome !== 'error') return;
    expect(result.error.code).toBe('EXPRESSION_LIMIT');
    expect(result.error.message).toMatch(/took over 100 ms for this message together/);
    // Read at the start (30), then after each stage: 60, 90, 120, 150 > 30 + 100 after the fourth.
    expect(result.error.where).toBe('/pipeline/3 (transform)');
  });

  it('counts the destinations too, and lets a message within it through', async () => {
    const spent = await compileRoute(doc(3), resources, { clock: stepping(), messageBudgetMs: 90 });
    const failed = await spent.run(envelopeOf({}));
    expect(failed.outcome === 'error' && failed.error.where).toBe('/destinations/0');
    const within = await compileRoute(doc(3), resources, {
      clock: stepping(),
      messageBudgetMs: 200,
    });
    expect((await within.run(envelopeOf({}))).outcome).toBe('deliver');
  });

  it('is 250 ms by default, on the monotonic clock', async () => {
    expect(MESSAGE_BUDGET_MS).toBe(250);
    const route = await compileRoute(doc(50), resources);
    expect((await route.run(envelopeOf({}))).outcome).toBe('deliver');
  });
});

describe('validateRoute on a document with many bad parts', () => {
  it('asks each problem once, not once per part (30,000 unknown stages held the event loop 64 s)', async () => {
    const stages = 2_000;
    const doc = {
      id: 'r',
      source: { type: 'http', path: 'r' },
      pipeline: [
        ...Array.from({ length: stages }, (_, i) => ({ bogus: i })),
        { transform: '{"ok": true}' },
      ],
      destinations: [{ type: 'log' }, { type: 'log', when: 'ok' }],
    };
    // Which parts are sound was asked of every problem for every part: n² prefix tests.
    const startsWith = jest.spyOn(String.prototype, 'startsWith');
    let problems: Awaited<ReturnType<typeof validateRoute>>;
    try {
      problems = await validateRoute(doc, resources);
      expect(startsWith.mock.calls.length).toBeLessThan(10 * stages);
    } finally {
      startsWith.mockRestore();
    }
    expect(problems).toHaveLength(stages);
    expect(problems[0]).toEqual({
      pointer: '/pipeline/0/bogus',
      message: expect.stringMatching(/^is not a known stage kind/),
    });
    expect(problems.at(-1)!.pointer).toBe(`/pipeline/${stages - 1}/bogus`);
  });

  it('still compiles the sound parts beside the unsound ones', async () => {
    const problems = await validateRoute(
      {
        id: 'r',
        source: { type: 'http', path: 'r' },
        pipeline: [{ bogus: 1 }, { filter: '(' }, { transform: 7 }],
        destinations: [{ type: 'log', when: ')' }],
      },
      resources,
    );
    expect(problems.map((p) => p.pointer)).toEqual([
      '/pipeline/0/bogus',
      '/pipeline/1/filter',
      '/pipeline/2/transform',
      '/destinations/0/when',
    ]);
  });
});
