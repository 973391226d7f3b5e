import type { Expression, ExpressionBindings } from './expression';
import { JsonataEngine } from './jsonata.expression';

const fast = new JsonataEngine();
const reference = new JsonataEngine({}, { fastPath: false });
const bindings = { headers: {}, meta: {} } as unknown as ExpressionBindings;

async function outcome(expression: Expression, input: unknown): Promise<string> {
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
    // Outside it: jsonata-js.
    ['{ "_jsonata_lambda": id }', false],
    ['{ "__proto__": customer }', false],
    [Array.from({ length: 80 }, () => 'flag').join(' and '), false],
    ['{ "a": 1, "a": 2 }', false],
    ['items[0].sku', false],
    ['$.id', false],
    ['-total', false],
    ['total + 1', false],
    ['id & "x"', false],
    ['$lowercase(id)', false],
    ['{ id: total }', false],
    ['$headers', false],
    ['total in [1, 2]', false],
  ])('%s (fast: %s)', async (source, compiledFast) => {
    const a = fast.compile(source);
    const b = reference.compile(source);
    expect((a as unknown as { isFast: boolean }).isFast).toBe(compiledFast);
    for (const [what, input] of inputs)
      expect([what, await outcome(a, input)]).toEqual([what, await outcome(b, input)]);
  });
});
