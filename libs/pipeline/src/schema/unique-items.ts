import type { default as AjvCore, ErrorObject } from 'ajv/dist/core';

/**
 * The text of a JSON value that two values share exactly when JSON Schema calls them equal:
 * object keys in sorted order, numbers by value (1 and 1.0 are both `1`), arrays in order.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // String() writes -0 as 0, and NaN and the infinities (never in JSON) apart from null.
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return `${value}n`;
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      return `{${Object.keys(value)
        .sort()
        .map(
          (key) =>
            `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`,
        )
        .join(',')}}`;
    default:
      return String(value);
  }
}

type UniqueItemsCheck = ((data: unknown[]) => boolean) & { errors?: Partial<ErrorObject>[] };

/**
 * The first duplicate of `items` as [earlier index, later index], or undefined. Linear in the
 * size of the items (each is written once as canonical JSON and looked up in a map), where ajv's
 * own keyword compares every pair of items: quadratic deep-equal on the event loop, which a
 * 400 KB array held for 15 s.
 */
export function firstDuplicate(items: readonly unknown[]): [number, number] | undefined {
  const seen = new Map<string, number>();
  for (let i = 0; i < items.length; i++) {
    const key = canonicalJson(items[i]);
    const earlier = seen.get(key);
    if (earlier !== undefined) return [earlier, i];
    seen.set(key, i);
  }
  return undefined;
}

/**
 * Replaces ajv's `uniqueItems` with a linear one (same equality, same error message). Every ajv
 * instance of Junction that may see data from a caller gets it.
 */
export function useLinearUniqueItems(ajv: AjvCore): void {
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword({
    keyword: 'uniqueItems',
    type: 'array',
    schemaType: 'boolean',
    errors: true,
    compile(schema: boolean) {
      const check: UniqueItemsCheck = (data) => {
        const duplicate = schema ? firstDuplicate(data) : undefined;
        if (duplicate === undefined) return true;
        const [j, i] = duplicate;
        check.errors = [
          {
            keyword: 'uniqueItems',
            message: `must NOT have duplicate items (items ## ${j} and ${i} are identical)`,
            params: { i, j },
          },
        ];
        return false;
      };
      return check;
    },
  });
}
