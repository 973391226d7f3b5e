import type { SourceRef } from '@junction/pipeline';
import { redactPanText } from '@junction/pipeline';
import type { ConnectorReceipt } from './connectors';

/**
 * The contract between protocol adapters and the route runtime. Adapters are plain TypeScript
 * (no Nest); the runtime wires them. A source hands over raw messages and is told when each is
 * done; a destination publishes and resolves only once the broker or server confirmed.
 */

/** A stored connection as a connector needs it: config with secrets opened. */
export interface ConnectorConnection {
  name: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
}

/** One message from a source, not yet parsed (a bad payload must be dead-lettered, not crash the consumer). */
export interface InboundMessage {
  /** The source's own id: AMQP `messageId`, Kafka header `junction-id`, HTTP `Idempotency-Key`. */
  id?: string;
  headers: Record<string, string>;
  payload: Buffer;
  source: SourceRef;
  redelivered: boolean;
  /**
   * The source cannot take the message back (an HTTP request: its caller may have had its 504,
   * or gone): one the runtime cannot finish is dead-lettered, never handed back.
   */
  final?: boolean;
  /** A caller waits for the route's answer until then (epoch ms; sync HTTP ingest). */
  replyBy?: number;
  /**
   * Set by a source that hands several messages of one ordered stream (a Kafka partition) to the
   * handler at once: the handler sends this message on only once every earlier one issued its
   * sends (`previous()` gives the promise to wait for then, or undefined when none is left to
   * wait for), and calls `issued()` once its sends are issued or it knows it sends none. So
   * messages leave in the stream's order. The source also calls `issued()` when the handler
   * settles.
   */
  order?: { previous(): Promise<void> | undefined; issued(): void };
  /** The source's transaction the message's sends join (`delivery: exactly-once`). */
  transaction?: MessageTransaction;
  /**
   * The source could not read the message: a Kafka record batch that cannot be decompressed or
   * decoded stands as one such message at its last offset. The runtime dead-letters it with this
   * reason, unrun, so that the source acknowledges it and goes on past it.
   */
  unreadable?: string;
  /**
   * A destination refused this very record for good in an earlier try of its transaction
   * (`delivery: exactly-once`: a record larger than the topic takes, say). The runtime
   * dead-letters it with this reason, unsent: sent again, it would abort every try of its
   * transaction and hold its partition for good.
   */
  undeliverable?: string;
  /**
   * Its dead letter was refused for good too, by the route's dead-letter destination, in a later
   * try of its transaction (a dead-letter topic that takes records no larger than the one it
   * refused). The runtime keeps it in the dead-letter table only: sent there again, it would abort
   * every try as well.
   */
  deadLetterRefused?: string;
  /**
   * The record's key (Kafka), as it came: a Kafka destination that does not choose one sends it
   * on, so records of one key stay in order downstream.
   */
  key?: Buffer;
}

/**
 * A source's transaction (Kafka, `delivery: exactly-once`): the deliveries of its messages are
 * sent in it, and it commits together with the source's offsets, or not at all. Opaque to the
 * runtime, which passes it from the inbound message to every outbound one.
 */
export interface MessageTransaction {
  /**
   * A send in it failed: it is aborted and every message in it comes again. Such a message must
   * be given back (its handler rejects), not dead-lettered: the dead letter would be aborted too.
   */
  readonly failed: boolean;
  /**
   * It failed because a destination refused the very record it was sending (too large for the
   * topic, say): the record meets the same refusal however often it is sent, and the source marks
   * it on the redo (`undeliverable`, `deadLetterRefused`). False for any other failure (a topic
   * that does not exist, a refused authorisation, a broker out of reach), which may pass.
   */
  readonly recordRefused?: boolean;
}

/**
 * Called by a source for each message. Resolving means "done: acknowledge" (delivered, filtered
 * or dead-lettered, and audited); it resolves with the runtime's result, which a source with a
 * caller (HTTP ingest) answers with and the others ignore. Rejecting means "not done: give it
 * back" (AMQP nack with requeue; Kafka: do not commit, seek back). A source never acknowledges on
 * its own.
 */
export type MessageHandler = (message: InboundMessage) => Promise<unknown>;

export interface Source {
  /** Starts consuming. Concurrency: AMQP up to `prefetch` at once; Kafka up to `concurrency` per partition, partitions in parallel. */
  start(handler: MessageHandler): Promise<void>;
  /** Stops taking new messages and waits for the handlers in flight to settle (their acks go out). */
  stop(): Promise<void>;
}

export interface OutboundMessage {
  /** Travels as AMQP `messageId`, Kafka header `junction-id`, HTTP `Idempotency-Key`. */
  id: string;
  headers: Record<string, string>;
  /** JSON bytes. */
  body: Buffer;
  /** AMQP routing key (exchange destinations). */
  routingKey?: string;
  /** Kafka message key (null: none). */
  key?: string | Buffer | null;
  /** Message priority 0..255 (AMQP 0-9-1 `priority`, AMQP 1.0 header `priority`); absent: the broker's default. */
  priority?: number;
  /** Send inside this transaction of the source (only a destination that can join it may). */
  transaction?: MessageTransaction;
}

/** What the far side confirmed, for the audit trail: each protocol's receipt, or the log's. */
export type DeliveryReceipt = ConnectorReceipt | { kind: 'log' };

/** The far side's answer to a request (an AMQP reply message, an HTTP response body). */
/**
 * Largest reply a request-reply destination hands back (HTTP reads no more; an AMQP answer over
 * it is refused): the reply goes, whole, to the HTTP caller waiting for it.
 */
export const MAX_REPLY_BYTES = 5 * 1024 * 1024;

export interface Reply {
  body: Buffer;
  /** As the far side named it; absent when it did not. */
  contentType?: string;
}

/**
 * A sent request: confirmed like any send, and an answer to wait for. The answer rejects with a
 * ConnectorError TIMEOUT when none came in time, or CLOSED when the channel it would come on died.
 */
export interface SentRequest {
  receipt: DeliveryReceipt;
  reply: Promise<Reply>;
}

export interface Destination {
  /** Resolves once confirmed (AMQP publisher confirm, Kafka acks from all in-sync replicas, HTTP 2xx); rejects otherwise. */
  send(message: OutboundMessage): Promise<DeliveryReceipt>;
  /**
   * Request-reply, for destinations that can answer (AMQP with `reply`, HTTP): resolves like
   * `send` once the request is confirmed; its `reply` waits up to `replyTimeoutMs` for the answer.
   */
  request?(message: OutboundMessage, replyTimeoutMs: number): Promise<SentRequest>;
  close(): Promise<void>;
}

/** Why a send failed, and whether trying again may help. */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  constructor(
    readonly code: 'UNREACHABLE' | 'REJECTED' | 'TIMEOUT' | 'NOT_ALLOWED' | 'CLOSED',
    message: string,
    /** False for failures the same message will meet again (a 4xx, a host not on the allowlist). */
    readonly retryable: boolean,
    options?: {
      cause?: unknown;
      /** How long the far side asked not to be tried again (an HTTP `Retry-After`), in ms. */
      retryAfterMs?: number;
      /** The far side's status code, when it answered with one (an HTTP status). */
      status?: number;
      /**
       * The far side was not called: the destination held the message back until `retryAfterMs`
       * (a partner's Retry-After). A retry does not count such a try as an attempt.
       */
      notSent?: boolean;
    },
  ) {
    // A target's reply (a 4xx body) may quote the message: its text is redacted where it is made.
    super(
      redactPanText(message),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options?.status !== undefined) this.status = options.status;
    if (options?.notSent) this.notSent = true;
  }

  /** The far side was not called (held back until `retryAfterMs`): not an attempt. */
  readonly notSent?: boolean;

  /** The far side's status code (HTTP), when it answered with one. */
  readonly status?: number;

  /** How long the far side asked not to be tried again, in ms, when it said. */
  readonly retryAfterMs?: number;
}
