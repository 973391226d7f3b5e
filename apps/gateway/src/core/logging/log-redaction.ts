import { redactPanText } from '@junction/pipeline';

const USERINFO_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;

/**
 * A log text as it may be written: card numbers redacted (the pipeline's PAN detector), and a
 * password in a URL's user info (`amqp://user:secret@host`) replaced, since error texts of
 * drivers sometimes quote the URL they were given.
 */
export function redactLogText(text: string): string {
  return redactPanText(text).replace(USERINFO_PASSWORD, '$1:***@');
}

/**
 * Every string (keys too) in a log line's fields, redacted; numbers long enough to be a card
 * number become the redacted text; errors become `{ type, message, stack, code }`, redacted.
 * Depth and size are bounded: a log line is no place for a whole document.
 */
export function redactLogValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactLogText(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    const text = String(value);
    const redacted = redactLogText(text);
    return redacted === text ? value : redacted;
  }
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= 8) return '[nested too deep]';
  seen.add(value);
  if (value instanceof Error) {
    const err = value as Error & { code?: unknown; cause?: unknown };
    const out: Record<string, unknown> = {
      type: err.name,
      message: redactLogText(err.message),
    };
    if (err.stack) out.stack = redactLogText(err.stack);
    if (err.code !== undefined) out.code = redactLogValue(err.code, depth + 1, seen);
    if (err.cause !== undefined) out.cause = redactLogValue(err.cause, depth + 1, seen);
    return out;
  }
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value))
    return value.slice(0, 100).map((v) => redactLogValue(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value).slice(0, 200))
    out[redactLogText(key)] = redactLogValue(v, depth + 1, seen);
  return out;
}
