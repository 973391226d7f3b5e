import { createHash } from 'node:crypto';
import { compare } from 'fast-json-patch';
import type { AuthEvent } from '@junction/auth';
import { connectorOf } from '@junction/connectors';
import type { MessageRecord } from '@junction/runtime';
import { Json, safeJson, safeText, safeTextOrNull, scrubSecrets } from './audit-json';
import { EventOutcome, EventRow, MessageRow } from './audit-tables';

const EARLIEST = Date.UTC(1000, 0, 1);
/** A W3C trace id: 32 lower-case hex digits, not all zero. */
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;
const LATEST = Date.UTC(9999, 11, 31);

/** An ISO time Postgres and `Date` agree on, to the millisecond; what is not one becomes `fallback`. */
function isoTime(value: unknown, fallback: Date): string {
  const t = typeof value === 'string' || value instanceof Date ? new Date(value).getTime() : NaN;
  return Number.isFinite(t) && t >= EARLIEST && t <= LATEST
    ? new Date(t).toISOString()
    : fallback.toISOString();
}

function int32(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 2 ** 31 - 1
    ? value
    : 0;
}

/** The searchable name of the place a receipt says a message went, as its protocol names it. */
function targetOf(receipt: unknown): string {
  const r = (receipt ?? {}) as Record<string, unknown>;
  const describe = typeof r.kind === 'string' ? connectorOf(r.kind)?.describeReceipt : undefined;
  return describe ? describe(r) : String(r.kind ?? 'unknown');
}

/**
 * What the audit trail keeps of a finished message: the body after the route's own masking,
 * through the global card-number detector (or nothing, with `auditPayload: 'none'`), and a
 * SHA-256 of the payload as received; every other text through the detector too.
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
    payloadSha256: createHash('sha256')
      .update(record.payload ?? Buffer.alloc(0))
      .digest('hex'),
    traceId:
      typeof record.traceId === 'string' && TRACE_ID.test(record.traceId) ? record.traceId : null,
  };
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
