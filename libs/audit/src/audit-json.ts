import { mayHoldPan, redactPans, redactPanText } from '@junction/pipeline';

/** A JSON value as Postgres `jsonb` stores it and `JSON.parse` gives it back. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const MAX_DEPTH = 256;
const TOO_DEEP = '[REDACTED: nested too deep to inspect]';

/** The card-number detector (it leaves whole UUIDs, such as message ids, as they are). */
function redactCardNumbers(text: string): string {
  return redactPanText(text);
}

/**
 * Text fit for an audit row: card numbers redacted, and what Postgres cannot store (NUL, a lone
 * UTF-16 surrogate) replaced, so that one odd message can never make a whole batch fail.
 */
export function safeText(text: string): string {
  let out = redactCardNumbers(text);
  if (out.includes('\u0000')) out = out.split('\u0000').join('\uFFFD');
  return SURROGATE.test(out) ? out.replace(LONE_SURROGATE, '\uFFFD') : out;
}

/** {@link safeText}, keeping null and undefined as null. */
export function safeTextOrNull(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : safeText(String(text));
}

/**
 * Any value as the JSON an audit row stores: what `JSON.stringify` keeps of it (the same value
 * the row gives back, so its hash can be checked later), with card numbers redacted in every
 * string, number and key. Never throws: what cannot be serialised is stored as a note saying so.
 */
export function safeJson(value: unknown): Json {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    try {
      // A BigInt (JSON.stringify refuses them) as its digits; anything else cannot be kept.
      text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    } catch {
      return '[REDACTED: value could not be serialised]';
    }
  }
  if (text === undefined) return null;
  const parsed = JSON.parse(text) as Json;
  return mayNeedCleaning(text) ? clean(parsed, 0) : parsed;
}

/** NUL or a UTF-16 surrogate, as JSON.stringify writes them (escaped). */
const ESCAPED_ODDITY = /\\u(?:0000|d[89a-f])/i;

/**
 * Whether {@link clean} could change anything in the value `text` (compact JSON) stands for.
 * Every string, key and number of the value is a piece of the text, and in compact JSON a digit
 * run never spans two of them, so a text that cannot hold one (mayHoldPan) holds no card number; without
 * escaped NULs or surrogates, nothing Postgres refuses; with at most MAX_DEPTH brackets, nothing
 * too deep. Most audited bodies (already masked) pass, and skip the walk.
 */
function mayNeedCleaning(text: string): boolean {
  // mayHoldPan counts digits of every script and any separator, JSON escapes (`\t`) included.
  if (mayHoldPan(text) || ESCAPED_ODDITY.test(text)) return true;
  let brackets = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c === 0x5b || c === 0x7b) && ++brackets > MAX_DEPTH) return true; // [ {
  }
  return false;
}

/** Cleans a fresh `JSON.parse` result in place (it is ours alone), which spares a copy. */
function clean(value: Json, depth: number): Json {
  if (typeof value === 'string') return safeText(value);
  if (typeof value === 'number') return redactPans(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return TOO_DEEP; // cannot inspect it all: fail closed
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = clean(value[i], depth + 1);
    return value;
  }
  for (const key of Object.keys(value)) {
    const child = clean(value[key], depth + 1);
    const safeKey = safeText(key);
    if (safeKey !== key) delete value[key];
    set(value, safeKey, child);
  }
  return value;
}

/** `out[key] = value`, where a key named __proto__ stays a key (not the object's prototype). */
function set<T>(out: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(out, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    out[key] = value;
  }
}

/** JSON with object keys sorted, no white space: the same text for the same value, always. */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  // Plain loops and concatenation: this runs over every audited body, on the hot path.
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + canonicalJson(value[i]);
    return out + ']';
  }
  const keys = Object.keys(value).sort();
  out = '{';
  for (let i = 0; i < keys.length; i++)
    out += (i > 0 ? ',' : '') + JSON.stringify(keys[i]) + ':' + canonicalJson(value[keys[i]]);
  return out + '}';
}

/**
 * Where the one-pass writer leaves a value to the two-pass path ({@link canonicalJson} of
 * {@link safeJson}): whatever `JSON.stringify` would treat in its own way (toJSON, BigInt, a
 * class instance), a key the detector would rename, or a value too deep to inspect. Rare.
 */
const TWO_PASS = new Error('left to the two-pass path');

/** What the writer of secret-scrubbed text noted: whether scrubbing changed anything. */
interface Scrubbing {
  changed: boolean;
}

/**
 * `canonicalJson(safeJson(value))`, the text an audit row stores and hashes, in one pass over the
 * value with no copy of it: keys sorted, card numbers redacted in every string, number and key,
 * what Postgres cannot store replaced, what JSON.stringify drops left out. Byte for byte the same
 * text as the two-pass path (a seeded random test holds it to that), which it falls back to for
 * the rare values it does not take on itself.
 */
export function auditJson(value: unknown): string {
  try {
    return writeJson(value, 0, undefined) ?? 'null';
  } catch {
    return canonicalJson(safeJson(value));
  }
}

/**
 * The audit text of a message's receipts, `[{ destination, receipt }]`, with secrets removed from
 * each receipt as {@link scrubSecrets} does: byte for byte
 * `canonicalJson(safeJson(receipts.map((r) => ({ destination, receipt: scrubSecrets(receipt) }))))`.
 * Answers too whether scrubbing changed any receipt (most change none).
 */
export function auditReceiptsJson(
  receipts: ReadonlyArray<{ destination: unknown; receipt: unknown }>,
): { text: string; scrubbed: boolean } {
  const scrubbing: Scrubbing = { changed: false };
  try {
    let out = '[';
    for (let i = 0; i < receipts.length; i++) {
      const r = receipts[i];
      // { destination, receipt }: the keys in sorted order, one left out if JSON drops its value.
      const destination = writeJson(r.destination, 2, undefined);
      const receipt = writeJson(r.receipt, 2, scrubbing);
      out += i > 0 ? ',{' : '{';
      if (destination !== undefined) out += `"destination":${destination}`;
      if (receipt !== undefined)
        out += `${destination !== undefined ? ',' : ''}"receipt":${receipt}`;
      out += '}';
    }
    return { text: out + ']', scrubbed: scrubbing.changed };
  } catch {
    const scrubbed = receipts.map((r) => ({
      destination: r.destination,
      receipt: scrubSecrets(r.receipt),
    }));
    return { text: canonicalJson(safeJson(scrubbed)), scrubbed: true };
  }
}

/** A string as audit text: `JSON.stringify(safeText(text))`. */
export function auditTextJson(text: string): string {
  const plain = plainStringJson(text);
  if (plain !== undefined) return plain;
  // A message id as the runtime makes them: the detector keeps whole UUIDs.
  if (text.length === 36 && WHOLE_UUID.test(text)) return `"${text}"`;
  return JSON.stringify(safeText(text));
}

const WHOLE_UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/**
 * The JSON of a string that the detector and JSON.stringify both leave as it is, found in one
 * scan: printable ASCII without quote or backslash (nothing to escape, no surrogate, no NUL),
 * and no run of 13 digits (no card number). The run is counted as mayHoldPan counts it, but
 * only ended by what surely ends it there (a letter other than t, punctuation that separates no
 * digits), so it is never shorter: a string this passes, mayHoldPan passes too. Undefined for
 * any other string, which takes the full path. Most texts of an audited body pass.
 */
function plainStringJson(text: string): string | undefined {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits >= 13) return undefined;
    } else if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      return undefined;
    } else if (c === 37 /* % */) {
      // A percent-escape (`%20`, `%2D`, `%34`) separates groups or is a digit: the detector reads
      // URLs both ways. Its letters must not end the run here.
      if (HEX.test(text[i + 1] ?? '') && HEX.test(text[i + 2] ?? '')) {
        for (const h of [text.charCodeAt(i + 1), text.charCodeAt(i + 2)])
          if (h >= 48 && h <= 57) digits += 1;
        digits += 1; // what it stands for may be a digit
        i += 2;
        if (digits >= 13) return undefined;
      }
    } else if (
      c !== 32 &&
      c !== 43 &&
      c !== 45 &&
      c !== 46 &&
      c !== 47 &&
      c !== 95 &&
      c !== 116 &&
      c !== 126
    ) {
      // space + - . / _ ~ and t (of \t) may separate the groups of a card number (`+` in a form's
      // query, `~` of a JSON pointer's `~1`)
      digits = 0;
    }
  }
  return `"${text}"`;
}

const HEX = /^[0-9A-Fa-f]$/;

/**
 * One value as audit text, or undefined where JSON leaves it out (undefined, a function, a
 * symbol). `depth` counts as {@link clean} does; `scrubbing`, when given, applies
 * {@link scrubSecrets}'s rules on the way. Throws {@link TWO_PASS} for what it leaves to the
 * two-pass path.
 */
function writeJson(
  value: unknown,
  depth: number,
  scrubbing: Scrubbing | undefined,
): string | undefined {
  switch (typeof value) {
    case 'string': {
      let text = value;
      if (scrubbing) {
        text = value.replace(URL_CREDENTIALS, `$1:${SECRET_REMOVED}@`);
        if (text !== value) scrubbing.changed = true;
      }
      return auditTextJson(text);
    }
    case 'number': {
      if (!Number.isFinite(value)) return 'null';
      // Only an integer of 13 digits or more may be a card number.
      if (!Number.isInteger(value) || Math.abs(value) < 1e12) return String(value);
      const safe = redactPans(value);
      return typeof safe === 'number' ? String(safe) : JSON.stringify(safe);
    }
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    case 'bigint':
      throw TWO_PASS;
    default:
      return undefined;
  }
  if (value === null) return 'null';
  if (depth > MAX_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function')
    throw TWO_PASS;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) throw TWO_PASS;
    let out = '[';
    for (let i = 0; i < value.length; i++)
      out += (i > 0 ? ',' : '') + (writeJson(value[i], depth + 1, scrubbing) ?? 'null');
    return out + ']';
  }
  if (proto !== Object.prototype && proto !== null) throw TWO_PASS;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    let child = record[key];
    if (scrubbing && isSecretEntry(key, child)) {
      child = SECRET_REMOVED;
      scrubbing.changed = true;
    }
    const text = writeJson(child, depth + 1, scrubbing);
    if (text === undefined) continue;
    let keyJson = plainStringJson(key);
    if (keyJson === undefined) {
      // A key the detector would change may collide with another: the two-pass path settles that.
      if (safeText(key) !== key) throw TWO_PASS;
      keyJson = JSON.stringify(key);
    }
    out += (first ? '' : ',') + keyJson + ':' + text;
    first = false;
  }
  return out + '}';
}

const SECRET_KEY =
  /pass(word|phrase)?|secret|token|credential|private|api[-_]?key|^key$|keyhash|authorization|cookie|^sasl/i;
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/@:]*):[^\s/@]*@/gi;
export const SECRET_REMOVED = '[REMOVED]';

/**
 * A before/after state with secrets removed: values under keys that name a secret (password,
 * token, key, authorization...) and passwords in URLs. A list of secret *names* (a connection's
 * `secrets: ['password']`, which tells which are set) is kept.
 */
export function scrubSecrets(value: unknown): unknown {
  return scrub(value, 0);
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.replace(URL_CREDENTIALS, `$1:${SECRET_REMOVED}@`);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  // As JSON.stringify has it (an invalid date is null), where toISOString would throw.
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>))
    set(out, key, isSecretEntry(key, child) ? SECRET_REMOVED : scrub(child, depth + 1));
  return out;
}

/** A value under a key that names a secret (but not a list of secret names), to be removed. */
function isSecretEntry(key: string, child: unknown): boolean {
  if (child === null || child === undefined || !SECRET_KEY.test(key)) return false;
  const namesOnly =
    Array.isArray(child) && child.every((c) => typeof c === 'string') && /secret/i.test(key);
  return !namesOnly;
}
