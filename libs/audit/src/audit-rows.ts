import { hash } from 'node:crypto';
import { compare } from 'fast-json-patch';
import type { AuthEvent } from '@junction/auth';
import { connectorOf } from '@junction/connectors';
import { containsPan } from '@junction/pipeline';
import type { MessageRecord } from '@junction/runtime';
import {
  auditJson,
  auditReceiptsJson,
  auditTextJson,
  Json,
  safeJson,
  safeText,
  safeTextOrNull,
  scrubSecrets,
} from './audit-json';
import { EventOutcome, EventRow, MessageRow, MessageRowText } from './audit-tables';

const EARLIEST = Date.UTC(1000, 0, 1);
/** A W3C trace id: 32 lower-case hex digits, not all zero. */
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;
const LATEST = Date.UTC(9999, 11, 31);

/** An ISO time Postgres and `Date` agree on, to the millisecond; what is not one becomes `fallback`. */
function isoTime(value: unknown, fallback: Date): string {
  if (
    typeof value === 'string' &&
    value.length === 24 &&
    value.startsWith(isoDay) &&
    ISO_TIME.test(value)
  )
    return value; // already what this would make of it (the runtime's own times, mostly)
  const t = typeof value === 'string' || value instanceof Date ? new Date(value).getTime() : NaN;
  if (!Number.isFinite(t) || t < EARLIEST || t > LATEST) return fallback.toISOString();
  const iso = new Date(t).toISOString();
  // A day seen whole (not the last one, whose end is past LATEST): its times need no Date.
  if (iso === value && iso < '9999-12-31') isoDay = iso.slice(0, 11);
  return iso;
}

/** The day (`2025-01-02T`) of the last time {@link isoTime} found already in its own form. */
let isoDay = '-';
/** The time of day, as toISOString writes it (a day's times, unlike its dates, need no calendar). */
const ISO_TIME = /^.{11}(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

function int32(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 2 ** 31 - 1
    ? value
    : 0;
}

/** The searchable name of the place a receipt says a message went, as its protocol names it. */
function targetOf(receipt: unknown): string {
  const r = (receipt ?? {}) as Record<string, unknown>;
  try {
    const describe = typeof r.kind === 'string' ? connectorOf(r.kind)?.describeReceipt : undefined;
    return describe ? describe(r) : String(r.kind ?? 'unknown');
  } catch {
    return 'unknown'; // a receipt no text can be made of (a field without toString)
  }
}

const NO_PAYLOAD = Buffer.alloc(0);
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The hex SHA-256 of the payload as received (the runtime's own, when it hashed it already). */
function payloadSha256(record: MessageRecord): string {
  if (typeof record.payloadSha256 === 'string' && SHA256_HEX.test(record.payloadSha256))
    return record.payloadSha256;
  return hash('sha256', record.payload ?? NO_PAYLOAD, 'hex');
}

/** The record's trace id, or null when it has none, a malformed one or one spelling a card number. */
function traceIdOf(record: MessageRecord): string | null {
  return typeof record.traceId === 'string' &&
    TRACE_ID.test(record.traceId) &&
    !containsPan(record.traceId)
    ? record.traceId
    : null;
}

/**
 * What the audit trail keeps of a finished message: the body after the route's own masking,
 * through the global card-number detector (or nothing, with `auditPayload: 'none'`), and a
 * SHA-256 of the payload as received; every other text through the detector too. The row as
 * values (as it is read back); the writer takes {@link messageRowText}, the same row as text.
 */
export function messageRow(record: MessageRecord, now: Date = new Date()): MessageRow {
  const receipts = (record.receipts ?? []).map((r) => ({
    destination: r.destination,
    receipt: scrubSecrets(r.receipt),
  }));
  return {
    messageId: safeText(String(record.messageId)),
    routeId: safeText(String(record.routeId)),
    routeVersion: int32(record.routeVersion),
    source: safeJson(record.source ?? null),
    outcome: record.outcome,
    destinations: safeJson(receipts),
    targets: receipts.map((r) => safeText(targetOf(r.receipt))),
    attempts: int32(record.attempts),
    receivedAt: isoTime(record.receivedAt, now),
    doneAt: isoTime(record.doneAt, now),
    errorCode: safeTextOrNull(record.error?.code),
    errorMessage: safeTextOrNull(record.error?.message),
    errorWhere: safeTextOrNull(record.error?.where),
    body: record.auditPayload === 'none' ? null : safeJson(record.body ?? null),
    payloadSha256: payloadSha256(record),
    traceId: traceIdOf(record),
  };
}

/** A text as canonical JSON, through the detector. */
const textJson = (value: unknown): string => auditTextJson(String(value));
/** {@link textJson}, keeping null and undefined as null. */
const textOrNullJson = (value: unknown): string =>
  value === null || value === undefined ? 'null' : textJson(value);

/** Whether `receipt` is a flat plain object, whose target name scrubbing cannot change unless it changed a value. */
function flat(receipt: unknown): boolean {
  if (receipt === null || typeof receipt !== 'object') return false;
  if (Object.getPrototypeOf(receipt) !== Object.prototype) return false;
  for (const key in receipt) {
    const value = (receipt as Record<string, unknown>)[key];
    if (value !== null && typeof value === 'object') return false;
  }
  return true;
}

/**
 * {@link messageRow} as the writer takes it: `MESSAGES.content(messageRow(record)).map(canonicalJson)`,
 * byte for byte, made in one pass from the record (no value copied, parsed or sorted twice), so
 * that the texts are hashed and sent to Postgres as they are.
 */
export function messageRowText(record: MessageRecord, now: Date = new Date()): MessageRowText {
  const receipts = record.receipts ?? [];
  const destinations = auditReceiptsJson(receipts);
  const targets: string[] = new Array<string>(receipts.length);
  for (let i = 0; i < receipts.length; i++) {
    const receipt = receipts[i].receipt;
    // A target name is made from the scrubbed receipt: the receipt itself when scrubbing left
    // it as it was (the common case).
    targets[i] = safeText(
      targetOf(!destinations.scrubbed && flat(receipt) ? receipt : scrubSecrets(receipt)),
    );
  }
  let targetsJson = '[';
  for (let i = 0; i < targets.length; i++)
    targetsJson += (i > 0 ? ',' : '') + JSON.stringify(targets[i]);
  const traceId = traceIdOf(record);
  const content = [
    textJson(record.messageId),
    textJson(record.routeId),
    String(int32(record.routeVersion)),
    auditJson(record.source ?? null),
    JSON.stringify(record.outcome),
    destinations.text,
    targetsJson + ']',
    String(int32(record.attempts)),
    JSON.stringify(isoTime(record.receivedAt, now)),
    JSON.stringify(isoTime(record.doneAt, now)),
    textOrNullJson(record.error?.code),
    textOrNullJson(record.error?.message),
    textOrNullJson(record.error?.where),
    record.auditPayload === 'none' ? 'null' : auditJson(record.body ?? null),
    `"${payloadSha256(record)}"`,
  ];
  // Hashed when there is one: the rows written before trace ids existed keep their hashes.
  if (traceId !== null) content.push(`"${traceId}"`);
  return { content, targets };
}

/** Something a person or a machine did, as the admin audit takes it. */
export interface AuditEventInput {
  /** e.g. `login.succeeded`, `request.denied`, `route.updated`, `apikey.created`. */
  type: string;
  outcome: EventOutcome;
  /** User or API key name; `(anonymous)` when no one signed in. */
  actor: string;
  actorKind?: 'user' | 'apiKey' | 'anonymous' | 'system' | null;
  provider?: string | null;
  ip?: string | null;
  target?: { type: string; id: string } | null;
  details?: Record<string, unknown>;
  /** State before and after the change; secrets are removed before anything is kept. */
  before?: unknown;
  after?: unknown;
  occurredAt?: string;
}

function isContainer(value: Json): value is Json[] | { [key: string]: Json } {
  return value !== null && typeof value === 'object';
}

/** The row for an event: before/after without secrets or card numbers, and the diff between them. */
export function eventRow(event: AuditEventInput, now: Date = new Date()): EventRow {
  const state = (value: unknown): Json =>
    value === undefined || value === null ? null : safeJson(scrubSecrets(value));
  const before = state(event.before);
  const after = state(event.after);
  const diff = isContainer(before) && isContainer(after) ? safeJson(compare(before, after)) : null;
  return {
    occurredAt: isoTime(event.occurredAt, now),
    type: safeText(event.type),
    outcome: event.outcome,
    actor: safeText(event.actor || '(anonymous)'),
    actorKind: safeTextOrNull(event.actorKind),
    provider: safeTextOrNull(event.provider),
    ip: safeTextOrNull(event.ip),
    targetType: safeTextOrNull(event.target?.type),
    targetId: safeTextOrNull(event.target?.id),
    details: safeJson(scrubSecrets(event.details ?? {})),
    before,
    after,
    diff,
  };
}

/** Sign-ins, failed sign-ins and denied requests, as reported by the auth module. */
export function authEventInput(event: AuthEvent): AuditEventInput {
  const base = { actor: event.actor, ip: event.ip ?? null };
  switch (event.type) {
    case 'login.succeeded':
      return {
        ...base,
        type: event.type,
        outcome: 'success',
        actorKind: 'user',
        provider: event.provider,
      };
    case 'login.failed':
      return {
        ...base,
        type: event.type,
        outcome: 'failure',
        actorKind: 'user',
        provider: event.provider,
        details: { reason: event.reason },
      };
    case 'login.throttled':
      return {
        ...base,
        type: event.type,
        outcome: 'denied',
        actorKind: 'anonymous',
        provider: event.provider,
        details: { until: event.until, failures: event.failures },
      };
    case 'request.denied':
      return {
        ...base,
        type: event.type,
        outcome: 'denied',
        actorKind: event.actor === '(anonymous)' ? 'anonymous' : null,
        details: { method: event.method, path: event.path, status: event.status },
      };
    default: {
      // A kind of event added to the auth module later: kept, with what it says.
      const {
        type,
        actor: _actor,
        ip: _ip,
        ...rest
      } = event as { type: string } & Record<string, unknown>;
      const outcome: EventOutcome = /denied/.test(type)
        ? 'denied'
        : /fail/.test(type)
          ? 'failure'
          : 'success';
      return {
        ...base,
        type,
        outcome,
        provider: typeof rest.provider === 'string' ? rest.provider : null,
        details: rest,
      };
    }
  }
}
