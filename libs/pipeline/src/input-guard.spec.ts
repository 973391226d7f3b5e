import { maxDepthExceeded } from './input-guard';

/** `depth` objects and arrays nested in each other, alternating. */
function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { child: value };
  return value;
}

describe('maxDepthExceeded', () => {
  it('counts objects and arrays as levels, scalars as none', () => {
    expect(maxDepthExceeded('text', 0)).toBe(false);
    expect(maxDepthExceeded(null, 0)).toBe(false);
    expect(maxDepthExceeded(nested(5), 5)).toBe(false);
    expect(maxDepthExceeded(nested(6), 5)).toBe(true);
    expect(maxDepthExceeded({}, 1)).toBe(false);
    expect(maxDepthExceeded({}, 0)).toBe(true);
    for (const depth of [1, 2, 64]) {
      expect(maxDepthExceeded(nested(depth), depth)).toBe(false);
      expect(maxDepthExceeded(nested(depth), depth - 1)).toBe(true);
    }
  });

  it('finds the deep branch among shallow siblings', () => {
    const body = { a: [1, 2, { b: 3 }], c: { d: nested(4) }, e: [nested(2)] };
    expect(maxDepthExceeded(body, 6)).toBe(false);
    expect(maxDepthExceeded(body, 5)).toBe(true);
  });

  it('walks a hostile depth without overflowing the stack', () => {
    expect(maxDepthExceeded(nested(200_000), 64)).toBe(true);
  });
});
