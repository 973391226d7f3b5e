/** Text that replaces a card number found where none should be. */
export const PAN_REDACTED = '[PAN REDACTED]';

/**
 * What may stand between the digits of a card number as people (and tools) write it: every
 * Unicode White_Space character (line breaks included), every "other" character (control,
 * format, surrogate, private-use, unassigned), every combining mark, every default-ignorable
 * (invisible) character, the replacement characters, the Hangul fillers and the braille blank (letters by
 * category, blank on screen), every dash (Pd), dots, underscores, slashes (ASCII and full-width)
 * and dash- or bullet-like signs (minus, middle dots, bullets). A false positive (digits that span
 * lines redacted) costs far less than a card number in a log: when in doubt, it separates.
 * The class holds no decimal digit, which keeps matching linear. Other punctuation (`|`, `:`,
 * `*`, full-width bars ...) joins groups too, but only in the layouts brands print (see
 * redactPunctuated): it also separates the numbers of tables and times.
 */
const SEPARATOR_CLASS =
  '[\\p{White_Space}\\p{C}\\p{M}\\p{Default_Ignorable_Code_Point}\\p{Pd}' +
  '\\u115F\\u1160\\u3164\\uFFA0\\u2800\\uFFFC\\uFFFD' + // Hangul fillers, braille blank, replacement
  '._/\\u02D7\\u2212\\u2796\\uFE63\\uFF0D' + // dash-like: modifier minus, minus signs
  '\\u00B7\\u0387\\u16EB\\u2022\\u2023\\u2024\\u2027\\u2043\\u2044\\u2215\\u2219\\u22C5' +
  '\\u25E6\\u2981\\u2E31\\u30FB\\uFF0E\\uFF0F\\uFF3F\\uFF65]'; // dots, bullets, slashes

const SEPARATOR_CHAR = new RegExp(`^${SEPARATOR_CLASS}$`, 'u');

/**
 * Whether one character (a code point) may stand between the digits of a card number: the very
 * rule the detector matches with. Exported so that every fast pre-check can be tested against it.
 */
export function isPanSeparator(ch: string): boolean {
  return SEPARATOR_CHAR.test(ch);
}

/**
 * A run of decimal digits of any script (ASCII, full-width, Arabic-Indic, ...), up to 8 separators
 * (SEPARATOR_CLASS characters, or JSON escapes of them as a log line or any JSON text writes them:
 * `\n`, `\t`, `\u2028`, any `\uXXXX`) between two of them: what {@link redactRuns} reads, by
 * hand in one pass (a regex for it, `\p{Nd}(?:(?:SEP|\\(?:u[0-9A-Fa-f]{4}|[bfnrt/])){0,8}\p{Nd})*`,
 * took a third of the time on digit-dense text). Texts that hold JSON (a body written into a log
 * line) are redacted as they are, so the escapes separate groups too. The rule as that regex, for
 * the spec to hold {@link longRuns} to:
 */
export const PAN_DIGIT_RUN = new RegExp(
  `\\p{Nd}(?:(?:${SEPARATOR_CLASS}|\\\\(?:u[0-9A-Fa-f]{4}|[bfnrt/])){0,8}\\p{Nd})*`,
  'gu',
);

const ND = /\p{Nd}/u;
const LETTER = /\p{L}/u;

/** At most this many separators between two digits of a run. */
const MAX_GAP = 8;

/**
 * Work done so far, in steps: characters read and spans tried, by every reading. Tests compare it
 * between texts of different sizes to show the detector is linear, which a clock cannot show.
 */
let steps = 0;

/** The detector's work so far, in steps (see above); only differences mean anything. */
export function panDetectorSteps(): number {
  return steps;
}

type Kind = 0 | 1 | 2; // digit, gap (may separate), break (surely ends a run)
const DIGIT: Kind = 0;
const GAP: Kind = 1;
const BREAK: Kind = 2;

/** The kind of each BMP code unit, worked out once on first sight (255: not yet). */
const wideKinds = new Uint8Array(0x10000).fill(255);

/**
 * Whether `text` may hold a card number: 13 digits of any script with at most 8 separators (or
 * JSON escapes of them such as `\n` or `\u2028`) between two of them. Never false where the
 * detector would find one, in a text or in the compact JSON of a value; false for most clean
 * text, cheaply. Anything that is no digit, and not surely a break (a letter that is no
 * separator, a comma, a semicolon), counts as a gap.
 */
export function mayHoldPan(text: string): boolean {
  let digits = 0;
  let gap = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let kind: Kind;
    if (c === 92 /* \ */) {
      const next = text.charCodeAt(i + 1);
      if (next === 117 /* u */ && HEX4.test(text.slice(i + 2, i + 6))) {
        // `\uXXXX`: one character in JSON, or (in a plain text) a break and four more characters
        // whose decimal digits may start a run. Counted so as to answer true for either reading.
        const hex = text.slice(i + 2, i + 6);
        const unit = parseInt(hex, 16);
        const decoded = unit >= 0xd800 && unit <= 0xdfff ? GAP : kindOfUnit(unit);
        let hexDigits = 0;
        for (let k = 0; k < 4; k++) if (hex.charCodeAt(k) <= 57) hexDigits++;
        i += 5;
        // The detector takes any `\uXXXX` for a separator, whatever it stands for.
        digits += hexDigits + (decoded === DIGIT ? 1 : 0);
        if (hexDigits > 0 || decoded === DIGIT) gap = 0;
        else if (++gap > MAX_GAP) digits = 0;
        if (digits >= 13) return true;
        continue;
      }
      // `\n`, `\t`, `\"` ... are one gap; a lone backslash is a gap too.
      kind = GAP;
      if (SHORT_ESCAPE.has(next)) i++;
    } else if (c === 37 /* % */ && HEX2.test(text.slice(i + 1, i + 3))) {
      // `%XX`: one character in a URL, or a break and two characters (read as `\uXXXX` is).
      const hex = text.slice(i + 1, i + 3);
      const byte = parseInt(hex, 16);
      let hexDigits = 0;
      for (let k = 0; k < 2; k++) if (hex.charCodeAt(k) <= 57) hexDigits++;
      i += 2;
      digits += hexDigits + (byte >= 48 && byte <= 57 ? 1 : 0);
      if (hexDigits > 0) gap = 0;
      else if (++gap > MAX_GAP) digits = 0;
      if (digits >= 13) return true;
      continue;
    } else if (c < 0x80) {
      kind = c >= 48 && c <= 57 ? DIGIT : asciiPunctuation(c) ? GAP : BREAK;
    } else {
      kind = classifyWide(text, i, c);
      // A surrogate pair is one character.
      if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    }
    if (kind === DIGIT) {
      if (++digits >= 13) return true;
      gap = 0;
    } else if (kind === GAP) {
      if (++gap > MAX_GAP) digits = 0;
    } else {
      digits = 0;
      gap = 0;
    }
  }
  return false;
}

const HEX4 = /^[0-9A-Fa-f]{4}$/;
/** The letters of JSON's two-character escapes: " \ / b f n r t. */
const SHORT_ESCAPE = new Set([34, 92, 47, 98, 102, 110, 114, 116]);

function kindOfUnit(unit: number): Kind {
  if (unit < 0x80) return unit >= 48 && unit <= 57 ? DIGIT : asciiSeparator(unit) ? GAP : BREAK;
  return classifyWide(String.fromCharCode(unit), 0, unit);
}

/** An ASCII character the detector may skip between digits (see SEPARATOR_CLASS). */
function asciiSeparator(c: number): boolean {
  // Controls (tab, line breaks, ...) and DEL, space, - . / _
  return c < 0x20 || c === 0x7f || c === 32 || c === 45 || c === 46 || c === 47 || c === 95;
}

/**
 * An ASCII character that may stand between the printed groups of a card number in the third
 * reading (see redactPunctuated): anything but a digit, a letter, a comma or a semicolon. It holds
 * the first reading's separators and what starts an escape in the second (`%`, `~`, `+`): the fast
 * skip counts them all as gaps, so that it answers true for every reading.
 */
function asciiPunctuation(c: number): boolean {
  if (c >= 48 && c <= 57) return false;
  const letter = c | 0x20;
  return !(letter >= 97 && letter <= 122) && c !== 44 && c !== 59;
}

/**
 * A non-ASCII character (the code unit at `i`, or the pair it starts): a digit of another
 * script, a break only where that is sure (a letter that is no separator), anything else a gap.
 * CJK and Hangul syllables, common in text and free of digits and separators, are answered
 * without a regex; other BMP characters once each.
 */
function classifyWide(text: string, i: number, c: number): Kind {
  if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7a3)) return BREAK;
  if (c >= 0xd800 && c <= 0xdbff) {
    const cp = text.codePointAt(i)!;
    if (cp === c) return GAP; // a lone high surrogate
    return kindOf(String.fromCodePoint(cp));
  }
  let kind = wideKinds[c];
  if (kind === 255) {
    kind = c >= 0xdc00 && c <= 0xdfff ? GAP : kindOf(String.fromCharCode(c));
    wideKinds[c] = kind;
  }
  return kind as Kind;
}

function kindOf(ch: string): Kind {
  if (ND.test(ch)) return DIGIT;
  if (isPanSeparator(ch)) return GAP;
  return LETTER.test(ch) ? BREAK : GAP;
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

/**
 * Where whole UUIDs are (not part of a longer run of hex digits): 32 hex digits in 8-4-4-4-12
 * groups are no card number, though their digits may happen to pass the Luhn check. Start and end
 * of each, in order. Found from the dashes by hand: a regex tried at every character took a
 * quarter of the time on dashed digit text.
 */
function uuidSpans(text: string): number[] {
  const spans: number[] = [];
  for (let dash = text.indexOf('-', 8); dash >= 0; dash = text.indexOf('-', dash + 1)) {
    steps++;
    const start = dash - 8;
    if (isUuidAt(text, start)) {
      spans.push(start, start + 36);
      dash = start + 35;
    }
  }
  return spans;
}

function isUuidAt(text: string, start: number): boolean {
  if (start + 36 > text.length) return false;
  if (start > 0 && hexValue(text.charCodeAt(start - 1)) >= 0) return false;
  if (start + 36 < text.length && hexValue(text.charCodeAt(start + 36)) >= 0) return false;
  for (let k = 0; k < 36; k++) {
    const c = text.charCodeAt(start + k);
    if (k === 8 || k === 13 || k === 18 || k === 23 ? c !== 45 : hexValue(c) < 0) return false;
  }
  return true;
}

/**
 * Replaces every card number in a text, however it is written: digits of any script, any
 * separators (see SEPARATOR_CLASS) between groups of any size, and a card number glued to more groups
 * (`ref 12-4111-1111-1111-1111`, `4111 1111 1111 1111 99`). The whole written form, separators
 * included, becomes {@link PAN_REDACTED}; the rest of the text stays as it was. Whole UUIDs, runs
 * that are only dates, and international phone numbers (`+49 ...`) are left alone.
 */
export function redactPanText(text: string): string {
  if (!mayHoldPan(text)) return text; // the common case: nothing long enough to be a card
  const runs = redactOutsideUuids(text, redactRuns);
  return redactOutsideUuids(redactOutsideUuids(runs, redactEscaped), redactPunctuated);
}

function redactOutsideUuids(text: string, redact: (part: string) => string): string {
  const spans = uuidSpans(text);
  if (spans.length === 0) return redact(text);
  let out = '';
  let last = 0;
  for (let k = 0; k < spans.length; k += 2) {
    out += redact(text.slice(last, spans[k])) + text.slice(spans[k], spans[k + 1]);
    last = spans[k + 1];
  }
  return out + redact(text.slice(last));
}

/**
 * The first reading: every run of digits and separators (see SEPARATOR_CLASS), judged on its own.
 * One pass by hand (longRuns); a run is read again only when it may hold a card number (13 digits
 * or more).
 */
function redactRuns(text: string): string {
  const runs = longRuns(text);
  let out = '';
  let copied = 0;
  for (let r = 0; r < runs.length; r += 3) {
    const start = runs[r];
    const end = runs[r + 1];
    const run = text.slice(start, end);
    const before = start > 0 ? text[start - 1] : '';
    // Only ASCII digits (the usual way a card number is stored): one group, as redactRun judges
    // it, without building the groups (their arrays were most of the time on digit-dense bodies).
    const redacted =
      runs[r + 2] === 1
        ? before !== '+' && isCardNumber(run)
          ? PAN_REDACTED
          : run
        : redactRun(run, before, groupsOf(run));
    if (redacted !== run) {
      out += text.slice(copied, start) + redacted;
      copied = end;
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * The runs of {@link PAN_DIGIT_RUN} in `text` that hold 13 digits or more, as `[start, end, plain]`
 * triples (`plain` 1 for ASCII digits only), in the order the regex finds them; exported for the
 * spec, which holds it to the regex. Outside a run every character is read on its own, as the
 * regex's search tries each (a digit in an escape's hex, `\u0034`, starts a run); inside one an
 * escape is one separator.
 */
export function longRuns(text: string): number[] {
  const found: number[] = [];
  gapCount = 0;
  const n = text.length;
  for (let i = 0; i < n;) {
    steps++;
    const c = text.charCodeAt(i);
    runWidth = 1;
    const kind = c < 0x80 ? (c >= 48 && c <= 57 ? DIGIT : BREAK) : runKind(text, i, c);
    if (kind !== DIGIT) {
      i += c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      continue;
    }
    const start = i;
    let end = i + runWidth;
    let digits = 1;
    let plain = c < 0x80; // ASCII digits only, no separator
    // The digits that follow, then up to MAX_GAP separators (characters or escapes) before each
    // next digit. Where the run begins inside the separators after the last run (the hex digits
    // of `\u0034`), those read already are not read again (see gapEnds).
    let at = end;
    for (let d = text.charCodeAt(at); d >= 48 && d <= 57; d = text.charCodeAt(++at)) {
      steps++;
      digits++;
    }
    end = at;
    let gaps = knownGaps(end);
    if (gaps > 0) {
      at = gapEnds[gapCount];
      shiftGaps(gapCount - gaps);
    }
    while (at < n) {
      steps++;
      const k = runToken(text, at);
      if (k === DIGIT) {
        if (gaps > 0 || text.charCodeAt(at) >= 0x80) plain = false;
        digits++;
        at += runWidth;
        end = at;
        gaps = 0;
      } else if (k === GAP && ++gaps <= MAX_GAP) {
        if (gaps === 1) {
          gapEnds[0] = at;
          gapCount = 0;
        }
        at += runWidth;
        gapEnds[++gapCount] = at;
      } else break;
    }
    // The regex's search goes on right after the run's last digit.
    i = end;
    if (digits >= 13) found.push(start, end, plain ? 1 : 0);
  }
  return found;
}

/**
 * The last separators (characters or escapes) longRuns read in a row after a digit: they begin
 * at `gapEnds[0]` and the k-th ends at `gapEnds[k]` (`gapCount` of them). Text such as `\u0034\u0034...` (JSON escapes of digits in a text, as a JSON body
 * holding `\\u0034` parses to) starts a run of four digits inside every escape, and each run read
 * up to nine escapes ahead again (120 to 250 ms per MB): the next run takes the separators after
 * it from here. Among separators a run can only start in an escape's hex digits, and when it
 * reaches the escape's end it goes on at one of these ends (a hex letter ends it).
 */
const gapEnds = new Int32Array(MAX_GAP + 2);
let gapCount = 0;

/** How many separators read already follow a run whose digits end at `end` (0: none known). */
function knownGaps(end: number): number {
  for (let k = 1; k < gapCount; k++) if (gapEnds[k] === end) return gapCount - k;
  return 0;
}

/** Drops the first `k` separators of gapEnds: the next run's separators begin after them. */
function shiftGaps(k: number): void {
  gapCount -= k;
  for (let g = 0; g <= gapCount; g++) gapEnds[g] = gapEnds[g + k];
}

/** How many characters the token {@link runToken} or {@link runKind} read last takes. */
let runWidth = 1;

/**
 * The token at `i` inside a run: a digit, a separator (a SEPARATOR_CLASS character, or a JSON
 * escape `\uXXXX`, `\b`, `\f`, `\n`, `\r`, `\t`, `\/`), or anything else (BREAK).
 */
function runToken(text: string, i: number): Kind {
  const c = text.charCodeAt(i);
  runWidth = 1;
  if (c < 0x80) {
    if (c >= 48 && c <= 57) return DIGIT;
    if (c !== 92 /* \ */) return asciiSeparator(c) ? GAP : BREAK;
    const next = text.charCodeAt(i + 1);
    if (next === 117 /* u */) {
      if (hexAt(text, i + 2, 4) < 0) return BREAK;
      runWidth = 6;
      return GAP;
    }
    // \n \t \r \b \f \/ (SEPARATOR_ESCAPES, without a set lookup per character)
    if (next !== 110 && next !== 116 && next !== 114 && next !== 98 && next !== 102 && next !== 47)
      return BREAK;
    runWidth = 2;
    return GAP;
  }
  return runKind(text, i, c);
}

/**
 * A non-ASCII character (or the pair it starts) as SEPARATOR_CLASS and `\p{Nd}` have it: a digit,
 * a separator, or neither (BREAK). Each BMP code unit is worked out once.
 */
function runKind(text: string, i: number, c: number): Kind {
  runWidth = 1;
  if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7a3)) return BREAK; // CJK, Hangul
  if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
    runWidth = 2;
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    return ND.test(ch) ? DIGIT : isPanSeparator(ch) ? GAP : BREAK;
  }
  let kind = runKinds[c];
  if (kind === 255) {
    const ch = String.fromCharCode(c); // a lone surrogate is a separator (\p{C})
    kind = ND.test(ch) ? DIGIT : isPanSeparator(ch) ? GAP : BREAK;
    runKinds[c] = kind;
  }
  return kind as Kind;
}

/** The kind of each non-ASCII BMP code unit for the run reading (255: not yet). */
const runKinds = new Uint8Array(0x10000).fill(255);

/** Only texts with one of these can read differently with escapes decoded (see redactEscaped). */
const ESCAPE_HINT = /\\u[0-9A-Fa-f]{4}|%[0-9A-Fa-f]{2}|~[01]|\+/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;

/**
 * The second reading of a text, after {@link redactRuns}: card numbers written with escapes that
 * stand for digits or separators, as URLs, JSON texts and JSON pointers write them:
 * `4111%201111%201111%201111` (encodeURIComponent), `4111+1111+1111+1111` (a form-encoded query),
 * `\u0034111111111111111` (a JSON escape of a digit, in a text that holds JSON),
 * `/4111~11111~11111~11111` (a key `4111/1111/1111/1111` in a JSON pointer, as schema errors name
 * it). A percent-escape of `0`-`9` and a `\uXXXX` of any decimal digit are that digit; every other
 * escape (`%XX`, `\uXXXX`, `\n`, `~0`, `~1`) and `+` separate, like the characters of
 * SEPARATOR_CLASS. Escapes are read whole, never from the middle, so `\u0020` before a card number
 * adds no digits to it. The first reading (escapes as the characters written) stays: `50%4111...`
 * was redacted by it already. A run is judged here only when it holds an escape or a `+`: other
 * runs read the same both ways. Linear: one pass over the characters, then one per run.
 */
function redactEscaped(text: string): string {
  if (!ESCAPE_HINT.test(text)) return text;
  let out = '';
  let copied = 0;
  // The run being read: where it starts and its last digit ends, the gaps since that digit, and
  // its groups (as RunGroups has them, relative to the run) in typed arrays kept from run to run:
  // the arrays and the string grown for every digit of every run held the event loop 240 ms on
  // 1 MiB of `4+4+...`, whose runs are mostly one digit long.
  let runStart = -1;
  let runEnd = -1;
  let gaps = 0;
  let count = 0; // groups so far
  let n = 0; // digits so far
  let { starts, ends, offsets, digits } = escapedArrays;
  for (let i = 0; i < text.length;) {
    steps++;
    const kind = escapedToken(text, i);
    const width = tokenWidth;
    if (kind === DIGIT) {
      if (runStart < 0) {
        runStart = i;
        count = 0;
        n = 0;
      }
      if (n === digits.length) ({ starts, ends, offsets, digits } = growEscaped(n));
      if (count === 0 || gaps > 0) starts[count++] = i - runStart; // else the same group goes on
      ends[count - 1] = i + width - runStart;
      digits[n++] = 48 + tokenValue;
      offsets[count] = n;
      runEnd = i + width;
      gaps = 0;
    } else if (runStart >= 0 && (kind === BREAK || ++gaps > MAX_GAP)) {
      if (n >= 13) {
        const redacted = redactEscapedRun(text, runStart, runEnd, count, n);
        if (redacted !== undefined) {
          out += text.slice(copied, runStart) + redacted;
          copied = runEnd;
        }
      }
      runStart = -1;
      gaps = 0;
    }
    i += width;
  }
  if (runStart >= 0 && n >= 13) {
    const redacted = redactEscapedRun(text, runStart, runEnd, count, n);
    if (redacted !== undefined) {
      out += text.slice(copied, runStart) + redacted;
      copied = runEnd;
    }
  }
  if (escapedArrays.digits.length > SMALL_RUN) escapedArrays = newEscaped(SMALL_RUN); // give back
  return copied === 0 ? text : out + text.slice(copied);
}

/** The run of redactEscaped at `[from, to)` judged by redactRun: its redacted form, or undefined. */
function redactEscapedRun(
  text: string,
  from: number,
  to: number,
  count: number,
  n: number,
): string | undefined {
  const { starts, ends, offsets, digits } = escapedArrays;
  const run = text.slice(from, to);
  const redacted = redactRun(run, from > 0 ? text[from - 1] : '', {
    digits: LATIN1.decode(digits.subarray(0, n)),
    count,
    offsets,
    starts,
    ends,
  });
  return redacted === run ? undefined : redacted;
}

/** The value of the digit {@link escapedToken} read last, and how many characters it took. */
let tokenValue = -1;
let tokenWidth = 1;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** `n` hex digits at `i` as a number, or -1. */
function hexAt(text: string, i: number, n: number): number {
  let value = 0;
  for (let k = 0; k < n; k++) {
    const h = hexValue(text.charCodeAt(i + k));
    if (h < 0) return -1;
    value = value * 16 + h;
  }
  return value;
}

/**
 * The kind of the character or escape at `i`, as {@link redactEscaped} reads it; its width and a
 * digit's value go to tokenWidth and tokenValue (no object per character: this runs on every
 * character of a text that may hold an escape).
 */
function escapedToken(text: string, i: number): Kind {
  const c = text.charCodeAt(i);
  const next = text.charCodeAt(i + 1);
  tokenValue = -1;
  tokenWidth = 1;
  if (c === 92 /* \ */) {
    const unit = next === 117 /* u */ ? hexAt(text, i + 2, 4) : -1;
    if (unit >= 0) {
      tokenWidth = 6;
      const kind = unit >= 0xd800 && unit <= 0xdfff ? GAP : kindOfUnit(unit);
      if (kind === DIGIT) tokenValue = digitValue(String.fromCharCode(unit));
      return kind;
    }
    if (SEPARATOR_ESCAPES.has(next)) {
      tokenWidth = 2;
      return GAP;
    }
    return BREAK;
  }
  if (c === 37 /* % */) {
    const byte = hexAt(text, i + 1, 2);
    if (byte < 0) return BREAK;
    tokenWidth = 3;
    if (byte >= 48 && byte <= 57) {
      tokenValue = byte - 48;
      return DIGIT;
    }
    // A byte of a UTF-8 sequence may be part of a separator: it separates; so does `%2B` (+).
    return byte >= 0x80 || byte === 43 ? GAP : kindOfUnit(byte);
  }
  if (c === 126 /* ~ */) {
    if (next !== 48 && next !== 49) return BREAK;
    tokenWidth = 2;
    return GAP;
  }
  if (c === 43 /* + */) return GAP;
  if (c < 0x80) {
    if (c < 48 || c > 57) return asciiSeparator(c) ? GAP : BREAK;
    tokenValue = c - 48;
    return DIGIT;
  }
  const kind = classifyWide(text, i, c);
  if (c >= 0xd800 && c <= 0xdbff && (next & 0xfc00) === 0xdc00) tokenWidth = 2;
  if (kind === DIGIT) tokenValue = digitValue(String.fromCodePoint(text.codePointAt(i)!));
  return kind;
}

/** The letters of JSON's escapes of separators: b f n r t and / (see ESCAPED_SEPARATOR). */
const SEPARATOR_ESCAPES = new Set([98, 102, 110, 114, 116, 47]);

const LATIN1 = new TextDecoder('latin1');

/**
 * The arrays groupsOf fills for runs up to SMALL_RUN characters, made once: runs are mostly a
 * card number's length, and four new typed arrays per run cost more than reading it.
 */
const SMALL_RUN = 128;
const SMALL = {
  offsets: new Int32Array((SMALL_RUN >> 1) + 3),
  starts: new Int32Array((SMALL_RUN >> 1) + 2),
  ends: new Int32Array((SMALL_RUN >> 1) + 2),
  digits: new Uint8Array(SMALL_RUN),
};

/**
 * The groups of the run redactEscaped is reading (see RunGroups; `digits` as ASCII codes): made
 * once, grown for a long run (a run of n digits has at most n groups), given back after it.
 */
const newEscaped = (size: number) => ({
  starts: new Int32Array(size),
  ends: new Int32Array(size),
  offsets: new Int32Array(size + 1),
  digits: new Uint8Array(size),
});
let escapedArrays = newEscaped(SMALL_RUN);

function growEscaped(n: number): typeof escapedArrays {
  const grown = newEscaped(2 * n);
  grown.starts.set(escapedArrays.starts);
  grown.ends.set(escapedArrays.ends);
  grown.offsets.set(escapedArrays.offsets);
  grown.digits.set(escapedArrays.digits);
  escapedArrays = grown;
  return grown;
}

/**
 * A run's groups of digits: all their digits in ASCII, where each group begins in those
 * (`offsets`, one more at the end), and where each is written in the run. A group is a run of
 * decimal digits of any script (mixed scripts make one group); an escaped separator (`\n`,
 * `\u2028`) is skipped whole, so its hex digits are no group: in a run every backslash starts one
 * (see redactRuns). One pass by hand: a run of a million one-digit groups took 130 ms through a
 * group regex.
 */
function groupsOf(run: string): RunGroups {
  // A run of n characters has at most n / 2 + 1 groups, and n digits.
  const most = (run.length >> 1) + 2;
  // The shared arrays serve one run at a time: redactRun reads them before the next run is read.
  const small = run.length <= SMALL_RUN;
  const offsets = small ? SMALL.offsets : new Int32Array(most + 1);
  const starts = small ? SMALL.starts : new Int32Array(most);
  const ends = small ? SMALL.ends : new Int32Array(most);
  const digits = small ? SMALL.digits : new Uint8Array(run.length);
  offsets[0] = 0;
  let count = 0;
  let n = 0; // digits so far
  let inGroup = false;
  steps += run.length;
  for (let i = 0; i < run.length;) {
    const c = run.charCodeAt(i);
    let width = 1;
    let value = -1;
    if (c === 92 /* \ */) width = run.charCodeAt(i + 1) === 117 /* u */ ? 6 : 2;
    else if (c >= 48 && c <= 57) value = c - 48;
    else if (c >= 0x80) {
      if (c >= 0xd800 && c <= 0xdbff && (run.charCodeAt(i + 1) & 0xfc00) === 0xdc00) width = 2;
      if (classifyWide(run, i, c) === DIGIT)
        value = digitValue(String.fromCodePoint(run.codePointAt(i)!));
    }
    if (value >= 0) {
      if (!inGroup) starts[count] = i;
      inGroup = true;
      digits[n++] = 48 + value;
    } else if (inGroup) {
      ends[count] = i;
      offsets[++count] = n;
      inGroup = false;
    }
    i += width;
  }
  if (inGroup) {
    ends[count] = run.length;
    offsets[++count] = n;
  }
  const ascii = small
    ? String.fromCharCode.apply(null, digits.subarray(0, n) as unknown as number[])
    : LATIN1.decode(digits.subarray(0, n));
  return { digits: ascii, count, offsets, starts, ends };
}

interface RunGroups {
  /** Every group's digits, in ASCII, one after the other. */
  digits: string;
  count: number;
  /** Where each group begins in `digits` (and, at `count`, where the last ends). */
  offsets: Int32Array;
  /** Where each group is written in the run. */
  starts: Int32Array;
  ends: Int32Array;
}

/** 1 for the Luhn sums of up to 19 digits (at most 171) that are no multiple of 10. */
const LUHN_MISS = Uint8Array.from({ length: 172 }, (_, sum) => (sum % 10 === 0 ? 0 : 1));

/**
 * Luhn sums of every prefix of `digits`, for both parities: `sums[2k]` with the digits at even
 * places doubled, `sums[2k + 1]` with those at odd places, over the first k digits. Any span's
 * sum is then a difference of two (see redactRun).
 */
function luhnPrefixes(digits: string): Int32Array {
  const sums = new Int32Array(2 * digits.length + 2);
  steps += digits.length;
  for (let k = 0; k < digits.length; k++) {
    const d = digits.charCodeAt(k) - 48;
    const doubled = d > 4 ? 2 * d - 9 : 2 * d;
    const even = (k & 1) === 0;
    sums[2 * k + 2] = sums[2 * k] + (even ? doubled : d);
    sums[2 * k + 3] = sums[2 * k + 1] + (even ? d : doubled);
  }
  return sums;
}

/**
 * In one run, redacts the whole run when it is a card number, else every span of whole groups
 * holding a card number (a card number glued to more groups, or written without spaces next to a
 * CVV). Spans are tried from every group and merged where they overlap, so a chance Luhn-valid
 * span cannot hide part of a real card number; the groups around them stay.
 */
function redactRun(run: string, before: string, groups: RunGroups): string {
  const { digits, count, offsets, starts, ends } = groups;
  const group = (g: number) => digits.slice(offsets[g], offsets[g + 1]);
  const separator = (g: number) => run.slice(ends[g], starts[g + 1]);
  // `+49 151 ...` is a phone number in international form; no card is written after a plus.
  const phone = before === '+';
  if (!phone && count === 1) return isCardNumber(digits) ? PAN_REDACTED : run;
  if (onlyDates(count, group, separator)) return run;
  if (!phone && isCardNumber(digits)) return PAN_REDACTED;
  if (digits.length < 13) return run;
  // Every span of whole groups of 13 to 19 digits, each checked in constant time from the prefix
  // sums: linear in the run (a run of a million one-digit groups took half a second with a Luhn
  // pass per span). Spans come by start; where they share a group they merge into one marker,
  // their groups and the separators inside it vanish; the text around them stays as written.
  const sums = luhnPrefixes(digits);
  let out = '';
  let copied = 0; // where in the run the text not yet copied begins
  let mergedStart = -1;
  let mergedEnd = -1; // the groups of the spans merged so far
  const flush = () => {
    out += run.slice(copied, starts[mergedStart]) + PAN_REDACTED;
    copied = ends[mergedEnd];
  };
  // The first group that can end a span from `start` (13 digits or more): it never moves back.
  let least = 0;
  for (let start = phone ? 1 : 0; start < count; start++) {
    steps++;
    const from = offsets[start];
    if (least < start) least = start;
    while (least < count && offsets[least + 1] - from < 13) {
      least++;
      steps++;
    }
    if (least >= count) break;
    const first = digits.charCodeAt(from) - 48;
    if (first === 0) continue; // no issuer number starts with 0
    // A span that ends within the groups merged already changes nothing: the search starts past
    // them (a run of one-digit groups with card numbers from nearly every group, 1 MiB of
    // `4+4+...` read as one run of half a million groups, tried every span of 13 digits or more).
    for (let last = Math.max(least, mergedEnd + 1); last < count; last++) {
      steps++;
      const to = offsets[last + 1];
      const length = to - from;
      if (length > 19) break;
      if (length === 13 && (first < 4 || first > 6)) continue;
      // The span's last digit is not doubled, nor any at an even distance from it: with the
      // last digit at place to - 1, the doubled places have the other parity.
      const parity = (to - 1) & 1; // 0: doubled at odd places (sums[2k + 1]), 1: at even ones
      const sum = sums[2 * to + 1 - parity] - sums[2 * from + 1 - parity];
      if (LUHN_MISS[sum]) continue;
      if (start <= mergedEnd) {
        if (last > mergedEnd) mergedEnd = last;
      } else {
        if (mergedEnd >= 0) flush();
        mergedStart = start;
        mergedEnd = last;
      }
    }
  }
  if (mergedEnd < 0) return run;
  flush();
  return out + run.slice(copied);
}

/**
 * The third reading: a card number in the groups brands print (4-4-4-4, 4-4-4-4-3, 4-4-4-1 to
 * 4-4-4-3, Amex 4-6-5, Diners 4-6-4) with any punctuation between them: `4111|1111|1111|1111`,
 * `4111:1111:1111:1111`, `4111 * 1111 * ...`, full-width bars, `(4111)(1111)...`. Readable as a
 * card number to anyone, so written so to slip past a detector that knows only the separators of
 * the first reading. Only these layouts, because punctuation also separates the numbers of
 * tables, times and lists: reading every span of them as the first reading does would redact
 * table rows and times (`10:30:45`) by the Luhn check's chance one in ten. Commas and semicolons
 * (of any script) never join groups: they separate list items (`[2019,2020,2021,2022]`);
 * letters never do. A layout of four-digit years only (`| 2019 | 2020 | 2021 | 2022 |`) and one
 * after a plus (a phone number) stay. Up to MAX_GAP characters between two groups. One pass,
 * three layouts tried at the end of each group: linear.
 */
function redactPunctuated(text: string): string {
  // Without a sign the first reading does not skip, it found all there is to find.
  if (!PUNCTUATION_HINT.test(text)) return text;
  punctuatedOut = '';
  punctuatedCopied = 0;
  // The current chain (groups joined by punctuation): where each group starts and ends, and for
  // each the last group of the longest card-number span starting there (-1: none). No closure
  // over these: the loop keeps them in registers.
  let { starts, ends, reach } = chainArrays;
  let count = 0;
  let hits = false;
  let gap = 0;
  // Whether the characters since the last group hold one the first reading does not skip.
  let punctuated = false;
  // The chain index of the last group that followed such characters: a span without one was
  // judged by the first reading already, which tries every span of its groups.
  let lastPunctuated = -1;
  for (let i = 0; i < text.length;) {
    steps++;
    const c = text.charCodeAt(i);
    let kind: Kind;
    let width = 1;
    // A line break ends a chain here: a card is printed on one line, while numbered lines (`# 1004`
    // under `# 1003`, a list's items) are not one number. (The first reading still joins groups
    // broken over lines by white space alone.)
    if (c < 0x80)
      kind =
        c >= 48 && c <= 57 ? DIGIT : c >= 10 && c <= 13 ? BREAK : asciiPunctuation(c) ? GAP : BREAK;
    else if (
      c === 0xff0c ||
      c === 0xff1b ||
      c === 0x060c ||
      c === 0x061b ||
      c === 0x3001 ||
      c === 0x85 ||
      c === 0x2028 ||
      c === 0x2029
    )
      kind = BREAK; // full-width, Arabic and ideographic commas and semicolons; line breaks
    else {
      kind = classifyWide(text, i, c); // a letter breaks; other signs join
      if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) width = 2;
    }
    if (kind !== DIGIT) {
      if (kind === BREAK || ++gap > MAX_GAP) {
        if (hits) emitChain(text, count, starts, ends, reach);
        count = 0;
        hits = false;
        gap = 0;
        punctuated = false;
        lastPunctuated = -1;
      } else if (!punctuated)
        punctuated = c < 0x80 ? !asciiSeparator(c) : runKind(text, i, c) !== GAP;
      i += width;
      continue;
    }
    // A group: every digit up to the next non-digit; the digits of a short one kept (a printed
    // group has at most six).
    const start = i;
    const chain = count;
    const slot = (chain % 5) * 6;
    let size = 0;
    while (i < text.length) {
      const d = text.charCodeAt(i);
      let value: number;
      if (d >= 48 && d <= 57) {
        value = d - 48;
        i++;
      } else if (d >= 0x80 && classifyWide(text, i, d) === DIGIT) {
        const cp = text.codePointAt(i)!;
        value = digitValue(String.fromCodePoint(cp));
        i += cp > 0xffff ? 2 : 1;
      } else break;
      if (size < 6) chainDigits[slot + size] = value;
      size++;
      steps++;
    }
    if (count === starts.length) ({ starts, ends, reach } = growChain(count));
    starts[count] = start;
    ends[count] = i;
    reach[count++] = -1;
    chainSizes[chain % 5] = size;
    if (punctuated && chain > 0) lastPunctuated = chain;
    punctuated = false;
    gap = 0;
    for (let k = 3; k <= 5 && k <= chain + 1; k++) {
      steps++;
      const first = chain + 1 - k;
      // Only spans with punctuation inside, laid out as printed, after no plus (a phone number).
      if (lastPunctuated <= first || !printedLayout(first, k)) continue;
      if (starts[first] > 0 && text[starts[first] - 1] === '+') continue;
      if (!printedCard(first, k)) continue;
      reach[first] = chain;
      hits = true;
    }
  }
  if (hits) emitChain(text, count, starts, ends, reach);
  if (starts.length > SMALL_CHAIN) chainArrays = newChain(SMALL_CHAIN); // give a long one back
  const out = punctuatedOut;
  punctuatedOut = '';
  return punctuatedCopied === 0 ? text : out + text.slice(punctuatedCopied);
}

/**
 * A character that joins groups in redactPunctuated but not in redactRuns: ASCII punctuation but
 * `,` `;` and the separators `-` `.` `/` `_`, or any non-ASCII character (checked there).
 */
const PUNCTUATION_HINT = /[!-+:<-@[-^`{-~\u0080-\uffff]/;

/** The text redactPunctuated has built so far, and where in its input the rest begins. */
let punctuatedOut = '';
let punctuatedCopied = 0;

/** Writes out a chain's spans, by start, merged where they share a group: one marker each. */
function emitChain(
  text: string,
  count: number,
  starts: Int32Array,
  ends: Int32Array,
  reach: Int32Array,
): void {
  for (let g = 0, last = -1, from = -1; g <= count; g++) {
    steps++;
    if (from >= 0 && (g === count || g > last)) {
      punctuatedOut += text.slice(punctuatedCopied, starts[from]) + PAN_REDACTED;
      punctuatedCopied = ends[last];
      from = -1;
    }
    if (g < count && reach[g] >= 0) {
      if (from < 0) from = g;
      if (reach[g] > last) last = reach[g];
    }
  }
}

/**
 * Where the groups of a chain start and end, and the reach of the spans from each (see
 * redactPunctuated): made once, grown for a long chain, and given back after it.
 */
const SMALL_CHAIN = 1024;
const newChain = (size: number) => ({
  starts: new Int32Array(size),
  ends: new Int32Array(size),
  reach: new Int32Array(size),
});
let chainArrays = newChain(SMALL_CHAIN);

function growChain(count: number): typeof chainArrays {
  const grown = newChain(2 * count);
  grown.starts.set(chainArrays.starts);
  grown.ends.set(chainArrays.ends);
  grown.reach.set(chainArrays.reach);
  chainArrays = grown;
  return grown;
}

/** The sizes of the last five groups of the chain, and their first six digits (see above). */
const chainSizes = new Int32Array(5);
const chainDigits = new Uint8Array(5 * 6);

/** Whether the `k` groups of the chain from `first` are laid out as brands print card numbers. */
function printedLayout(first: number, k: number): boolean {
  const size = (g: number) => chainSizes[(first + g) % 5];
  if (k === 3) return size(0) === 4 && size(1) === 6 && (size(2) === 5 || size(2) === 4);
  for (let g = 0; g < k - 1; g++) if (size(g) !== 4) return false;
  const last = size(k - 1);
  return last >= 1 && last <= (k === 4 ? 4 : 3);
}

/**
 * Whether the `k` groups of the chain from `first` (laid out as printed) make a card number, and
 * not a list of four-digit years (`2019 | 2020 | 2021 | 2022`): isCardNumber on their digits.
 */
function printedCard(first: number, k: number): boolean {
  let sum = 0;
  let length = 0;
  let years = true;
  // Luhn from the last digit: every second one from it doubled.
  for (let g = first + k - 1; g >= first; g--) {
    const slot = (g % 5) * 6;
    const size = chainSizes[g % 5];
    for (let j = size - 1; j >= 0; j--, length++) {
      let d = chainDigits[slot + j];
      if (length & 1) d = d > 4 ? 2 * d - 9 : 2 * d;
      sum += d;
    }
    const century = 10 * chainDigits[slot] + chainDigits[slot + 1];
    if (size === 4 && century !== 19 && century !== 20) years = false;
  }
  const lead = chainDigits[(first % 5) * 6];
  if (years || lead === 0 || (length === 13 && (lead < 4 || lead > 6))) return false;
  return sum % 10 === 0;
}

/**
 * Whether a run is nothing but dates (`2026-01-15 2026-02-20`, `15.01.2026/20.02.2026`): year,
 * month and day in one of the usual orders, one separator within each date. No card number
 * issued starts with 19 or 20, and a run of whole dates is what date ranges and logs are made of.
 */
function onlyDates(
  count: number,
  group: (g: number) => string,
  separator: (g: number) => string,
): boolean {
  if (count % 3 !== 0) return false;
  for (let g = 0; g < count; g += 3) {
    const within = separator(g);
    if (within !== separator(g + 1) || !/^[-./]$/.test(within)) return false;
    if (!isDate(group(g), group(g + 1), group(g + 2))) return false;
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
