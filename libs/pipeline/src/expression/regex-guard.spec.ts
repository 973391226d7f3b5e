// The engine's own specs check it against the real protocol map (see eslint.config.mjs).
import { CONNECTORS } from '@junction/connectors';
import { performance } from 'node:perf_hooks';
import { compileRoute, validateRoute } from '../compile';
import { envelopeOf, testResources } from '../testing';
import { JsonataEngine } from './jsonata.expression';
import { GuardedPattern, RegexInputTooLong } from './regex-guard';

/** A document whose one filter holds the given expression. */
const withFilter = (filter: string, more: string[] = []) => ({
  id: 'r',
  source: { type: 'http', path: 'r' },
  pipeline: [{ filter }, ...more.map((f) => ({ filter: f }))],
  destinations: [{ type: 'log' }],
});

/** Patterns recheck needs seconds for (counted repetition inside counted repetition). */
const slow = (n: number) => `(a{1,${30 + n}}b{1,${30 + n}}){1,${30 + n}}c`;

/** Runs `work` while timing the event loop: the longest gap between two 5 ms ticks. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return worst;
}

describe('regular expressions of a route document are analysed off the event loop', () => {
  const engine = new JsonataEngine({ regexBudgetMs: 1000, regexPerPatternMs: 500 });
  const resources = testResources({ expressions: engine, protocols: CONNECTORS });

  it('refuses slow-to-analyse patterns over the budget, at their field, without stalling the thread', async () => {
    // A budget of 3 s: analysed on this thread, the patterns would hold it that long, far from the
    // bound below, which leaves room for a loaded machine (a CI run once saw 480 ms).
    const patient = testResources({
      expressions: new JsonataEngine({ regexBudgetMs: 3000, regexPerPatternMs: 1500 }),
      protocols: CONNECTORS,
    });
    const seed = Math.floor(performance.now()) % 1000; // fresh patterns: none cached
    const doc = withFilter(`$match(a, /${slow(seed)}/) or $match(a, /${slow(seed + 1)}/)`, [
      `$match(a, /${slow(seed + 2)}/)`,
      `$match(a, /${slow(seed + 3)}/)`,
    ]);
    let problems: Awaited<ReturnType<typeof validateRoute>> = [];
    const stall = await longestStall(async () => {
      problems = await validateRoute(doc, patient);
    });
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) {
      expect(p.pointer).toMatch(/^\/pipeline\/[0-3]\/filter$/);
      expect(p.message).toMatch(/could not be analysed within|analysis budget/);
    }
    // Analysed here, the patterns would hold the thread for the whole budget (3 s and more); the
    // e2e test holds the gateway to 100 ms.
    expect(stall).toBeLessThan(1500);
  }, 30_000);

  it('caps the regular expressions of one document, whatever their number beyond it', async () => {
    for (const count of [101, 3000]) {
      const parts: string[] = [];
      // Spread over several filters, each under the source-length limit.
      const terms = Array.from({ length: count }, (_, i) => `$contains(a, /q${i}z/)`);
      for (let i = 0; i < terms.length; i += 200) parts.push(terms.slice(i, i + 200).join(' or '));
      const problems = await validateRoute(withFilter(parts[0], parts.slice(1)), resources);
      expect(problems).toEqual([
        expect.objectContaining({
          message: 'more than 100 regular expressions in one route document; use fewer',
        }),
      ]);
      expect(problems[0].pointer).toMatch(/^\/pipeline\/\d+\/filter$/);
    }
  }, 30_000);

  it('refuses an expression longer than the source limit at its field', async () => {
    const long = Array.from({ length: 2000 }, (_, i) => `a = ${i}`).join(' or ');
    const problems = await validateRoute(withFilter('true', [long]), resources);
    expect(problems).toEqual([
      {
        pointer: '/pipeline/1/filter',
        message: expect.stringMatching(/over the 8192-character limit/),
      },
    ]);
  });

  it('accepts safe and polynomial patterns and reports exponential ones with the others', async () => {
    const problems = await validateRoute(
      withFilter('$match(a, /^[a-z]+@[a-z]+$/) and $match(a, /(\\w+)\\s(\\w+)/)', [
        '$match(a, /(a|a)*b/)',
      ]),
      resources,
    );
    expect(problems).toEqual([
      { pointer: '/pipeline/1/filter', message: expect.stringMatching(/exponential time/) },
    ]);
  });
});

describe('repetition around an unbounded quantifier is bounded by the pattern, not by recheck alone', () => {
  // recheck rates /(.*a){20}/ as degree 2 (20,000 characters allowed): 17 s on 'a'*19 + 'b'*19,981.
  // Analysis budgets far above the defaults: these verdicts must not depend on the machine's load
  // (a CI run that loaded every core timed the analysis out at 1,500 ms).
  const resources = testResources({
    protocols: CONNECTORS,
    expressions: new JsonataEngine({ regexBudgetMs: 20_000, regexPerPatternMs: 20_000 }),
  });

  it('refuses /(.*a){20}/ in an expression and in a schema pattern', async () => {
    const refused = expect.stringMatching(
      /^regular expression \/\(\.\*a\)\{20\}\/ can take polynomial time of degree up to 21 on some inputs \(ReDoS\), so it could run only on strings up to 2 characters; rewrite it/,
    );
    expect(await validateRoute(withFilter('$match(a, /(.*a){20}/)'), resources)).toEqual([
      { pointer: '/pipeline/0/filter', message: refused },
    ]);
    expect(
      await validateRoute(
        {
          id: 's',
          source: { type: 'http', path: 's' },
          pipeline: [{ validate: { schema: { type: 'string', pattern: '(.*a){20}' } } }],
          destinations: [{ type: 'log' }],
        },
        resources,
      ),
    ).toEqual([{ pointer: '/pipeline/0/validate/schema', message: refused }]);
  }, 30_000);

  it('caps a modest nested pattern by its own degree, and keeps legitimate patterns', async () => {
    const route = await compileRoute(
      withFilter(
        [
          '$match(a, /(.*a){2}/) and $match(b, /^(\\d+,)*\\d+$/) and $match(c, /^[A-Z]{3}$/)',
          '$match(d, /\\d{4}-\\d{2}/) and $match(e, /^[\\w.+-]+@[\\w-]+\\.[\\w.-]+$/)',
        ].join(' and '),
      ),
      resources,
    );
    const body = { b: '1,22,333', c: 'ABC', d: '2024-05', e: 'a.b@c.de' };
    // (.*a){2} runs as degree 3 (recheck says 2): up to 736 characters, not 20,000.
    expect((await route.run(envelopeOf({ ...body, a: 'xaya' }))).outcome).toBe('deliver');
    const long = await route.run(envelopeOf({ ...body, a: 'a' + 'b'.repeat(800) }));
    expect(long.outcome === 'error' && long.error.message).toMatch(
      /runs only on strings up to 736 characters, this one has 801/,
    );
    const ids = await route.run(envelopeOf({ ...body, a: 'aa', b: '1,'.repeat(50_000) + '1' }));
    expect(ids.outcome).toBe('deliver');
  }, 30_000);
});

describe('JSON Schema patterns of a validate stage go through the same analysis', () => {
  const resources = testResources({ protocols: CONNECTORS });
  const schemaRoute = (schema: unknown) => ({
    id: 's',
    source: { type: 'http', path: 's' },
    pipeline: [{ validate: { schema } }],
    destinations: [{ type: 'log' }],
  });

  it.each([
    ['pattern', { type: 'string', pattern: '^(a+)+$' }],
    [
      'patternProperties',
      { type: 'object', patternProperties: { '^(\\w+\\s?)+$': { type: 'string' } } },
    ],
  ])('refuses an exponential %s at the schema', async (_kind, schema) => {
    expect(await validateRoute(schemaRoute(schema), resources)).toEqual([
      {
        pointer: '/pipeline/0/validate/schema',
        message: expect.stringMatching(/exponential time/),
      },
    ]);
  });

  it('runs a safe pattern on message data, and a polynomial one only on short strings', async () => {
    const route = await compileRoute(
      schemaRoute({
        type: 'object',
        properties: { a: { pattern: '^[a-z]+$' }, b: { pattern: '(\\w+)\\s(\\w+)' } },
      }),
      resources,
    );
    expect((await route.run(envelopeOf({ a: 'abc', b: 'John Smith' }))).outcome).toBe('deliver');
    expect((await route.run(envelopeOf({ a: 'ABC' }))).outcome).toBe('error');
    const started = performance.now();
    const hostile = await route.run(envelopeOf({ b: 'a'.repeat(100_000) + '!' }));
    expect(hostile.outcome === 'error' && hostile.error.code).toBe('EXPRESSION_LIMIT');
    // Unguarded, this backtracks for about 10 s on this machine; refused, it takes milliseconds.
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

describe('GuardedPattern', () => {
  it('runs only as its set allows it at each test (refused, then allowed, then capped)', () => {
    const pattern = new GuardedPattern('^[a-z]+$', '');
    expect(() => pattern.test('abc')).toThrow(RegexInputTooLong);
    pattern.regexes.allow(/^[a-z]+$/, Infinity);
    expect(pattern.test('abc')).toBe(true);
    expect(pattern.test('ABC')).toBe(false);
    pattern.regexes.allow(/^[a-z]+$/, 2);
    expect(() => pattern.test('abc')).toThrow(RegexInputTooLong);
    expect(pattern.test('ab')).toBe(true);
  });
});
