import { maxDepthExceeded } from './input-guard';

/** `depth` objects and arrays nested in one another, alternating. */
function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { v: value };
  return value;
}

describe('maxDepthExceeded', () => {
  it('counts objects and arrays, not scalars', () => {
    expect(maxDepthExceeded('text', 0)).toBe(false);
    expect(maxDepthExceeded(null, 0)).toBe(false);
    expect(maxDepthExceeded({}, 1)).toBe(false);
    expect(maxDepthExceeded({}, 0)).toBe(true);
    for (const depth of [1, 2, 5, 64]) {
      expect(maxDepthExceeded(nested(depth), depth)).toBe(false);
      expect(maxDepthExceeded(nested(depth), depth - 1)).toBe(true);
    }
  });

  it('finds the deep branch among shallow ones, and takes a hostile depth without recursion', () => {
    const body = { a: 1, b: [1, { c: 2 }], deep: nested(20), after: { x: [] } };
    expect(maxDepthExceeded(body, 21)).toBe(false);
    expect(maxDepthExceeded(body, 20)).toBe(true);
    expect(maxDepthExceeded(nested(200_000), 1000)).toBe(true);
  });
});
