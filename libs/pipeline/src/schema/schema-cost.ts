/**
 * The most a route document's validate stages may cost to compile together, in the units of
 * {@link schemaCompileCost} (about 0.2 ms each on this project's 2-core machine: schemas of 15
 * shapes at the limit took 100 to 310 ms). ajv compiles on the event loop, and from any viewer's
 * request (a dry run, a validation) as well as at a save: a 44 KB `oneOf` of 3,000 branches held
 * the gateway 8 to 11 s, 6,000 `$ref`s 12 s.
 */
export const SCHEMA_COST_LIMIT = 1_500;

/** Deepest a schema may nest objects and arrays (a subschema under `properties` is two levels). */
export const SCHEMA_MAX_DEPTH = 64;

/**
 * What compiling a JSON Schema with ajv costs, estimated from its shape before ajv sees it
 * (measured on ajv 8: time per subschema, and the parts that grow faster than the schema):
 * - each object in it (a subschema, or a value inside `const`, `enum`, `default`): 1;
 * - a `oneOf` or `anyOf` of n branches: n² / 285 more (ajv nests each branch's code in the
 *   previous one: 800 branches took 540 ms, 400 took 130);
 * - an `enum` of n values: n / 100 + n² / 55,000 more (8,000 values took 230 ms);
 * - each object at depth d (JSON nesting, counting every object and array): d / 100 more (ajv
 *   nests the code of each level in the one above: 666 levels of `properties` took 930 ms);
 *   deeper than {@link SCHEMA_MAX_DEPTH} is refused outright (539 levels of `items` took 1.5 s).
 * Infinity for a schema nested too deep.
 * `$ref`s cost what their own object does: the stage's ajv does not inline what they point at
 * (inlined, a def of 50 properties used 500 times took 5.3 s). Walks without recursion, and
 * stops counting past `stopAbove`.
 */
export function schemaCompileCost(schema: unknown, stopAbove = Infinity): number {
  let cost = 0;
  const stack: Array<{ node: unknown; depth: number }> = [{ node: schema, depth: 0 }];
  while (stack.length > 0 && cost <= stopAbove) {
    const { node, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > SCHEMA_MAX_DEPTH) return Infinity;
    if (Array.isArray(node)) {
      for (const item of node) stack.push({ node: item, depth: depth + 1 });
      continue;
    }
    cost += 1 + depth / 100;
    for (const [key, value] of Object.entries(node)) {
      if (Array.isArray(value)) {
        const n = value.length;
        if (key === 'oneOf' || key === 'anyOf') cost += (n * n) / 285;
        else if (key === 'enum') cost += n / 100 + (n * n) / 55_000;
      }
      stack.push({ node: value, depth: depth + 1 });
    }
  }
  return Math.ceil(cost);
}
