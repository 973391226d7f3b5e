import { readFileSync } from 'node:fs';
// The engine's own specs check it against the real protocol map (see eslint.config.mjs).
import { CONNECTORS } from '@junction/connectors';
import { compileRoute } from '../compile';
import { PipelineError } from '../pipeline.error';
import { envelopeOf, testResources } from '../testing';
import { ExpressionCompileError } from './expression';
import jsonata from 'jsonata';
import { JsonataEngine } from './jsonata.expression';

const TIMEOUT_MS = 50;
const engine = new JsonataEngine({ timeoutMs: TIMEOUT_MS });
const bindings = { headers: {}, meta: {} };
/**
 * How long a refused evaluation may take in these tests. Unbounded, each case here runs for
 * minutes or forever; a refusal proves the limit cut it short. The bound is far above the limit so
 * that a loaded machine (CI runs every tier at once) cannot fail it: these tests check that a
 * limit stops the work, not how fast the machine is.
 */
const STOPPED_WITHIN_MS = 5_000;

async function failure(
  source: string,
  input: unknown = {},
): Promise<{ error: PipelineError; ms: number }> {
  const expression = engine.compile(source);
  const started = performance.now();
  try {
    const result = await expression.evaluate(input, bindings);
    throw new Error(`expected a failure, got ${JSON.stringify(result)?.slice(0, 100)}`);
  } catch (err) {
    if (!(err instanceof PipelineError)) throw err;
    return { error: err, ms: performance.now() - started };
  }
}

describe('bounded JSONata evaluation', () => {
  it.each([
    [
      'endless tail recursion',
      '($f := function($x){ $f($x + 1) }; $f(0))',
      /ran longer than 50 ms/,
    ],
    ['nested 1e7 ranges', '[1..1e7].[1..1e7]', /sequence longer than 100000 items/],
    [
      'nested ranges under the sequence limit',
      '[1..99999].[1..99999]',
      /ran longer than 50 ms|sequence longer/,
    ],
    ['a huge $pad', '$pad("x", 1e9)', /\$pad width 1000000000 exceeds the 1000000-character limit/],
    [
      'a string doubled 40 times',
      '($f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; $f("xxxxxxxx", 40))',
      /runtime limit|longer than 1000000 characters/,
    ],
    ['a big sort', '$sort([1..99999], function($a, $b){ $a < $b })', /ran longer than 50 ms/],
    ['a result too big to deliver', '[1..99999].{"n": $}', /more than 200000 values|ran longer/],
  ])('%s fails fast with EXPRESSION_LIMIT', async (_name, source, message) => {
    const { error, ms } = await failure(source);
    expect(error.code).toBe('EXPRESSION_LIMIT');
    expect(error.message).toMatch(message);
    expect(ms).toBeLessThan(STOPPED_WITHIN_MS);
  });

  it('infinite recursion stops at the depth limit with EXPRESSION_LIMIT', async () => {
    // Under a time limit far above the depth's: on a loaded machine (CI runs every tier at once)
    // 250 levels once took more than 50 ms, and the time limit answered first.
    const patient = new JsonataEngine({ timeoutMs: 60_000 });
    const expression = patient.compile('($f := function($x){ $f($x + 1) + 1 }; $f(0))');
    const error = await expression.evaluate({}, bindings).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).code).toBe('EXPRESSION_LIMIT');
    expect((error as PipelineError).message).toMatch(/nested deeper than 250 levels/);
  });

  it('refuses a catastrophic regex when the expression is settled', async () => {
    await expect(engine.compileChecked('$match(name, /(a+)+$/)')).rejects.toThrow(
      ExpressionCompileError,
    );
    await expect(engine.compileChecked('$replace(name, /(x+x+)+y/, "")')).rejects.toThrow(
      /exponential time/,
    );
  });

  it('runs no regex that was not settled (as one $eval builds from data)', async () => {
    const unsettled = engine.compile('$match(name, /a+b/)');
    const error = (await unsettled
      .evaluate({ name: 'aab' }, bindings)
      .catch((e: unknown) => e)) as PipelineError;
    expect(error.code).toBe('EXPRESSION_LIMIT');
    expect(error.message).toMatch(/was not checked/);
    const viaEval = await engine.compileChecked('$eval(code, $)');
    const evalError = (await viaEval
      .evaluate({ code: '$match("aaaa!", /(a+)+$/)' }, bindings)
      .catch((e: unknown) => e)) as PipelineError;
    expect(evalError).toBeInstanceOf(PipelineError);
    expect(evalError.message).toMatch(/was not checked/);
    const long = await viaEval
      .evaluate({ code: Array.from({ length: 3000 }, (_, i) => `x = ${i}`).join(' or ') }, bindings)
      .catch((e: unknown) => e);
    expect((long as PipelineError).code).toBe('EXPRESSION_LIMIT');
    expect((long as PipelineError).message).toMatch(/over the 8192-character limit/);
    expect(await viaEval.evaluate({ code: '$sum([1, 2])' }, bindings)).toBe(3);
    const settled = await engine.compileChecked('$match(name, /a+b/).match');
    expect(await settled.evaluate({ name: 'aab' }, bindings)).toBe('aab');
  });

  it('runs a polynomial regex on ordinary strings and refuses it on a hostile one, quickly', async () => {
    const expression = await engine.compileChecked('$replace(s, /(\\w+)\\s(\\w+)/, "$2, $1")');
    expect(await expression.evaluate({ s: 'John Smith' }, bindings)).toBe('Smith, John');
    const started = performance.now();
    const error = await expression
      .evaluate({ s: 'a'.repeat(100_000) + '!' }, bindings)
      .catch((e: unknown) => e);
    expect((error as PipelineError).code).toBe('EXPRESSION_LIMIT');
    expect((error as PipelineError).message).toMatch(/runs only on strings up to 20000 characters/);
    expect(performance.now() - started).toBeLessThan(STOPPED_WITHIN_MS);
  });

  it('rejects deeply nested input before any expression sees it', async () => {
    let body: unknown = { leaf: true };
    for (let i = 0; i < 100_000; i++) body = { child: body };
    const route = await compileRoute(
      {
        id: 'deep',
        source: { type: 'http', path: 'd' },
        pipeline: [{ filter: '$count(**) > 0' }],
        destinations: [{ type: 'log' }],
      },
      testResources({ protocols: CONNECTORS }),
    );
    const started = performance.now();
    const result = await route.run(envelopeOf(body));
    expect(result.outcome).toBe('error');
    expect(result.outcome === 'error' && result.error.code).toBe('INPUT_REJECTED');
    expect(performance.now() - started).toBeLessThan(STOPPED_WITHIN_MS);
  });

  it('a descendant walk over input within the depth limit still works', async () => {
    let body: unknown = { leaf: 1 };
    for (let i = 0; i < 60; i++) body = { child: body };
    expect(await engine.compile('$sum(**.leaf)').evaluate(body, bindings)).toBe(1);
  });

  it('a runaway expression fails only its own message: the next one runs', async () => {
    const route = await compileRoute(
      {
        id: 'r',
        source: { type: 'http', path: 'r' },
        pipeline: [{ filter: 'bomb ? $count([1..99999].[1..99999]) > 0 : true' }],
        destinations: [{ type: 'log' }],
      },
      testResources({ expressions: engine, protocols: CONNECTORS }),
    );
    const [bad, good] = await Promise.all([
      route.run(envelopeOf({ bomb: true })),
      route.run(envelopeOf({ bomb: false })),
    ]);
    expect(bad.outcome).toBe('error');
    expect(good.outcome).toBe('deliver');
  });

  it("many evaluations in flight do not eat each other's time budget", async () => {
    // The time limit is measured by an injected stopwatch that moves one unit each time it is
    // read, so the test counts work instead of waiting on a loaded machine's clock.
    let ticks = 0;
    const stopwatch = () => ++ticks;
    const expression = new JsonataEngine({ timeoutMs: 1e9 }, { stopwatch }).compile(
      '$count([1..1000].($ * 2))',
    );
    await expression.evaluate({}, bindings);
    const one = ticks; // what one evaluation reads
    expect(one).toBeGreaterThan(10);

    const budget = 2 * one;
    const timed = new JsonataEngine({ timeoutMs: budget }, { stopwatch }).compile(
      '$count([1..1000].($ * 2))',
    );
    ticks = 0;
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => timed.evaluate({}, bindings)),
    );
    expect(ticks).toBeGreaterThan(100 * budget); // together they outlast one budget many times
    expect(results.every((r) => r === 1000)).toBe(true);

    // and the same stopwatch does stop one evaluation that outlasts its budget
    const tight = new JsonataEngine({ timeoutMs: one / 2 }, { stopwatch }).compile(
      '$count([1..1000].($ * 2))',
    );
    await expect(tight.evaluate({}, bindings)).rejects.toMatchObject({
      message: expect.stringMatching(/ran longer than/),
    });
  });

  it('stops a sequence built item by item at the sequence limit (the patched guard)', async () => {
    // patches/jsonata+2.2.2.patch (applied by npm's postinstall) shares one guarded push per
    // evaluation; the guard itself must hold as before.
    // (No array of the input is longer than the limit: each step refuses one that is.)
    const small = new JsonataEngine({ maxSequence: 5 }, { fastPath: false });
    const items = Array.from({ length: 3 }, (_, i) => ({ n: [i, i, i] }));
    await expect(small.compile('items.n').evaluate({ items }, bindings)).rejects.toMatchObject({
      code: 'EXPRESSION_LIMIT',
      message: expect.stringMatching(/sequence longer than 5 items/),
    });
    await expect(
      small.compile('items.n').evaluate({ items: items.slice(0, 1) }, bindings),
    ).resolves.toEqual([0, 0, 0]);
    expect(readFileSync(require.resolve('jsonata'), 'utf8')).toContain(
      'sequence.push = guardedPush',
    );
  });

  // Each of these builds a string or array past the limit on the way and then shrinks it: only a
  // bound on every step (not on the result) refuses them. The probe's original (25 doublings,
  // 335M characters) aborted the process inside $length.
  it.each([
    [
      'the probe: a string doubled past V8s largest array, then measured',
      '( $f := function($x,$n){ $n = 0 ? $x : $f($x & $x, $n-1) }; $length($f("aaaaaaaaaa", 25)) )',
      /string longer than 1000000 characters/,
    ],
    [
      'a string doubled 21 times, then measured',
      '( $f := function($x,$n){ $n = 0 ? $x : $f($x & $x, $n-1) }; $length($f("aaaaaaaaaa", 21)) )',
      /string longer than 1000000 characters/,
    ],
    [
      '& of two long strings',
      '$length($pad("x", 900000) & $pad("y", 900000))',
      /string longer than 1000000 characters/,
    ],
    [
      '& of an array whose JSON is too long',
      '$length([$pad("x", 600000), $pad("y", 600000)] & "")',
      /& would build a string longer than 1000000 characters/,
    ],
    [
      '$string',
      '$length($string([$pad("x", 600000), $pad("y", 600000)]))',
      /string longer than 1000000 characters/,
    ],
    [
      '$join',
      '$length($join([$pad("x", 900000), $pad("y", 900000)]))',
      /string longer than 1000000 characters/,
    ],
    [
      '$replace',
      '$length($replace($pad("", 1000, "a"), "a", $pad("", 5000, "b")))',
      /string longer than 1000000 characters/,
    ],
    [
      '$uppercase',
      '$length($uppercase($pad("", 600000, "ß")))',
      /string longer than 1000000 characters/,
    ],
    [
      'a $fromMillis picture width',
      '$length($fromMillis(0, "[Y,5000000]"))',
      /\$fromMillis picture pads to 5000000 characters/,
    ],
    [
      'a $now picture width',
      '$length($now("[Y,600000][M,600000]"))',
      /\$now picture pads to 1200000 characters/,
    ],
  ])('no step builds past the size limits: %s', async (_name, source, message) => {
    const { error, ms } = await failure(source);
    expect(error.code).toBe('EXPRESSION_LIMIT');
    expect(error.message).toMatch(message);
    expect(ms).toBeLessThan(STOPPED_WITHIN_MS);
  });

  it('the same functions under the limits answer as in JSONata', async () => {
    const run = (source: string) => engine.compile(source).evaluate({ a: [1, 2.5] }, bindings);
    expect(await run('$fromMillis(0, "[Y,6]-[M01] [[x,99999999]]")')).toBe(
      '001970-01 [x,99999999]',
    );
    expect(await run('$string({"a": a, "f": function(){1}})')).toBe('{"a":[1,2.5],"f":""}');
    expect(await run('$join(["a", "b"], "-") & $string(a)')).toBe('a-b[1,2.5]');
    expect(await run('$reduce([[1, 2], [3]], $append)')).toEqual([1, 2, 3]);
    expect(await run('$length($pad("x", 500000) & $pad("y", 500000))')).toBe(1_000_000);
  });

  it('$pad within limits behaves as in JSONata', async () => {
    expect(await engine.compile('$pad("foo", 5, "#")').evaluate({}, bindings)).toBe('foo##');
    expect(await engine.compile('$pad("foo", -5)').evaluate({}, bindings)).toBe('  foo');
  });
});

describe('the fast path keeps within the same limits', () => {
  const isFast = (source: string) =>
    (engine.compile(source) as unknown as { isFast: boolean }).isFast;

  it('refuses recursion: a lambda sees only what was bound before it', () => {
    expect(isFast('($f := function($x){ $f($x + 1) + 1 }; $f(0))')).toBe(false);
    expect(isFast('($f := function($x){ $g($x) }; $g := function($x){ $f($x) }; $f(0))')).toBe(
      false,
    );
    expect(isFast('($g := function($x){ $x + 1 }; $f := function($x){ $g($x) }; $f(0))')).toBe(
      true,
    );
  });

  it('counts every lambda a call chain may pass through against the depth limit', async () => {
    const chain = (n: number) =>
      `($f0 := function($x){ $x }; ${Array.from(
        { length: n },
        (_, i) => `$f${i + 1} := function($x){ $f${i}($x) + 1 };`,
      ).join(' ')} $f${n}(0))`;
    expect(isFast(chain(3))).toBe(true);
    expect(await engine.compile(chain(3)).evaluate({}, bindings)).toBe(3);
    expect(isFast(chain(40))).toBe(false);
  });

  it('hands work beyond its budget to jsonata-js, whose time limit then applies', async () => {
    const source =
      '$sum($map(items, function($v){ $count($filter(items, function($w){ $w > $v })) }))';
    const roomy = new JsonataEngine({ timeoutMs: 60_000 });
    const expression = roomy.compile(source);
    const small = { items: Array.from({ length: 50 }, (_, i) => i) };
    expect(await expression.evaluateExplained!(small, bindings)).toEqual({
      value: 1225,
      engine: 'fast',
    });
    // Just past the fast path's budget (250 items stay within it): little enough work for
    // jsonata-js to finish well inside its limit on a loaded machine (1000 items once took > 60 s).
    const over = { items: Array.from({ length: 300 }, (_, i) => i) };
    expect(await expression.evaluateExplained!(over, bindings)).toEqual({
      value: 44_850,
      engine: 'jsonata',
    });
    // Quadratic work over a big array: stopped by the 50 ms limit, not run to the end.
    const { error, ms } = await failure(source, {
      items: Array.from({ length: 50_000 }, (_, i) => i),
    });
    expect(error.code).toBe('EXPRESSION_LIMIT');
    expect(error.message).toMatch(/ran longer than 50 ms/);
    expect(ms).toBeLessThan(STOPPED_WITHIN_MS);
  });

  it('stringifies nothing longer than the limit: one string referred to many times goes to jsonata-js', async () => {
    const source = '$length($string($map(items, function($v){ $$.s })))';
    expect(isFast(source)).toBe(true);
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      const input = { s: 'x'.repeat(100_000), items: Array.from({ length: 20 }, () => 1) };
      const { error } = await failure(source, input);
      expect(error.code).toBe('EXPRESSION_LIMIT');
      const longest = Math.max(
        0,
        ...stringify.mock.results.map((r) => (typeof r.value === 'string' ? r.value.length : 0)),
      );
      expect(longest).toBeLessThanOrEqual(1_000_000);
    } finally {
      stringify.mockRestore();
    }
  });

  it('builds no string over the limit: a string doubled 40 times goes to jsonata-js', async () => {
    const source = '$reduce(items, function($a, $v){ $a & $a }, "xxxxxxxx")';
    expect(isFast(source)).toBe(true);
    const { error, ms } = await failure(source, { items: Array.from({ length: 40 }, () => 1) });
    expect(error.code).toBe('EXPRESSION_LIMIT');
    expect(ms).toBeLessThan(STOPPED_WITHIN_MS);
  });
});

describe('builtins that jsonata-js runs beyond the reach of any step', () => {
  /** A time the quadratic builtins took far beyond, at the sizes below; their rewrites, far under. */
  // Under a roomy time limit: these check that the work is linear, and a loaded machine would
  // otherwise stop them at 50 ms (every builtin here is metered against the limit).
  const roomy = new JsonataEngine({ timeoutMs: 60_000 });
  const timed = async (source: string): Promise<{ result: unknown; ms: number }> => {
    const expression = roomy.compile(source);
    const started = performance.now();
    const result = await expression.evaluate({}, bindings);
    return { result, ms: performance.now() - started };
  };

  it('sorts 30,000 numbers without copying the rest of the array at each step', async () => {
    // jsonata-js's merge sliced one item off per comparison: quadratic time and memory, and its
    // default comparator is no step, so the time limit never looked (30,000: 6 s and 1 GB;
    // a viewer's 99,999 grew the gateway's heap past 4 GB and the process died).
    const { result, ms } = await timed('$sort($reverse([1..30000]))');
    expect(result).toEqual(Array.from({ length: 30_000 }, (_, i) => i + 1));
    expect(ms).toBeLessThan(STOPPED_WITHIN_MS);
  });

  it('de-duplicates 99,999 numbers in linear time', async () => {
    // jsonata-js compared each item with every one kept, in one synchronous call: 18 s.
    const { result, ms } = await timed('$count($distinct([1..99999]))');
    expect(result).toBe(99_999);
    expect(ms).toBeLessThan(STOPPED_WITHIN_MS);
  });

  it('stops a sort whose comparator is a builtin at the time limit', async () => {
    const { error, ms } = await failure('$sort($split($pad("", 99999, "a"), ""), $contains)');
    expect(error.message).toMatch(/ran longer than 50 ms/);
    expect(ms).toBeLessThan(STOPPED_WITHIN_MS);
  });

  it.each([
    '$sort([3, 1, 2, 1.5, -0, 0, 10])',
    '$sort(["b", "a", "B", "", "ab", "é"])',
    '$sort([5, 3, 9, 1], function($l, $r){ $l < $r })',
    '$sort([{"k": 2, "i": 1}, {"k": 1, "i": 2}, {"k": 2, "i": 3}], function($l, $r){ $l.k > $r.k })',
    '$sort(["ab", "b", "abc"], $contains)',
    '$sort(7)',
    '$distinct([1, "1", 1, true, true, null, null, 0, -0])',
    '$distinct([{"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, {"a": 1}, [1, 2], [1, 2], [2, 1]])',
    '$distinct([1..5].[$ % 2])',
    '$distinct("x")',
    '$count($distinct([$string, $string, $number]))',
  ])('%s answers as jsonata-js does', async (source) => {
    const reference = (await jsonata(source).evaluate({})) as unknown;
    const ours = await engine.compile(source).evaluate({}, bindings);
    // As JSON: jsonata-js's results carry its sequence flags, the engine's are plain arrays.
    expect(JSON.stringify(ours)).toBe(JSON.stringify(reference));
  });

  it('a sort with the wrong kind of array fails as in jsonata-js (D3070)', async () => {
    const { error } = await failure('$sort([1, "a"])');
    expect(error.message).toMatch(/D3070/);
  });
});

describe('no one builtin call runs past the limits', () => {
  /**
   * The time limit read from an injected stopwatch that moves one unit at each read: a builtin's
   * work is counted, not timed, so these run the same on a loaded machine. A builtin that never
   * looked at the clock (the engine before) ran each of these to the end in one synchronous call.
   */
  const counted = (timeoutMs: number) => {
    const clock = { reads: 0 };
    const engine = new JsonataEngine(
      { timeoutMs },
      { stopwatch: () => ++clock.reads, fastPath: false },
    );
    return { engine, clock };
  };
  const refused = async (source: string, input: unknown = {}) => {
    const { engine, clock } = counted(20);
    const expression = engine.compile(source);
    await engine.settle([expression]);
    const error = await expression.evaluate(input, bindings).then(
      (result) => new Error(`expected a failure, got ${JSON.stringify(result)?.slice(0, 80)}`),
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(PipelineError);
    return { error: error as PipelineError, reads: clock.reads };
  };
  const S = '$split($pad("", 999999, "a"), "")';
  const A = '$split($pad("", 99999, "a"), "")';
  // Built outside the expression, so that it takes a step or two to reach them: the limit is
  // then the builtin's to meet. One object of 2,000 keys, listed 50,000 times.
  const o = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]));
  const input = {
    o,
    big: Object.fromEntries(Array.from({ length: 99_999 }, (_, i) => [`k${i}`, i])),
    list: Array.from({ length: 50_000 }, () => o),
    lists: Array.from({ length: 1000 }, () => Array.from({ length: 99_999 }, () => o)),
    wrapped: Array.from({ length: 50_000 }, (_, i) => ({ o, i })),
  };

  it.each([
    // The probe's: each builtin on a million characters held the thread 300 to 850 ms.
    [`$count($zip(${S}, ${S}))`],
    [`$count($sort(${S}))`],
    [`$count($shuffle(${S}))`],
    [`$count(${S})`],
  ])('no step builds or reads an array longer than the sequence limit: %s', async (source) => {
    const { error } = await failure(source);
    expect(error.code).toBe('EXPRESSION_LIMIT');
    expect(error.message).toMatch(/array longer than 100000 items \(the sequence limit\)/);
  });

  it.each([
    // $spread appended with a copy per item (quadratic): 77 s for 99,999 numbers.
    ['$spread', `$count($spread([1..99999]))`],
    ['$zip', `$count($zip(${A}, ${A}, ${A}, ${A}, ${A}, ${A}, ${A}, ${A}))`],
    // A function argument that is a builtin is no step: 100,000 calls, never timed.
    ['$map', `$count($map(${A}, $uppercase))`],
    ['$filter', `$count($filter(${A}, $boolean))`],
    ['$reduce', `$reduce(${A}, $append)`],
    ['$single', `$single(${A}, $not)`],
    ['$each', `$count($each(big, $string))`],
    ['$sift', `$count($sift(big, $boolean))`],
    // One big object listed many times: every key of every listing, in one call.
    ['$merge', `$count($keys($merge(list)))`],
    ['$keys', `$count($keys(list))`],
    ['$lookup', `$count($lookup(lists, "x"))`],
    ['$distinct', `$count($distinct(wrapped))`],
    // A match loop is no step either.
    ['$replace (a string)', `$length($replace($pad("", 999999, "a"), "a", "b"))`],
    ['$replace (a regex)', `$length($replace($pad("", 999999, "a"), /a/, "b"))`],
    ['$split (a regex)', `$count($split($pad("", 999999, "a"), /a/))`],
    ['$match', `$count($match($pad("", 999999, "a"), /a/, 99999))`],
  ])('%s looks at the time limit as it works', async (_name, source) => {
    // 20 reads of the stopwatch: the few steps around the call take fewer; without the meter
    // the call ran to its end, or to another limit.
    const { error } = await refused(source, input);
    expect(error.code).toBe('EXPRESSION_LIMIT');
    expect(error.message).toMatch(/ran longer than 20 ms/);
  });

  it('the metered builtins answer as jsonata-js does', async () => {
    const sources = [
      '$spread([{"a": 1, "b": 2}, [{"c": 3}], 4, [], {"d": [5]}])',
      '$spread({"a": 1})',
      '$spread([])',
      '$spread([[]])',
      '$spread("x")',
      '$zip([1, 2, 3], [4, 5], [6, 7, 8])',
      '$zip(1, [2])',
      '$merge([{"a": 1}, {"a": 2, "b": 3}])',
      '$keys([{"a": 1}, {"b": 2, "a": 3}, [{"c": 1}]])',
      '$keys({"x": 1})',
      '$lookup([{"a": 1}, {"a": [2, 3]}, {"b": 4}, [{"a": 5}]], "a")',
      '$lookup({"a": 1}, "a")',
      '$map([1, 2, 3], function($v, $i, $a){ $v + $i + $count($a) })',
      '$map(["a", "b"], $uppercase)',
      '$filter([1, 2, 3, 4], function($v){ $v % 2 = 0 })',
      '$reduce([1, 2, 3], function($a, $b){ $a + $b }, 10)',
      '$reduce([[1], [2, 3]], $append)',
      '$single([1, 2, 3], function($v){ $v = 2 })',
      '$each({"a": 1, "b": 2}, function($v, $k){ $k & $v })',
      '$sift({"a": 1, "b": 0}, function($v){ $v })',
      '($f := $map(?, function($x){ $x * $x }); $f([1, 2, 3]))',
      '$replace("abcabc", "b", "X")',
      '$replace("abcabc", "b", "X", 1)',
      '$replace("abc", "z", "Q")',
      '$replace("abcabc", /b/, "[$0]")',
      '$count($split($pad("", 99999, "a"), ""))',
    ];
    for (const source of sources) {
      const reference = (await jsonata(source).evaluate({})) as unknown;
      const ours = await (await engine.compileChecked(source)).evaluate({}, bindings);
      expect({ source, value: JSON.stringify(ours) }).toEqual({
        source,
        value: JSON.stringify(reference),
      });
    }
  });
});
