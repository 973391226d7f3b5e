import { isUtf8 } from 'node:buffer';
import { MAX_REPLY_BYTES, type Reply } from '@junction/connectors';
import {
  changedNumber,
  containsPan,
  decimal,
  DEFAULT_DECODE_LIMITS,
  nestedDeeperThan,
  PAN_REDACTED,
  redactPans,
  redactPanText,
} from '@junction/pipeline';

/** A media type as a header may carry it: type/subtype, optional parameters, no control characters. */
const MEDIA_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;[\x20-\x7e]*)?$/;

const BYTES = 'application/octet-stream';

/** The reply's own content type when it is a well-formed one (else none). */
function declaredType(answer: Reply): string | undefined {
  return answer.contentType && MEDIA_TYPE.test(answer.contentType) ? answer.contentType : undefined;
}

/**
 * The content type a sync caller gets with a reply: the reply's own when it is a well-formed one
 * (card numbers in its parameters redacted); JSON when it said none and parses as JSON; else
 * bytes. Only what a message could be (1 MiB, nested 64 levels) is parsed to tell: JSON.parse
 * runs on the event loop, and a partner's 5 MiB reply of nested arrays held it 1.3 s, an AMQP
 * replier's 50 MB one 5.7 s.
 */
export function replyContentType(answer: Reply): string {
  return servedReply(answer).contentType;
}

/** What a sync caller gets of a reply: its content type and its bytes, card numbers redacted. */
export function servedReply(answer: Reply): { contentType: string; body: Buffer } {
  const declared = declaredType(answer);
  if (declared)
    return {
      // Its parameters are the far side's text too (`text/plain; ref=4111...`).
      contentType: redactPanText(declared),
      body: replyWithoutPans(answer.body, declared),
    };
  // One no header may carry: bytes, read as text all the same (what it claimed is no reason to
  // pass them unread).
  if (answer.contentType)
    return { contentType: BYTES, body: replyWithoutPans(answer.body, 'text/plain') };
  // Named none: guessed, and read as text all the same.
  const parsed = parsedJson(answer.body, DEFAULT_DECODE_LIMITS.maxBytes);
  return parsed === undefined
    ? { contentType: BYTES, body: replyWithoutPans(answer.body, 'text/plain') }
    : {
        contentType: 'application/json',
        body: replyWithoutPans(answer.body, 'application/json', parsed),
      };
}

/**
 * The body parsed as JSON when it is at most `maxBytes` and nested at most 64 levels (checked by
 * the linear depth scan before JSON.parse); undefined when it is larger, deeper, or not JSON.
 */
function parsedJson(body: Buffer, maxBytes: number): unknown {
  if (body.length > maxBytes) return undefined;
  const text = body.toString('utf8');
  if (nestedDeeperThan(text, DEFAULT_DECODE_LIMITS.maxDepth ?? 64)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Media types whose bytes are not text: their digit runs are not numbers anyone reads, and
 * rewriting them would corrupt them (an image, a PDF, an archive).
 */
const BINARY_MEDIA =
  /^(?:image|audio|video|font)\/|^application\/(?:octet-stream|pdf|zip|gzip|x-tar|x-7z-compressed|vnd\.ms-excel|vnd\.openxmlformats-officedocument\.[\w.]+|x-protobuf|protobuf|cbor|msgpack|x-msgpack|avro)\b/i;

/**
 * A reply's bytes with every card number redacted, as everything the gateway answers. JSON
 * structurally, when a message could be it (a card number as a JSON number would otherwise
 * leave invalid JSON behind; one holding a number a double cannot hold token by token, so that
 * number goes as written); other text in its own
 * encoding: UTF-8, UTF-16 when its charset says so, and any other bytes as Latin-1, byte for
 * byte (ISO-8859-1 and Windows-1252 partners spell digits as ASCII). The very same bytes when
 * none is found. A binary media type the far side declared goes as it came.
 */
export function replyWithoutPans(body: Buffer, contentType: string, parsed?: unknown): Buffer {
  if (BINARY_MEDIA.test(contentType)) return body;
  const charset = /;\s*charset\s*=\s*"?([\w-]+)/i.exec(contentType)?.[1].toLowerCase();
  if (charset === 'utf-16' || charset === 'utf-16le' || charset === 'utf-16be') {
    const big =
      charset === 'utf-16be' || (charset === 'utf-16' && body[0] === 0xfe && body[1] === 0xff);
    if (body.length % 2 !== 0) return redactBytes(body, 'latin1');
    const bytes = big ? Buffer.from(body).swap16() : body;
    const text = bytes.toString('utf16le');
    const safe = redactPanText(text);
    if (safe === text) return body;
    const out = Buffer.from(safe, 'utf16le');
    return big ? out.swap16() : out;
  }
  if (!isUtf8(body)) return redactBytes(body, 'latin1');
  if (/^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType)) {
    // A reply may be 5 MiB: parsed whole when the depth scan lets it (the stall was nesting).
    parsed ??= parsedJson(body, MAX_REPLY_BYTES);
    if (parsed !== undefined) {
      const text = body.toString('utf8');
      // Parsed values would send a number a double cannot hold on changed: token by token.
      if (changedNumber(text)) return redactBytes(body, 'utf8', jsonTextWithoutPans);
      // The values as parsed (41111111111111110e-1 is a card number too), then the text.
      const safe = redactPans(parsed);
      if (safe !== parsed) return Buffer.from(JSON.stringify(safe));
    }
  }
  return redactBytes(body, 'utf8');
}

/** `body` read as `encoding`, its card numbers redacted; the very same bytes when none is. */
function redactBytes(
  body: Buffer,
  encoding: 'utf8' | 'latin1',
  redact: (text: string) => string = redactPanText,
): Buffer {
  const text = body.toString(encoding);
  const safe = redact(text);
  return safe === text ? body : Buffer.from(safe, encoding);
}

/**
 * Valid JSON text with its card numbers redacted as redactPans would, without parsing its numbers
 * into doubles (each stays as written): a number holding one, as written or by value
 * (41111111111111110e-1), becomes the string PAN_REDACTED, a string or key its text redacted.
 * Redacted as plain text instead, `{"card":4111111111111111,"id":123456789012345678901}` came
 * out as `{"card":[PAN REDACTED],...}`, which no JSON client reads. A card number only the
 * whole text shows (spread over several tokens) is redacted in the text all the same.
 */
function jsonTextWithoutPans(text: string): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    let end = i + 1;
    let replaced: string | undefined;
    if (c === QUOTE) {
      let escaped = false;
      for (let d = text.charCodeAt(end); d !== QUOTE; d = text.charCodeAt(end)) {
        if (d === BACKSLASH) {
          escaped = true;
          end++;
        }
        end++;
      }
      end++;
      // Parsed only when it holds an escape: a 5 MiB reply may hold a million strings.
      const value = escaped
        ? (JSON.parse(text.slice(i, end)) as string)
        : text.slice(i + 1, end - 1);
      const safe = redactPanText(value);
      if (safe !== value) replaced = JSON.stringify(safe);
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let scaled = false;
      for (let d = text.charCodeAt(end); end < text.length; d = text.charCodeAt(++end)) {
        if (d === LOWER_E || d === UPPER_E || d === DOT) scaled = true;
        else if (!((d >= ZERO && d <= NINE) || d === MINUS || d === PLUS)) break;
      }
      if (numberHoldsPan(text, i, end, scaled)) replaced = JSON.stringify(PAN_REDACTED);
    }
    if (replaced !== undefined) {
      out += text.slice(copied, i) + replaced;
      copied = end;
    }
    i = end;
  }
  const tokens = copied === 0 ? text : out + text.slice(copied);
  return redactPanText(tokens);
}

/**
 * Whether the JSON number `text[start, end)` holds a card number as written or by value. Most
 * numbers are settled without a look at their digits (checking each in full held a 5 MiB reply
 * of small numbers 5 s on the event loop): shorter than 13 characters, a number holds fewer than
 * 13 digits as written; an integer (no `.` or exponent) is its value as written; a value below
 * 1e11 holds no 13-digit integer, and its fraction's digits are the written ones.
 */
function numberHoldsPan(text: string, start: number, end: number, scaled: boolean): boolean {
  if (end - start < 13 && !scaled) return false;
  const token = text.slice(start, end);
  if (end - start >= 13 && containsPan(token)) return true;
  if (!scaled) return false;
  const value = Number(token);
  return !(Math.abs(value) < 1e11) && (containsPan(value) || containsPan(exactDecimal(token)));
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/**
 * A JSON number's exact value in plain decimal (`41111111111111110e-1` is `4111111111111111`),
 * or the token itself when its value is beyond any card number's reach (64 digits either side of
 * the point). Built on `decimal`, which drops the zeros before the first and after the last other
 * digit (they change no value, so a card number written with 70 zeros and e-70 is one) in linear
 * time.
 */
function exactDecimal(token: string): string {
  const value = decimal(token);
  const e = value.lastIndexOf('e');
  if (e < 0) return value;
  const sign = value.startsWith('-') ? '-' : '';
  let digits = value.slice(sign.length, e);
  // The point's place, counted from the first significant digit (the value is 0.digits × 10^point).
  let point = Number(value.slice(e + 1));
  if (!(Math.abs(point) <= 64)) return token;
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  }
  digits = digits.padEnd(point, '0');
  const fraction = digits.slice(point);
  return `${sign}${digits.slice(0, point)}${fraction ? `.${fraction}` : ''}`;
}
