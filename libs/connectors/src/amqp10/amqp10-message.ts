import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { message as rheaMessage, type Message } from 'rhea';
import type { OutboundMessage } from '../connector';
import { MAX_HEADER_DEPTH, stringifyHeaders } from '../amqp/amqp.source';
import { errorText } from '../logger';

/** The body section codes of AMQP 1.0 (rhea keeps data and sequence bodies as a Section of one of these). */
const DATA_SECTION = 0x75;
const SEQUENCE_SECTION = 0x76;

/**
 * What an AMQP 1.0 message carries: the id as `message-id`, the headers as application
 * properties, the bytes as one data section (never an amqp-value: a receiver on another stack
 * would see a string or a map instead of the bytes sent), durable unless told otherwise, and the
 * route's priority in the header (absent: the default, 4).
 */
export function toAmqp10Message(
  message: OutboundMessage,
  options: { headers?: Record<string, string>; durable?: boolean } = {},
): Message {
  return {
    message_id: message.id,
    content_type: 'application/json',
    durable: options.durable ?? true,
    ...(message.priority !== undefined ? { priority: message.priority } : {}),
    application_properties: { ...options.headers, ...message.headers },
    body: rheaMessage.data_section(message.body),
  };
}

export interface Amqp10Inbound {
  id?: string;
  headers: Record<string, string>;
  payload: Buffer;
  /** The broker handed it out before (header delivery-count above 0). */
  redelivered: boolean;
  /** Why it cannot be read (the route dead-letters it, unrun). */
  unreadable?: string;
}

/** The parts of a received message read here (rhea has two Message typings; both fit). */
export interface ReceivedAmqp10Message {
  message_id?: unknown;
  application_properties?: Record<string, unknown>;
  delivery_count?: number;
  body?: unknown;
}

/**
 * Reads a received message; never throws (a strange body is the route's to dead-letter, not a
 * crash): one whose properties or body cannot be read (nested too deep) comes back `unreadable`.
 */
export function fromAmqp10Message(message: ReceivedAmqp10Message): Amqp10Inbound {
  const redelivered = typeof message.delivery_count === 'number' && message.delivery_count > 0;
  let id: string | undefined;
  try {
    id = idText(message.message_id);
    return {
      ...(id !== undefined ? { id } : {}),
      headers: stringifyHeaders(message.application_properties),
      payload: bodyBytes(message.body),
      redelivered,
    };
  } catch (err) {
    return {
      ...(id !== undefined ? { id } : {}),
      headers: {},
      payload: Buffer.alloc(0),
      redelivered,
      unreadable: `it cannot be read: ${errorText(err)}`,
    };
  }
}

/** The longest id text kept as written; a longer one (a big map or list) becomes its digest. */
const MAX_ID_TEXT = 1024;

/**
 * message-id as text: one text per distinct id, the same on every redelivery (receivers and
 * the audit trail tell messages apart by it). A string as is, a number (ulong) in decimal, a uuid
 * as its text, binary as hex, a timestamp as ISO text, anything else a sender's stack may put
 * there (a map, a list) as JSON, bytes inside it as hex. rhea reads a uuid, binary and a ulong
 * past 2^53 + 2^32 all as bytes: 16 of them read as a uuid, 8 as a ulong (a 64-bit id; binary
 * of that length reads as its unsigned value, still one text per id), others as hex. Longer than
 * MAX_ID_TEXT, the text becomes `sha256:<hex>` of it. Card numbers are the runtime's to replace
 * (keptMessageId), as for any source's id. Throws past the nesting limit.
 */
function idText(id: unknown): string | undefined {
  if (id === undefined || id === null) return undefined;
  if (typeof id === 'string') return id;
  let text: string;
  if (Buffer.isBuffer(id))
    text =
      id.length === 16
        ? uuidText(id)
        : id.length === 8
          ? id.readBigUInt64BE().toString()
          : id.toString('hex');
  else {
    const plainId = plainIdPart(id, 0);
    text = typeof plainId === 'string' ? plainId : JSON.stringify(plainId);
  }
  return text.length <= MAX_ID_TEXT
    ? text
    : `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

/** JSON-safe and faithful: bytes as hex, 64-bit integers and non-finite numbers as text. */
function plainIdPart(value: unknown, depth: number): unknown {
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value !== null && typeof value === 'object' && depth >= MAX_HEADER_DEPTH)
    throw new Error(`the message-id is nested deeper than ${MAX_HEADER_DEPTH} levels`);
  if (Array.isArray(value)) return value.map((v) => plainIdPart(v, depth + 1));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, plainIdPart(v, depth + 1)]),
    );
  return value === undefined ? null : value;
}

function uuidText(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The payload bytes: data sections as sent (several are joined), an amqp-value string as UTF-8
 * (what a JMS TextMessage becomes), binary as is, anything else (a map, a list, a number) as JSON.
 */
function bodyBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (isSection(body)) {
    if (body.typecode === DATA_SECTION) {
      const parts = body.multiple ? (body.content as unknown[]) : [body.content];
      return Buffer.concat(parts.map((part) => (Buffer.isBuffer(part) ? part : Buffer.alloc(0))));
    }
    if (body.typecode === SEQUENCE_SECTION)
      return Buffer.from(JSON.stringify(plain(body.content)), 'utf8');
  }
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(plain(body)) ?? '', 'utf8');
}

function isSection(
  body: unknown,
): body is { typecode: number; content: unknown; multiple?: boolean } {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { typecode?: unknown }).typecode === 'number' &&
    'content' in body
  );
}

/**
 * JSON-safe: bytes as UTF-8 text, 64-bit integers as strings, dates as ISO text. Throws past a
 * body's nesting limit (a map or list nested thousands of levels deep would overflow the stack),
 * and on a value JSON would not carry as sent (the message is dead-lettered, not changed).
 */
function plain(value: unknown, depth = 0): unknown {
  if (Buffer.isBuffer(value)) return bytesText(value);
  if (typeof value === 'number') return exactNumber(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object' && depth >= MAX_HEADER_DEPTH)
    throw new Error(`the body is nested deeper than ${MAX_HEADER_DEPTH} levels`);
  if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, depth + 1)]));
  return value;
}

/**
 * rhea reads a long or ulong beyond 2^53 + 2^32 (an id), a decimal32/64/128 (an amount) and a
 * uuid as the bytes of their encoding, like binary: as text they came out as garbage
 * (1234567890123456789 as "\u0011\"\u0010\ufffd}\ufffd\u0015"). Bytes that are not text
 * (invalid UTF-8, or control characters) are refused; so is binary that is not text, which
 * UTF-8 decoding would have changed.
 */
function bytesText(bytes: Buffer): string {
  if (!isUtf8(bytes) || bytes.some(isControl))
    throw new Error(
      'the body holds bytes that are not text (binary, or a long, decimal or uuid rhea cannot read)',
    );
  return bytes.toString('utf8');
}

/** A control character other than tab, line feed and carriage return. */
function isControl(byte: number): boolean {
  return (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) || byte === 0x7f;
}

/** JSON writes NaN and the infinities as null; rhea reads a (u)long from 2^53 to 2^53 + 2^32 rounded. */
function exactNumber(value: number): number {
  if (!Number.isFinite(value))
    throw new Error(`the body holds ${String(value)}, which JSON cannot carry`);
  if (Number.isInteger(value) && Math.abs(value) >= 2 ** 53 && Math.abs(value) < 2 ** 53 + 2 ** 32)
    throw new Error('the body holds a 64-bit integer beyond 2^53, which JSON cannot carry exactly');
  return value;
}
