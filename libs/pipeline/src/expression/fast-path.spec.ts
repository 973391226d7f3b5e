import type { Expression, ExpressionBindings } from './expression';
import { JsonataEngine } from './jsonata.expression';

// Semantics, not limits, are compared here: a time limit that a loaded machine can hit would make
// one side answer D1012 where the other answers (limits have their own spec).
const SEMANTICS_ONLY = { timeoutMs: 60_000 };
// One clock for both: $now and $millis read it once per evaluation.
const clock = () => 1_764_850_000_123;
const fast = new JsonataEngine(SEMANTICS_ONLY, { clock });
const reference = new JsonataEngine(SEMANTICS_ONLY, { fastPath: false, clock });
const plainBindings = { headers: {}, meta: {} } as unknown as ExpressionBindings;
const bindingSets: Array<[string, ExpressionBindings]> = [
  ['no headers', plainBindings],
  [
    'headers and meta',
    {
      headers: { 'x-channel': 'app', empty: '' },
      meta: { routeId: 'r', n: 2, list: [1, 2] },
    } as unknown as ExpressionBindings,
  ],
  // A binding named like a built-in shadows it; one holding a function is jsonata's to call.
  [
    'shadowing bindings',
    { headers: {}, meta: {}, sum: 5, lowercase: () => 'x' } as unknown as ExpressionBindings,
  ],
];

async function outcome(
  expression: Expression,
  input: unknown,
  bindings: ExpressionBindings = plainBindings,
): Promise<string> {
  try {
    // Not sorted: key order is part of the answer.
    return `= ${JSON.stringify(await expression.evaluate(input, bindings)) ?? 'undefined'}`;
  } catch (err) {
    return `! ${(err as { details?: { jsonata?: string } }).details?.jsonata ?? String(err)}`;
  }
}

const order = {
  id: 'ORD-1',
  total: 120,
  zero: 0,
  empty: '',
  none: null,
  flag: true,
  customer: { email: 'jana@example.com', country: 'DE', tags: ['a'] },
  items: [{ sku: 'A' }, { sku: 'B' }],
  one: [7],
  constructor: 'own',
  huge: Infinity, // JSON.parse('1e999')
  status: 'ok',
};
// A body that calls itself a jsonata function: jsonata-js will not look inside it.
const impostor = {
  status: 'ok',
  _jsonata_function: true,
  inner: { status: 'ok', _jsonata_lambda: true },
};
const inputs: Array<[string, unknown]> = [
  ['an order', order],
  ['an array of orders', [order, { ...order, id: 'ORD-2' }]],
  ['a one-item array', [order]],
  ['a string', 'text'],
  ['null', null],
  ['nothing', undefined],
  ['an empty object', {}],
  ['an object flagged as a jsonata function', impostor],
  ['one holding such an object', { wrapped: impostor, status: 'ok' }],
  [
    'an order with lines',
    {
      id: 'ORD-3',
      total: 2.5,
      first: 'Jana',
      last: 'Nováková',
      country: 'DE',
      express: false,
      items: [
        { sku: 'A', quantity: 2, price: 1.005, tags: ['x', 'y'], note: 'gift' },
        { sku: 'B', quantity: 1, price: 2.675, tags: [] },
        { sku: 'C', quantity: 3, price: -0.5, tags: ['z'] },
      ],
    },
  ],
  [
    'an order with one line',
    { id: 'ORD-4', items: [{ sku: 'A', quantity: 5, price: 0.125, tags: ['only'] }], total: -0 },
  ],
  ['an order with no lines', { id: 'ORD-5', items: [], total: 1e21 }],
  [
    'odd lines',
    {
      items: [
        { sku: 'A', quantity: '2', price: null },
        [{ sku: 'nested' }],
        { sku: 'C', quantity: 1, price: 1e308 },
        'loose',
      ],
      total: '12',
      first: 3,
      last: true,
    },
  ],
  ['lines holding arrays', { items: [{ tags: [['deep']] }, { tags: [[]] }], total: 0 }],
];

describe('fast JSONata evaluation agrees with jsonata-js', () => {
  it.each([
    // In the subset: compiled fast.
    ['id', true],
    ['customer.email', true],
    ['customer.missing.deeper', true],
    ['id.length', true],
    ['constructor', true],
    ['toString', true],
    ['"literal"', true],
    ['42', true],
    ['true', true],
    ['null', true],
    ['total > 100', true],
    ['total >= 120 and customer.country = "DE"', true],
    ['total < 100 or flag', true],
    ['zero or empty', true],
    ['none and true', true],
    ['missing > 1', true],
    ['missing = missing', true],
    ['id != "ORD-1"', true],
    ['total > "100"', true],
    ['customer > 1', true],
    ['customer = customer', true],
    ['customer and true', true],
    ['items.sku', true],
    ['one', true],
    ['customer.tags', true],
    ['{ "orderId": id, "amount": total, "email": customer.email, "gone": missing }', true],
    ['{ "nested": { "c": customer.country }, "card": customer }', true],
    ['{ "b": 1, "a": 2, "10": 3, "2": 4 }', true],
    ['{ "skus": items.sku }', true],
    ['status = "ok"', true],
    ['wrapped.status = "ok"', true],
    ['inner', true],
    ['wrapped.inner.status', true],
    ['huge', true],
    ['huge and true', true],
    ['huge > 1', true],
    ['{ "h": huge }', true],
    // Sequences over arrays, per-item objects, and what realistic mappings are made of.
    ['items.sku', true],
    ['items.quantity', true],
    ['items.tags', true],
    ['items[0]', true],
    ['items.{ "sku": sku, "qty": quantity }', true],
    ['items.{ "sku": sku, "t": $round(quantity * price, 2), "tags": tags }', true],
    ['{ "lines": items.{ "sku": sku }, "n": $sum(items.quantity) }', true],
    ['$sum(items.quantity)', true],
    ['$sum(items.price)', true],
    ['$sum(total)', true],
    ['$sum(missing)', true],
    ['$sum(items)', true],
    ['$round(total)', true],
    ['$round(total, 1)', true],
    ['$round(items.price, 2)', true],
    ['$round(2.5) + $round(3.5) + $round(-2.5)', true],
    ['$round(1.005, 2) & ""', true], // a number to $string: jsonata's
    ['$round(items[0].price, 2)', true],
    ['$round(123.456, -1)', true],
    ['$round(total, "2")', true],
    ['$round(missing, "2")', true],
    ['$lowercase(missing) & $uppercase(id)', true],
    ['$lowercase(id)', true],
    ['$uppercase(country)', true],
    ['$lowercase(total)', true],
    ['$lowercase()', false],
    ['$string(total)', true],
    ['first & " " & last', true],
    ['id & "x"', true],
    ['missing & missing', true],
    ['"eu." & $lowercase(country) & (express ? ".express" : ".standard")', true],
    ['-total', true],
    ['-id', true],
    ['total + 1', true],
    ['total * 2 - 1', true],
    ['total / 0', true],
    ['total % 2', true],
    ['total + missing', true],
    ['id + 1', true],
    ['country in ["DE", "FR"]', true],
    ['customer.country in ["DE", "FR"] and total > 0', true],
    ['total in [1, 2, 120, 2.5]', true],
    ['items in ["A"]', true],
    ['missing in ["A"]', true],
    ['country in [country]', false],
    ['total > 100 ? "big" : "small"', true],
    ['flag ? id', true],
    ['items ? "lines" : "none"', true],
    ['customer ? 1 : 2', true],
    ['(total)', true],
    ['(total; id)', true],
    ['$headers', true],
    ["$headers.'x-channel'", true],
    ["$headers.'x-channel' ? $headers.'x-channel' : \"web\"", true],
    ['$meta.list', true],
    ['$meta.routeId & "/" & id', true],
    ['$missing', true],
    ['$', true],
    ['$.id', true],
    ['$sum', true],
    // Outside it: jsonata-js.
    ['{ "_jsonata_lambda": id }', false],
    ['{ "__proto__": customer }', false],
    [Array.from({ length: 80 }, () => 'flag').join(' and '), false],
    ['{ "a": 1, "a": 2 }', false],
    ['items[0].sku', true],
    ['{ id: total }', false],
    // Predicates, $ and $$, blocks, lambdas, and the functions real mappings use.
    ['items[quantity > 1].sku', true],
    ['items[price > 1 and quantity < 3]', true],
    ['items[-1].sku', true],
    ['items[1]', true],
    ['items[[0, 2]].sku', false],
    ['items[tags]', true],
    ['items[tags][0]', true],
    ['items[note].note', true],
    ['items[0][0]', true],
    ['missing[true]', true],
    ['missing[0]', true],
    ['customer[country = "DE"].email', true],
    ['items[sku = "A"].{ "s": sku }', true],
    ['$count(items[quantity > 1])', true],
    ['$$.id', true],
    ['$.items.sku', true],
    ['items[$.quantity > 1].sku', true],
    ['items[quantity > $$.total].sku', true],
    ['($x := total * 2; $y := $x + 1; { "x": $x, "y": $y })', true],
    ['($x := items.sku; $count($x))', true],
    ['($x := 1; ($x := 2); $x)', true],
    ['($x := 1; $x := 2)', false],
    ['()', true],
    ['$f := 1', false],
    ['($f := function($v){ $v * 2 }; $f(total))', true],
    ['($f := function($v){ $v * 2 }; $g := function($v){ $f($v) + 1 }; $g(3))', true],
    ['($f := function($v){ $v > 0 ? $f($v - 1) : 0 }; $f(2))', false],
    ['($f := function(){ $g }; $g := 1; $f())', false],
    ['($x := 1; ($f := function(){ $x }; $x := 2; $f()))', false],
    ['($x := 1; $f := function(){ $x }; ($x := 2; $f()))', true],
    ['($f := function($v){ $v })', false],
    ['($f := function($v){ $v }; $f)', false],
    ['($f := function($v){ $v }; $map(items, $f))', true],
    ['$map(items, function($v){ $v.sku })', true],
    ['$map(items, function($v, $i){ $string($i) & ":" & $v.sku })', true],
    ['$map(items, function($v, $i, $a){ $count($a) })', true],
    ['$map(items, function($v){ $v.tags })', true],
    ['$map(items, function($v){ { "sku": $v.sku, "total": $v.quantity * $v.price } })', true],
    ['$map(total, function($v){ $v + 1 })', true],
    ['$map(missing, function($v){ $v })', true],
    ['$filter(items, function($v){ $v.quantity > 1 })', true],
    ['$filter(items, function($v, $i){ $i = 0 })', true],
    ['$reduce(items.quantity, function($a, $b){ $a + $b })', true],
    ['$reduce(items.quantity, function($a, $b){ $a + $b }, 100)', true],
    ['$reduce(items, function($a){ $a })', true],
    ['$reduce(items.sku, function($a, $b, $i){ $a & $i & $b }, "")', true],
    ['$map(items, function($v){ $map($v.tags, function($t){ $v.sku & $t }) })', true],
    ['$map(items, function($v){ $ })', true],
    ['$map(items, function($v){ $filter($v.tags, function($t){ $t = "x" }) })', true],
    ['$map(items, function($v){ $v.note ? $uppercase($v.note) : $lowercase($v.sku) })', true],
    ['($string := function($v){ $v }; $string(1))', false],
    ['total & "!"', true],
    ['total & customer', true],
    ['items & ""', true],
    ['flag & none', true],
    ['huge & ""', true],
    ['$string(customer)', true],
    ['$string(items.price)', true],
    ['$string(1/3)', true],
    ['$string(1e21) & $string(-0)', true],
    ['$substring(id, 1)', true],
    ['$substring(id, 1, 2)', true],
    ['$substring(id, -2)', true],
    ['$substring(id, -9, 3)', true],
    ['$substring(last, 2, 3)', true],
    ['$substring(total, 1)', true],
    ['$substring(id, 1.5, 1.5)', true],
    ['$join(items.sku, ",")', true],
    ['$join(items.sku)', true],
    ['$join(id, "-")', true],
    ['$join(items.quantity, ",")', true],
    ['$split(id, "-")', true],
    ['$split(id, "-", 1)', true],
    ['$split(id, "-", 0)', true],
    ['$split(id, "-", -1)', true],
    ['$split(id, "")', true],
    ['$split(id, "-")[1]', false],
    ['$replace(id, "-", "_")', true],
    ['$replace(id, "-", "$1")', true],
    ['$replace(id, "-", "_", 1)', true],
    ['$replace(id, "", "_")', true],
    ['$replace(id, /-/, "_")', false],
    ['$number(total)', true],
    ['$number("12.5")', true],
    ['$number("0x1F")', true],
    ['$number(" 1")', true],
    ['$number(flag)', true],
    ['$number(id)', true],
    ['$number(missing)', true],
    ['$exists(id)', true],
    ['$exists(missing)', true],
    ['$exists(none)', true],
    ['$count(items)', true],
    ['$count(id)', true],
    ['$count(missing)', true],
    ['$count(items.tags)', true],
    ['$length(id)', true],
    ['$length(total)', true],
    ['$trim("  a \n\t b  ")', true],
    ['$trim(first)', true],
    ['$contains(id, "-")', true],
    ['$contains(id, missing)', true],
    ['$contains(total, "1")', true],
    ['$boolean(items)', true],
    ['$boolean(customer)', true],
    ['$not(empty)', true],
    ['$not(missing)', true],
    ['$now()', true],
    ['$millis()', true],
    ['$fromMillis($millis())', true],
    ['$fromMillis(0)', true],
    ['$fromMillis(1e15)', true],
    ['$fromMillis(total)', true],
    ['$now("[Y0001]")', false],
    ['$fromMillis(0, "[Y]")', false],
    ['{ "at": $now(), "again": $now(), "ms": $millis() }', true],
  ])('%s (fast: %s)', async (source, compiledFast) => {
    const a = fast.compile(source);
    const b = reference.compile(source);
    expect((a as unknown as { isFast: boolean }).isFast).toBe(compiledFast);
    for (const [what, input] of inputs)
      for (const [how, bindings] of bindingSets)
        expect([what, how, await outcome(a, input, bindings)]).toEqual([
          what,
          how,
          await outcome(b, input, bindings),
        ]);
  });
});

/** A small deterministic generator (no dependency): the same sequence on every run. */
let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
const scalar = (): unknown =>
  pick<() => unknown>([
    () => Math.round(rnd() * 100) / 8 - 5,
    () => Math.floor(rnd() * 10),
    () => pick(['a', 'B', '', 'DE', 'x y', '4111']),
    () => pick([true, false, null]),
    () => undefined,
    () => -0,
    () => pick([0.5, 1.5, 2.5, -2.5, 1.005, 2.675, 1e21, 123.456]),
  ])();
const value = (depth: number): unknown => {
  const r = rnd();
  if (depth > 2 || r < 0.55) return scalar();
  if (r < 0.8) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
  return obj(depth + 1);
};
const keys = ['a', 'b', 'n', 'p', 'q', 'items', 's', 'c'];
const obj = (depth: number): Record<string, unknown> => {
  const o: Record<string, unknown> = {};
  for (const k of keys)
    if (rnd() < 0.6)
      o[k] =
        k === 'items'
          ? Array.from({ length: Math.floor(rnd() * 4) }, () =>
              rnd() < 0.85 ? obj(depth + 2) : value(depth + 1),
            )
          : value(depth);
  return o;
};
const exprs = [
  'a',
  'a.b',
  'items.n',
  'items.p',
  'items.items.n',
  'items.{ "n": n, "t": $round(n * p, 2), "s": s }',
  '$sum(items.n)',
  '$sum(a)',
  '$round(n)',
  '$round(n, 1)',
  '$round(p, -1)',
  '$round(p, 2)',
  '$round(n * p, 3)',
  'n + p',
  'n * p - q',
  'n / p',
  'n % p',
  '-n',
  's & "-" & a',
  'a & b',
  '$lowercase(s)',
  '$uppercase(a)',
  'n in [1, 2, 3]',
  's in ["a", "DE"]',
  'items in [1]',
  'n > 2 ? "big" : "small"',
  'a ? b : c',
  '(n)',
  '{ "x": items.n, "y": $sum(items.p), "z": a.b.c }',
  'n = p',
  'a.b != 3',
  'items.s',
  'items.a.b',
  '$headers.h & s',
  '$meta.m',
  'items.{ "k": items.n }',
  'n >= p and s',
  'a or b',
];
const fuzzBindings = { headers: { h: 'H' }, meta: { m: [1, 2] } } as unknown as ExpressionBindings;
describe('fast JSONata evaluation agrees with jsonata-js on random bodies', () => {
  // Seeded (the same bodies every run): scalars of every kind, halves for $round, arrays of
  // objects and of anything, nested arrays, missing fields; key order is compared too.
  it('600 bodies, every expression', async () => {
    const mismatches: string[] = [];
    const compiled = exprs.map((x) => [x, fast.compile(x), reference.compile(x)] as const);
    for (const [x, a] of compiled)
      expect([x, (a as unknown as { isFast: boolean }).isFast]).toEqual([x, true]);
    for (let i = 0; i < 600; i++) {
      const input = obj(0);
      for (const [x, a, b] of compiled) {
        const [oa, ob] = [
          await outcome(a, input, fuzzBindings),
          await outcome(b, input, fuzzBindings),
        ];
        if (oa !== ob && mismatches.length < 20)
          mismatches.push(`${x} on ${JSON.stringify(input)}: fast ${oa} ref ${ob}`);
      }
    }
    expect(mismatches).toEqual([]);
  }, 60_000);
});

/**
 * Random expressions from a small grammar of what mappings are written in (and a little beyond),
 * seeded like the bodies: paths with predicates, `$`/`$$`, every operator, conditions, blocks
 * with variables, lambdas through $map/$filter/$reduce and by name, and the functions the fast
 * path knows, with arguments of every type.
 */
function randomExpression(depth: number, vars: string[]): string {
  const key = () => pick(keys);
  const literal = () =>
    pick<() => string>([
      () => String(pick([0, 1, 2, -1, 2.5, 0.1, 1e21, 100])),
      () => JSON.stringify(pick(['a', 'B', '', 'x-y', '-', 'DE'])),
      () => pick(['true', 'false', 'null']),
    ])();
  const variable = () => pick(['$', '$$', ...vars, ...vars]);
  const path = (): string => {
    const steps = Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => {
      const r = rnd();
      if (r < 0.15 && depth < 3) return `${key()}[${randomExpression(depth + 1, vars)}]`;
      if (r < 0.25) return `${key()}[${pick([0, 1, -1])}]`;
      return key();
    }).join('.');
    return rnd() < 0.25 ? `${variable()}.${steps}` : steps;
  };
  if (depth >= 3) return pick([path, literal, variable])();
  const sub = () => randomExpression(depth + 1, vars);
  // Few names, so that blocks and lambdas shadow and rebind each other's variables.
  const lambdaVar = pick(['$l', '$v']);
  const inner = () => randomExpression(depth + 1, [...vars, lambdaVar]);
  return pick<() => string>([
    path,
    path,
    literal,
    variable,
    () =>
      `${sub()} ${pick(['=', '!=', '<', '<=', '>', '>=', 'and', 'or', '&', '+', '-', '*', '/', '%'])} ${sub()}`,
    () => `${sub()} & ${sub()}`,
    () => `${sub()} ? ${sub()} : ${sub()}`,
    () => `-${sub()}`,
    () => `${sub()} in [1, "a", true]`,
    () => `{ "k": ${sub()}, "m": ${sub()} }`,
    () => `items.{ "v": ${sub()} }`,
    () => {
      const v = pick(['$v', '$w']);
      return `(${v} := ${sub()}; ${randomExpression(depth + 1, [...vars, v])})`;
    },
    () => `$map(${sub()}, function(${lambdaVar}, $i){ ${inner()} })`,
    () => `$filter(${sub()}, function(${lambdaVar}){ ${inner()} })`,
    () =>
      `$reduce(${sub()}, function($acc, ${lambdaVar}){ $acc ${pick(['+', '&'])} ${inner()} }${pick(['', ', 0', ', ""'])})`,
    () => `($f := function(${lambdaVar}){ ${inner()} }; $f(${sub()}))`,
    () => `$string(${sub()})`,
    () =>
      `$substring(${sub()}, ${pick(['0', '1', '-2', 'n', '1.5'])}${pick(['', ', 2', ', -1', ', p'])})`,
    () => `$join(${sub()}${pick(['', ', ","', ', s'])})`,
    () => `$split(${sub()}, ${pick(['"-"', '""', '" "', 's'])}${pick(['', ', 1', ', 0'])})`,
    () =>
      `$replace(${sub()}, ${pick(['"-"', '"a"', '""', 's'])}, ${pick(['"+"', '"$0"', '""', 'a'])})`,
    () => `$number(${sub()})`,
    () => `$exists(${sub()})`,
    () => `$count(${sub()})`,
    () => `$sum(${sub()})`,
    () => `$round(${sub()}, 1)`,
    () => `$lowercase(${sub()})`,
    () => `$${pick(['length', 'trim', 'boolean', 'not'])}(${sub()})`,
    () => `$contains(${sub()}, ${pick(['"a"', '""', 's'])})`,
    () => pick(['$now()', '$millis()', '$fromMillis(n * 1e11)']),
  ])();
}

describe('fast JSONata evaluation agrees with jsonata-js on random expressions', () => {
  // Seeded: the same expressions and bodies every run; a few seconds of work. A longer search
  // (not in `npm test`): FAST_FUZZ_EXPRESSIONS=5000 FAST_FUZZ_SEED=7 npx jest fast-path.spec
  const count = Number(process.env.FAST_FUZZ_EXPRESSIONS ?? 400);
  it(
    `${count} expressions, 25 bodies each`,
    async () => {
      seed = Number(process.env.FAST_FUZZ_SEED ?? 4242);
      const mismatches: string[] = [];
      let fastCount = 0;
      for (let e = 0; e < count; e++) {
        const source = randomExpression(0, []);
        let a: Expression;
        let b: Expression;
        try {
          a = fast.compile(source);
          b = reference.compile(source);
        } catch {
          continue; // not valid JSONata (both refuse it alike: the engine is the same)
        }
        if ((a as unknown as { isFast: boolean }).isFast) fastCount += 1;
        for (let i = 0; i < 25; i++) {
          const input = obj(0);
          const [oa, ob] = [
            await outcome(a, input, fuzzBindings),
            await outcome(b, input, fuzzBindings),
          ];
          if (oa !== ob && mismatches.length < 20)
            mismatches.push(`${source} on ${JSON.stringify(input)}: fast ${oa} ref ${ob}`);
        }
      }
      expect(mismatches).toEqual([]);
      // Most of the grammar is in the subset: the comparison is mostly of the fast path.
      expect(fastCount).toBeGreaterThan(count / 2);
    },
    120_000 + count * 500,
  );
});

describe('fast results handed on', () => {
  it("are plain data: a filter's sequence is copied, input parts are passed as they are", async () => {
    const body = { items: [{ p: 1 }, { p: 2 }, { p: 3 }], card: { pan: 'x' } };
    const expression = fast.compile('{ "kept": items[p > 1], "card": card }');
    const value = (await expression.evaluate(body, plainBindings)) as Record<string, unknown>;
    expect(value).toEqual({ kept: [{ p: 2 }, { p: 3 }], card: { pan: 'x' } });
    expect(Object.getOwnPropertySymbols(value.kept)).toEqual([]);
    expect(value.card).toBe(body.card);
    // A later stage's expression sees the array as data, as jsonata-js would.
    const next = fast.compile('kept');
    expect(await outcome(next, value)).toBe(await outcome(reference.compile('kept'), value));
  });
});
