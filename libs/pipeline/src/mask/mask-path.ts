/** One step of a mask path: a member name, or `[*]` for every element of an array. */
export type PathStep = { key: string } | { each: true };

const STEP = /^([A-Za-z0-9_$-]+)((?:\[\*\])*)$/;

/**
 * Parses `card.pan`, `items[*].note` or `lines[*][*]`. Returns the steps, or a message saying
 * what is wrong with the path.
 */
export function parseMaskPath(path: string): PathStep[] | string {
  if (path.trim() === '') return 'must not be empty';
  const steps: PathStep[] = [];
  for (const part of path.split('.')) {
    const match = STEP.exec(part);
    if (!match) {
      return `'${part}' is not a field name (letters, digits, _ $ -) optionally followed by [*]`;
    }
    steps.push({ key: match[1] });
    for (let i = 0; i < match[2].length / 3; i++) steps.push({ each: true });
  }
  return steps;
}

export function formatPath(steps: PathStep[], upTo = steps.length): string {
  let out = '';
  for (let i = 0; i < upTo; i++) {
    const step = steps[i];
    out += 'key' in step ? (out ? '.' : '') + step.key : '[*]';
  }
  return out || '$';
}
