/** JSONata's $boolean: what a filter or a `when` treats as "yes". */
export function isTruthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (Array.isArray(value)) return value.some(isTruthy);
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      return value !== 0;
    case 'string':
      return value.length > 0;
    case 'function':
      return false;
    case 'object':
      return Object.keys(value).length > 0;
    default:
      return false;
  }
}
