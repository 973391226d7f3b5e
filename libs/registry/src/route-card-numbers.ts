import { containsPan, redactPanText, type RouteProblem } from '@junction/pipeline';

const MESSAGE = 'must not hold a card number';

/**
 * Where a route's document or text holds a card number. A route is stored and shown back as it
 * was written (to every viewer, in the console's editor, its versions and their diffs): a card
 * number in an expression's literal, a schema, a header, a key or a comment would be on every
 * such screen. So it is refused at save, like an id or a description, never redacted (what is
 * stored is what was sent), and never quoted back. Pointers name the value, or the object
 * whose key holds one; a number only in the text (a comment) is placed by its line and column.
 */
export function routeCardNumberProblems(doc: unknown, source?: string): RouteProblem[] {
  const problems: RouteProblem[] = [];
  const stack: Array<[unknown, string]> = [[doc, '']];
  while (stack.length > 0) {
    const [value, pointer] = stack.pop()!;
    if (value !== null && typeof value === 'object') {
      const entries = Array.isArray(value)
        ? value.map((v, i): [string, unknown] => [String(i), v])
        : Object.entries(value as Record<string, unknown>);
      for (const [key, child] of entries) {
        const at = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        // The key's own pointer would quote it: the member is named by its object.
        if (!Array.isArray(value) && containsPan(key))
          problems.push({ pointer, message: `a key of this object ${MESSAGE}` });
        else stack.push([child, at]);
      }
    } else if (containsPan(value)) {
      problems.push({ pointer, message: MESSAGE });
    }
  }
  problems.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
  if (problems.length === 0 && source !== undefined) {
    const at = firstChange(source, redactPanText(source));
    if (at !== undefined) {
      const before = source.slice(0, at).split('\n');
      problems.push({
        pointer: '',
        message: `the route text ${MESSAGE} (in a comment?)`,
        line: before.length,
        column: before[before.length - 1].length + 1,
      });
    }
  }
  return problems;
}

function firstChange(a: string, b: string): number | undefined {
  if (a === b) return undefined;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
