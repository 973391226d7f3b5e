/** Text that replaces a card number found where none should be. */
export const PAN_REDACTED = '[PAN REDACTED]';

// A run of digits, single spaces or dashes allowed between them (as card numbers are written).
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function isPan(run: string): boolean {
  const digits = run.replace(/[ -]/g, '');
  return digits.length >= 13 && digits.length <= 19 && luhnValid(digits);
}

/**
 * Replaces every Luhn-valid run of 13-19 digits in a text, and a card number written in groups
 * that is glued to more groups (`ref 12-4111-1111-1111-1111`, `4111 1111 1111 1111 99`).
 */
export function redactPanText(text: string): string {
  if (!/\d{4}/.test(text)) return text; // the common case: nothing long enough to be a card
  return text.replace(DIGIT_RUN, (run) => (isPan(run) ? PAN_REDACTED : redactGroups(run)));
}

/**
 * In a run written in groups that is no card number as a whole, redacts every span of whole
 * groups holding 13-19 digits that passes the Luhn check (a card number glued to more groups, or
 * written without spaces next to a CVV). Spans are tried from every group and merged where they
 * overlap, so a chance Luhn-valid span cannot hide part of a real card number; the groups around
 * them stay.
 */
function redactGroups(run: string): string {
  if (!/[ -]/.test(run)) return run;
  const parts = run.split(/([ -])/); // group, separator, group, ...
  const groups = parts.filter((_, i) => i % 2 === 0);
  if (groups.length < 2) return run;
  const hit = new Array<boolean>(groups.length).fill(false);
  // A span's groups and the separators inside it vanish into one marker.
  const joined = new Array<boolean>(groups.length).fill(false);
  for (let start = 0; start < groups.length; start++) {
    let digits = '';
    for (let end = start; end < groups.length; end++) {
      digits += groups[end];
      if (digits.length > 19) break;
      if (digits.length < 13 || !luhnValid(digits)) continue;
      for (let g = start; g <= end; g++) hit[g] = true;
      for (let g = start; g < end; g++) joined[g] = true;
    }
  }
  if (!hit.includes(true)) return run;
  let out = '';
  for (let g = 0; g < groups.length; g++) {
    if (!hit[g]) out += groups[g];
    else if (g === 0 || !joined[g - 1]) out += PAN_REDACTED;
    if (g < groups.length - 1 && !joined[g]) out += parts[2 * g + 1];
  }
  return out;
}

export function containsPan(value: unknown): boolean {
  return redactPans(value) !== value;
}

/**
 * Returns `value` with every card number in its strings, numbers and keys redacted. Copies
 * only what changes: with nothing to redact the very same value comes back.
 */
export function redactPans<T>(value: T): T {
  return redact(value, 0) as T;
}

function redact(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactPanText(value);
  if (typeof value === 'number') {
    return Number.isInteger(value) && Math.abs(value) >= 1e12 && isPan(String(Math.abs(value)))
      ? PAN_REDACTED
      : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth > 256) return PAN_REDACTED; // cannot inspect it all: fail closed
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = redact(value[i], depth + 1);
      if (item !== value[i]) (out ??= value.slice())[i] = item;
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const child = redact(record[key], depth + 1);
    const safeKey = redactPanText(key);
    if (child !== record[key] || safeKey !== key) {
      out ??= { ...record };
      if (safeKey !== key) delete out[key];
      out[safeKey] = child;
    }
  }
  return out ?? value;
}

/** Escapes one segment of a JSON pointer (RFC 6901). */
function pointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * JSON pointers of the places in `value` where a card number is (in a string, a number or a
 * key), for telling a user where one would leak; the root is `''`. Deeper than the redaction
 * looks, the subtree itself is reported (fail closed).
 */
export function panPointers(value: unknown): string[] {
  const found: string[] = [];
  const stack: Array<[unknown, string, number]> = [[value, '', 0]];
  while (stack.length > 0) {
    const [v, at, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') {
      if (redact(v, 0) !== v) found.push(at);
      continue;
    }
    if (depth > 256) {
      found.push(at);
      continue;
    }
    const entries: Array<[string, unknown]> = Array.isArray(v)
      ? v.map((item, i) => [String(i), item])
      : Object.entries(v as Record<string, unknown>);
    for (const [key, child] of entries) {
      const path = `${at}/${pointerSegment(key)}`;
      if (!Array.isArray(v) && redactPanText(key) !== key) found.push(path);
      else stack.push([child, path, depth + 1]);
    }
  }
  return found.sort();
}
