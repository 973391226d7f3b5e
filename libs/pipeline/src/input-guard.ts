/** True when `value` nests objects or arrays deeper than `limit`. Iterative: a hostile body cannot overflow the stack here. */
export function maxDepthExceeded(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  // Two stacks side by side (nodes and their depths): no pair allocated per object or array.
  const nodes: unknown[] = [value];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop();
    const depth = depths.pop()!;
    if (depth > limit) return true;
    if (Array.isArray(node)) {
      for (const item of node)
        if (item !== null && typeof item === 'object') {
          nodes.push(item);
          depths.push(depth + 1);
        }
    } else {
      for (const key in node as object) {
        const child = (node as Record<string, unknown>)[key];
        if (child !== null && typeof child === 'object') {
          nodes.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}
