import { HttpIngestSource, IngestSources } from './http.source';

/** `count` running ingest sources on paths orders/0 .. orders/<count - 1>. */
async function running(count: number): Promise<IngestSources> {
  const registry = new IngestSources();
  for (let i = 0; i < count; i++)
    await new HttpIngestSource(
      { type: 'http', path: `orders/${i}` },
      { routeId: `route-${i}` },
      registry,
      10,
    ).start(() => Promise.resolve(undefined));
  return registry;
}

/**
 * The Map and Array operations `work` performs (lookups, iterations, searches), counted on the
 * built-in prototypes while it runs: a lookup that scanned the routes would count one per route.
 */
function operations(work: () => unknown): number {
  const methods: Array<[object, Array<string | symbol>]> = [
    [Map.prototype, ['get', 'has', 'forEach', 'keys', 'values', 'entries', Symbol.iterator]],
    [
      Array.prototype,
      ['find', 'findLast', 'filter', 'some', 'every', 'indexOf', 'includes', 'forEach', 'map'],
    ],
    // Each step of a for-of over a Map or an array.
    [Object.getPrototypeOf(new Map().entries()) as object, ['next']],
    [Object.getPrototypeOf([].values()) as object, ['next']],
  ];
  let count = 0;
  let counting = false;
  const restore: Array<() => void> = [];
  for (const [proto, names] of methods)
    for (const name of names) {
      const original = (proto as Record<string | symbol, (...args: unknown[]) => unknown>)[name]!;
      Object.defineProperty(proto, name, {
        configurable: true,
        writable: true,
        value: function (this: unknown, ...args: unknown[]) {
          if (counting) count++;
          return original.apply(this, args);
        },
      });
      restore.push(() =>
        Object.defineProperty(proto, name, { configurable: true, writable: true, value: original }),
      );
    }
  try {
    counting = true;
    work();
  } finally {
    counting = false;
    for (const r of restore) r();
  }
  return count;
}

describe('IngestSources lookup', () => {
  it('costs the same number of operations with 1, 100 and 10,000 routes', async () => {
    const costs: number[] = [];
    for (const n of [1, 100, 10_000]) {
      const registry = await running(n);
      const last = `orders/${n - 1}`;
      let found: HttpIngestSource | undefined;
      costs.push(operations(() => (found = registry.find(last))));
      expect(found?.route.routeId).toBe(`route-${n - 1}`);
      costs.push(operations(() => registry.find('orders/missing')));
    }
    expect(costs.slice(2)).toEqual([...costs.slice(0, 2), ...costs.slice(0, 2)]);
    expect(Math.max(...costs)).toBeLessThanOrEqual(2);
  });

  it('matches whole normalised paths only: no prefix, no other spelling', async () => {
    const registry = await running(11);
    expect(registry.find('orders/1')?.route.routeId).toBe('route-1');
    expect(registry.find('orders/10')?.route.routeId).toBe('route-10');
    expect(registry.find('orders')).toBeUndefined();
    expect(registry.find('orders/1/')).toBeUndefined();
    expect(registry.find('Orders/1')).toBeUndefined();
  });
});
