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
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const namesOnly =
      Array.isArray(child) && child.every((c) => typeof c === 'string') && /secret/i.test(key);
    const removed = SECRET_KEY.test(key) && !namesOnly && child !== null && child !== undefined;
    set(out, key, removed ? SECRET_REMOVED : scrub(child, depth + 1));
  }
  return out;
}
