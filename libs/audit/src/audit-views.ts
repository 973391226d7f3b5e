import { JunctionError } from '@junction/common';
import { Json } from './audit-json';
import { Chained, EventRow, MessageRow } from './audit-tables';
import { ChainPosition } from './audit.repository';

/** One message on one route, as the API shows it. */
export interface MessageAuditView {
  /** This record's place in the chain (the id `verify` names). */
  id: string;
  recordedAt: string;
  messageId: string;
  routeId: string;
  routeVersion: number;
  source: Json;
  outcome: string;
  destinations: Json;
  attempts: number;
  receivedAt: string;
  doneAt: string;
  error: { code: string | null; message: string | null; where: string | null } | null;
  /** The body after the route's masking, card numbers redacted; null with `audit.payload: none`. */
  body: Json;
  payloadSha256: string;
  /** The W3C trace id the message travelled in; null when it had none. */
  traceId: string | null;
  prevHash: string;
  hash: string;
}

export interface EventAuditView {
  id: string;
  recordedAt: string;
  occurredAt: string;
  type: string;
  outcome: string;
  actor: string;
  actorKind: string | null;
  provider: string | null;
  ip: string | null;
  target: { type: string | null; id: string | null } | null;
  details: Json;
  before: Json;
  after: Json;
  diff: Json;
  prevHash: string;
  hash: string;
}

export function messageView(c: Chained<MessageRow>): MessageAuditView {
  const r = c.row;
  return {
    id: c.seq,
    recordedAt: c.recordedAt,
    messageId: r.messageId,
    routeId: r.routeId,
    routeVersion: r.routeVersion,
    source: r.source,
    outcome: r.outcome,
    destinations: r.destinations,
    attempts: r.attempts,
    receivedAt: r.receivedAt,
    doneAt: r.doneAt,
    error:
      r.errorCode === null && r.errorMessage === null
        ? null
        : { code: r.errorCode, message: r.errorMessage, where: r.errorWhere },
    body: r.body,
    payloadSha256: r.payloadSha256,
    traceId: r.traceId,
    prevHash: c.prevHash.toString('hex'),
    hash: c.hash.toString('hex'),
  };
}

export function eventView(c: Chained<EventRow>): EventAuditView {
  const r = c.row;
  return {
    id: c.seq,
    recordedAt: c.recordedAt,
    occurredAt: r.occurredAt,
    type: r.type,
    outcome: r.outcome,
    actor: r.actor,
    actorKind: r.actorKind,
    provider: r.provider,
    ip: r.ip,
    target:
      r.targetType === null && r.targetId === null ? null : { type: r.targetType, id: r.targetId },
    details: r.details,
    before: r.before,
    after: r.after,
    diff: r.diff,
    prevHash: c.prevHash.toString('hex'),
    hash: c.hash.toString('hex'),
  };
}

/**
 * An opaque paging cursor: the position of the last row of a page. Positions never move (rows
 * are only appended, newer ones after), so paging stays stable while records keep arriving.
 */
export function encodeCursor(position: ChainPosition): string {
  return Buffer.from(`${Date.parse(position.recordedAt)}.${position.seq}`).toString('base64url');
}

export function decodeCursor(cursor: string): ChainPosition {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,15})\.(\d{1,19})$/.exec(text);
  if (!match) throw new JunctionError('BAD_REQUEST', 'cursor is not one this API gave out');
  return { recordedAt: new Date(Number(match[1])).toISOString(), seq: match[2] };
}
