/** Text that replaces a card number found where none should be. */
export const PAN_REDACTED = '[PAN REDACTED]';

/**
 * What may stand between the digits of a card number as people (and tools) write it: tabs and
 * every Unicode space, every dash (and the minus sign), dots, underscores, slashes (ASCII and
 * full-width), middle dots, and invisible format characters (zero-width space and joiners, soft
 * hyphen, word joiner, BOM). Line breaks are not: a number never continues on the next line of a
 * log or a CSV file.
 */
const SEPARATOR =
  '[\\t\\p{Zs}\\p{Pd}\\p{Cf}._/\\u2212\\u00B7\\u2027\\u2044\\u2215\\u2219\\u22C5\\u30FB\\uFF0E\\uFF0F\\uFF3F]';

/**
 * A run of decimal digits of any script (ASCII, full-width, Arabic-Indic, ...), up to 8 separator
 * characters between two of them. The classes are disjoint, so matching is linear.
 */
const DIGIT_RUN = new RegExp(`\\p{Nd}(?:${SEPARATOR}{0,8}\\p{Nd})*`, 'gu');
const GROUP = /\p{Nd}+/gu;
const ND = /\p{Nd}/u;

/**
 * Whether `text` may hold a card number: 13 digits of any script with at most 8 separator
 * characters (or JSON escapes such as `\t`) between two of them. Never false where the detector
 * would find one, in a text or in the compact JSON of a value; false for most clean text, cheaply.
 */
export function mayHoldPan(text: string): boolean {
  let digits = 0;
  let gap = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let kind: 'digit' | 'gap' | 'break';
    if (c < 0x80) kind = c >= 48 && c <= 57 ? 'digit' : looseSeparator(c) ? 'gap' : 'break';
    else kind = classifyWide(text, i, c);
    if (kind === 'digit') {
      if (++digits >= 13) return true;
      gap = 0;
    } else if (kind === 'gap') {
      if (++gap > 8 * 2) digits = 0; // `\t` in JSON is two characters
    } else {
      digits = 0;
      gap = 0;
    }
  }
  return false;
}

/** ASCII characters a separator (or a JSON escape of one) is written with: tab space . / _ - \ t. */
function looseSeparator(c: number): boolean {
  return (
    c === 9 || c === 32 || c === 46 || c === 47 || c === 95 || c === 45 || c === 92 || c === 116
  );
}

/**
 * A non-ASCII character: a digit of another script, or a break only where that is sure (a
 * letter, a line separator); anything else may be a separator. CJK and Hangul, common in text
 * and free of digits, are answered without a regex.
 */
function classifyWide(text: string, i: number, c: number): 'digit' | 'gap' | 'break' {
  if ((c >= 0x3400 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7af)) return 'break';
  if (c >= 0xd800 && c <= 0xdbff) {
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    return ND.test(ch) ? 'digit' : /\p{L}/u.test(ch) ? 'break' : 'gap';
  }
  if (c >= 0xdc00 && c <= 0xdfff) return 'gap'; // the second half of a pair, seen above
  const ch = text[i];
  if (c >= 0x660 && ND.test(ch)) return 'digit';
  return /[\p{L}\u2028\u2029]/u.test(ch) ? 'break' : 'gap';
}

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

/**
 * A card number: 13-19 digits passing the Luhn check. No issuer number starts with 0, and the
 * only 13-digit cards are Visa and Maestro (4, 5, 6): this keeps epoch-millisecond timestamps
 * (13 digits starting with 1 until 2033) out without missing a card.
 */
function isCardNumber(digits: string): boolean {
  const n = digits.length;
  if (n < 13 || n > 19 || digits.charCodeAt(0) === 48) return false;
  if (n === 13 && (digits[0] < '4' || digits[0] > '6')) return false;
  return luhnValid(digits);
}

const digitValues = new Map<number, number>();

/** The value of a decimal digit of any script: each script's digits are runs of ten from zero. */
function digitValue(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp >= 48 && cp <= 57) return cp - 48;
  let value = digitValues.get(cp);
  if (value === undefined) {
    let start = cp;
    while (ND.test(String.fromCodePoint(start - 1))) start--;
    value = (cp - start) % 10;
    digitValues.set(cp, value);
  }
  return value;
}

/** The ASCII digits of a group of decimal digits of any script. */
function asciiDigits(group: string): string {
  if (/^[0-9]*$/.test(group)) return group;
  let out = '';
  for (const ch of group) out += String(digitValue(ch));
  return out;
}

// A whole UUID (not part of a longer run of hex digits): 32 hex digits in 8-4-4-4-12
// groups are no card number, though their digits may happen to pass the Luhn check.
const UUID =
  /(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])/g;

/**
 * Replaces every card number in a text, however it is written: digits of any script, any
 * separators (see SEPARATOR) between groups of any size, and a card number glued to more groups
 * (`ref 12-4111-1111-1111-1111`, `4111 1111 1111 1111 99`). The whole written form, separators
 * included, becomes {@link PAN_REDACTED}; the rest of the text stays as it was. Whole UUIDs, runs
 * that are only dates, and international phone numbers (`+49 ...`) are left alone.
 */
export function redactPanText(text: string): string {
  if (!mayHoldPan(text)) return text; // the common case: nothing long enough to be a card
  if (!text.includes('-')) return redactRuns(text);
  let out = '';
  let last = 0;
  for (const match of text.matchAll(UUID)) {
    out += redactRuns(text.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  return last === 0 ? redactRuns(text) : out + redactRuns(text.slice(last));
}

function redactRuns(text: string): string {
  return text.replace(DIGIT_RUN, (run: string, offset: number) =>
    redactRun(run, offset > 0 ? text[offset - 1] : ''),
  );
}

/**
 * In one run, redacts the whole run when it is a card number, else every span of whole groups
 * holding a card number (a card number glued to more groups, or written without spaces next to a
 * CVV). Spans are tried from every group and merged where they overlap, so a chance Luhn-valid
 * span cannot hide part of a real card number; the groups around them stay.
 */
function redactRun(run: string, before: string): string {
  const groups: string[] = [];
  const separators: string[] = [];
  let end = 0;
  for (const match of run.matchAll(GROUP)) {
    if (groups.length > 0) separators.push(run.slice(end, match.index));
    groups.push(asciiDigits(match[0]));
    end = match.index + match[0].length;
  }
  // `+49 151 ...` is a phone number in international form; no card is written after a plus.
  const phone = before === '+';
  if (!phone && groups.length === 1) return isCardNumber(groups[0]) ? PAN_REDACTED : run;
  if (onlyDates(groups, separators)) return run;
  if (!phone && isCardNumber(groups.join(''))) return PAN_REDACTED;
  const hit = new Array<boolean>(groups.length).fill(false);
  // A span's groups and the separators inside it vanish into one marker.
  const joined = new Array<boolean>(groups.length).fill(false);
  for (let start = phone ? 1 : 0; start < groups.length; start++) {
    let digits = '';
    for (let last = start; last < groups.length; last++) {
      digits += groups[last];
      if (digits.length > 19) break;
      if (!isCardNumber(digits)) continue;
      for (let g = start; g <= last; g++) hit[g] = true;
      for (let g = start; g < last; g++) joined[g] = true;
    }
  }
  if (!hit.includes(true)) return run;
  // Rebuild from the written groups (not their ASCII digits) so the text stays as it was.
  const written = run.match(GROUP)!;
  let out = '';
  for (let g = 0; g < groups.length; g++) {
    if (!hit[g]) out += written[g];
    else if (g === 0 || !joined[g - 1]) out += PAN_REDACTED;
    if (g < groups.length - 1 && !joined[g]) out += separators[g];
  }
  return out;
}

/**
 * Whether a run is nothing but dates (`2026-01-15 2026-02-20`, `15.01.2026/20.02.2026`): year,
 * month and day in one of the usual orders, one separator within each date. No card number
 * issued starts with 19 or 20, and a run of whole dates is what date ranges and logs are made of.
 */
function onlyDates(groups: string[], separators: string[]): boolean {
  if (groups.length % 3 !== 0) return false;
  for (let g = 0; g < groups.length; g += 3) {
    if (separators[g] !== separators[g + 1] || !/^[-./]$/.test(separators[g])) return false;
    if (!isDate(groups[g], groups[g + 1], groups[g + 2])) return false;
  }
  return true;
}

function isDate(a: string, b: string, c: string): boolean {
  const year = (y: string) => y.length === 4 && (y.startsWith('19') || y.startsWith('20'));
  const month = (m: string) => m.length <= 2 && Number(m) >= 1 && Number(m) <= 12;
  const day = (d: string) => d.length <= 2 && Number(d) >= 1 && Number(d) <= 31;
  return (
    (year(a) && month(b) && day(c)) || // 2026-01-15
    (day(a) && month(b) && year(c)) || // 15.01.2026
    (month(a) && day(b) && year(c)) // 01/15/2026
  );
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
    return Number.isInteger(value) &&
      Math.abs(value) >= 1e12 &&
      isCardNumber(String(Math.abs(value)))
      ? PAN_REDACTED
      : value;
  }
  if (typeof value === 'bigint') {
    return isCardNumber(String(value < 0n ? -value : value)) ? PAN_REDACTED : value;
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
