/** True when `value` nests objects or arrays deeper than `limit`. Iterative: a hostile body cannot overflow the stack here. */
export function maxDepthExceeded(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > limit) return true;
    if (Array.isArray(node)) {
      for (const item of node)
        if (item !== null && typeof item === 'object') stack.push([item, depth + 1]);
    } else {
      for (const key in node as object) {
        const child = (node as Record<string, unknown>)[key];
        if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
      }
    }
  }
  return false;
}
