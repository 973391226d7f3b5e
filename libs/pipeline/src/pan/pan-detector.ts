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

/** Digits per group of a card number as people write it (4-4-4-4, 4-6-5, 4-4-4-4-3). */
const CARD_GROUP = /^\d{3,6}$/;

/**
 * In a run written in groups that is no card number as a whole, finds the longest span of
 * card-like groups (3 to 6 digits each) starting at each group that holds 13-19 digits and passes
 * the Luhn check, and redacts it; the groups around it stay.
 */
function redactGroups(run: string): string {
  if (!/[ -]/.test(run)) return run;
  const parts = run.split(/([ -])/); // group, separator, group, ...
  const groups = parts.filter((_, i) => i % 2 === 0);
  if (groups.length < 2) return run;
  // Which redacted span each group falls in (undefined: kept).
  const span: Array<number | undefined> = [];
  for (let start = 0; start < groups.length; start++) {
    let digits = '';
    let end = -1;
    for (let j = start; j < groups.length && CARD_GROUP.test(groups[j]); j++) {
      digits += groups[j];
      if (digits.length > 19) break;
      if (digits.length >= 13 && luhnValid(digits)) end = j;
    }
    if (end < 0) continue;
    for (let j = start; j <= end; j++) span[j] = start;
    start = end;
  }
  if (span.length === 0) return run;
  let out = '';
  for (let g = 0; g < groups.length; g++) {
    if (span[g] === undefined) out += groups[g];
    else if (span[g] !== span[g - 1]) out += PAN_REDACTED;
    // The separator after group g, unless it sits inside a redacted span.
    if (g < groups.length - 1 && (span[g] === undefined || span[g] !== span[g + 1]))
      out += parts[2 * g + 1];
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
