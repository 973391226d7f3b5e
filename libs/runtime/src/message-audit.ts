import type { DeliveryReceipt } from '@junction/connectors';
import type { SourceRef } from '@junction/pipeline';

export type MessageOutcome = 'delivered' | 'filtered' | 'unroutable' | 'dead-lettered' | 'replayed';

/** What the runtime knows of one message on one route when it is done with it. */
export interface MessageRecord {
  messageId: string;
  routeId: string;
  routeVersion: number;
  source: SourceRef;
  outcome: MessageOutcome;
  receipts: Array<{ destination: number; receipt: DeliveryReceipt }>;
  attempts: number;
  receivedAt: string;
  doneAt: string;
  error?: { code: string; message: string; where?: string };
  /** The body after the route (masked by the route's own stages), if any. */
  body?: unknown;
  /** The payload as received, for hashing; never stored as is. */
  payload: Buffer;
  /**
   * The hex SHA-256 of `payload`, when the runtime has it already: a dead letter's payload may be
   * far over the message limit, and is hashed once, off the event loop's critical path.
   */
  payloadSha256?: string;
  auditPayload: 'masked' | 'none';
  /** The W3C trace the message belongs to (its caller's, or the one tracing started). */
  traceId?: string;
}

/**
 * Where finished messages are recorded. The runtime acknowledges a source message only after
 * `record` resolved, so an implementation must resolve only once the record is durable.
 */
export interface MessageAuditSink {
  record(record: MessageRecord): Promise<void>;
}

export const MESSAGE_AUDIT_SINK = Symbol('MESSAGE_AUDIT_SINK');

/** Until the audit trail is wired in: nothing to wait for. */
export const NO_AUDIT: MessageAuditSink = { record: () => Promise.resolve() };

/**
 * Told of every message once its record is durable (metrics, for one). Called synchronously on
 * the message's path: it must be quick and must not throw (what it throws is ignored).
 */
export interface MessageObserver {
  message(record: MessageRecord): void;
}

export const MESSAGE_OBSERVER = Symbol('MESSAGE_OBSERVER');

/** The sink, telling `observer` of each record it made durable. */
export function observedSink(sink: MessageAuditSink, observer: MessageObserver): MessageAuditSink {
  return {
    record: async (record) => {
      await sink.record(record);
      try {
        observer.message(record);
      } catch {
        // An observer's failure is no reason to hold back a message.
      }
    },
  };
}

/** An event the runtime records on someone's behalf (a replay job and what it replayed). */
export interface RuntimeEvent {
  type: string;
  outcome: 'success' | 'failure';
  actor: string;
  actorKind: 'user' | 'apiKey' | 'system';
  target: { type: string; id: string };
  details: Record<string, unknown>;
}

/** Where runtime events go (the audit trail's events); resolves once durable. */
export interface EventAuditSink {
  event(event: RuntimeEvent): Promise<void>;
}

export const EVENT_AUDIT_SINK = Symbol('EVENT_AUDIT_SINK');
