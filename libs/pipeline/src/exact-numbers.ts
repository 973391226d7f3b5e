/**
 * JSON numbers a body may hold that JavaScript cannot carry as written. JSON.parse reads every
 * number into a double: `12345678901234567890` (an order id, a 64-bit key, an amount in minor
 * units) arrives as 12345678901234567000, `0.1000000000000000055` as 0.1, `1e400` as Infinity
 * (sent on as null), `1e-400` as 0. A gateway that changed a number on the way would lose data
 * and say nothing; RFC 8259 (section 6) allows a parser to refuse numbers beyond a double's range
 * and precision, and that is what Junction does: such a message is dead-lettered with the place
 * of the number, whose sender may send it as a string.
 */

/**
 * Where a number may not survive: a run of 16 digits or more (15 significant digits always do),
 * or an exponent of three digits (2 or fewer, with 15 digits at most, stay in range). Strings
 * rarely match (a number is never just after a quote: a card number in a string does not), and a
 * match only asks for the exact scan. About 1 µs for a 1 KB body here.
 */
const MAY_CHANGE = /[:,[]\s*-?\d[\d.]{15}|\d[eE][+-]?\d{3}/;
/** The same, for a body that is one number (apart: an alternation with `^` costs a third more). */
const MAY_CHANGE_ALONE = /^\s*-?\d[\d.]{15}/;

export interface ChangedNumber {
  /** JSON Pointer of the number in the body. */
  pointer: string;
  /** Why it cannot be kept, for the dead letter's reason. */
  reason: string;
}

/** The reason to give: `body` (a message) or `the request body` holds a number ... at where. */
export function changedNumberText(subject: string, changed: ChangedNumber): string {
  const at = changed.pointer === '' ? 'its top level' : changed.pointer;
  return `${subject} holds a number JSON cannot carry here unchanged, at ${at}: ${changed.reason} (send it as a string)`;
}

/**
 * The first number of `text` (valid JSON, already parsed) whose double is not the number as
 * written, else undefined. `1.50` and `1.5e0` are 1.5 as written; `-0` is 0.
 */
export function changedNumber(text: string): ChangedNumber | undefined {
  if (!MAY_CHANGE.test(text) && !MAY_CHANGE_ALONE.test(text)) return undefined;
  const frames: Frame[] = [];
  const end = text.length;
  for (let i = 0; i < end;) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      for (i++; text.charCodeAt(i) !== QUOTE; i++) if (text.charCodeAt(i) === BACKSLASH) i++;
      i++;
      const top = frames[frames.length - 1];
      if (top?.keyed && top.key === undefined) top.key = [start, i];
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      const start = i;
      let digits = 0;
      let exponent = -1;
      for (; i < end; i++) {
        const d = text.charCodeAt(i);
        if (d >= ZERO && d <= NINE) {
          if (exponent < 0) digits++;
        } else if (d === LOWER_E || d === UPPER_E) exponent = i + 1;
        else if (d !== DOT && d !== MINUS && d !== PLUS) break;
      }
      // 15 digits or fewer, well inside a double's range: always kept (most numbers end here).
      if (
        digits <= 15 &&
        (exponent < 0 || Math.abs(Number(text.slice(exponent, i))) + digits <= 305)
      )
        continue;
      const reason = numberChange(text.slice(start, i));
      if (reason !== undefined) return { pointer: pointer(text, frames), reason };
    } else {
      if (c === OPEN_BRACE) frames.push({ keyed: true, index: 0 });
      else if (c === OPEN_BRACKET) frames.push({ keyed: false, index: 0 });
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) frames.pop();
      else if (c === COMMA) {
        const top = frames[frames.length - 1];
        if (top.keyed) top.key = undefined;
        else top.index++;
      }
      i++;
    }
  }
  return undefined;
}

interface Frame {
  keyed: boolean;
  /** The current key's quoted text, as [start, end) in the body. */
  key?: [number, number];
  index: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const PLUS = 0x2b;
const DOT = 0x2e;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Why a number's double is not the number as written, or undefined when it is. */
export function numberChange(token: string): string | undefined {
  const value = Number(token);
  if (!Number.isFinite(value))
    return 'the number is beyond the range of a double (about 1.8e308); it would be sent on as null';
  // Written as a double prints itself (a sender that serialised a double): kept.
  if (String(value) === token) return undefined;
  const written = decimal(token);
  if (written === decimal(String(value))) return undefined;
  // A double written with 17 digits (printf's %.17g, older runtimes' round-trip formats) is the
  // same double as its shortest form: its sender wrote a double, and the double goes on.
  if (significant(written) <= 17 && written === decimal(value.toPrecision(17))) return undefined;
  if (value === 0 && written !== '0')
    return 'the number is too small for a double (below about 5e-324); it would be sent on as 0';
  const digits = token.split(/[eE]/)[0].replace(/\D/g, '').replace(/^0+/, '').length;
  return `the number has ${digits.toString()} digits and a double keeps about 16 of them: it would be sent on changed`;
}

/**
 * A decimal number's value as `[-]digits e exponent` (the value is 0.digits × 10^exponent),
 * without leading or trailing zeros, so that two spellings of one value compare equal: `'0'` for
 * zero. `text` is a well-formed JSON number; its cost is linear in its length.
 */
export function decimal(text: string): string {
  const negative = text.startsWith('-');
  const unsigned = negative ? text.slice(1) : text;
  const lower = unsigned.indexOf('e');
  const e = lower >= 0 ? lower : unsigned.indexOf('E');
  const mantissa = e < 0 ? unsigned : unsigned.slice(0, e);
  const dot = mantissa.indexOf('.');
  const integer = dot < 0 ? mantissa : mantissa.slice(0, dot);
  let digits = dot < 0 ? mantissa : integer + mantissa.slice(dot + 1);
  let exponent = (e < 0 ? 0 : Number(unsigned.slice(e + 1))) + integer.length;
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === ZERO) lead++;
  digits = digits.slice(lead);
  exponent -= lead;
  let trail = digits.length;
  while (trail > 0 && digits.charCodeAt(trail - 1) === ZERO) trail--;
  digits = digits.slice(0, trail);
  if (digits === '') return '0';
  return `${negative ? '-' : ''}${digits}e${exponent.toString()}`;
}

/** How many significant digits a `decimal` value has. */
function significant(value: string): number {
  const e = value.indexOf('e');
  return e < 0 ? 1 : e - (value.startsWith('-') ? 1 : 0);
}

function pointer(text: string, frames: Frame[]): string {
  return frames
    .map((frame) => {
      if (!frame.keyed) return `/${frame.index.toString()}`;
      const key = frame.key ? (JSON.parse(text.slice(...frame.key)) as string) : '';
      return `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    })
    .join('');
}
