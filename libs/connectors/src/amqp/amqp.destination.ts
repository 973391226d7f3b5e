import { randomUUID } from 'node:crypto';
import type { Channel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import type { AmqpDestinationSpec } from './amqp.protocol';
import { InFlight } from '../backoff';
import {
  ConnectorError,
  MAX_REPLY_BYTES,
  type DeliveryReceipt,
  type Destination,
  type OutboundMessage,
  type Reply,
  type SentRequest,
} from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import { AmqpChannelKeeper, amqpReplyCode, PERMANENT_REPLY_CODES } from './amqp-channel';
import type { AmqpClient } from './amqp-client';

/** RabbitMQ's pseudo-queue for replies straight to the requesting channel (no queue to declare or clean up). */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

interface PendingReply {
  channel: Channel;
  resolve(reply: Reply): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface AmqpDestinationOptions {
  /** Longest a send waits, for a channel (reconnects included) and then for the broker's confirm. */
  publishTimeoutMs: number;
}

/** Batching when the route says nothing: what is sent in one turn of the event loop goes together. */
export const DEFAULT_BATCH = { size: 100, lingerMs: 0 } as const;

/** A send waiting for its batch to go, then for its confirm. */
interface Queued {
  message: OutboundMessage;
  properties: { replyTo?: string; correlationId?: string };
  onChannel?: (channel: Channel) => void;
  resolve(receipt: DeliveryReceipt): void;
  reject(err: Error): void;
  settled: boolean;
}

/**
 * Publishes on a confirm channel of its own: to an exchange with the message's routing key, or
 * straight to a queue (declared durable). Persistent, with the message id, `application/json` and
 * the headers. `send` resolves only on the broker's confirm; it rejects on a nack, a lost channel
 * or the time limit. Messages are published `mandatory`: one that no queue is bound to comes back
 * (basic.return, always before its confirm) and is rejected instead of silently dropped. A
 * message's `priority` travels as the AMQP property.
 *
 * Sends are published in batches (`batch.size`, default 100): the sends of one turn of the event
 * loop (or of `batch.lingerMs`) go out back to back, share one channel lookup and one deadline,
 * and RabbitMQ confirms them with acks that cover many at once. Batching never weakens
 * at-least-once: each send still resolves on its own message's confirm only (see {@link flush}).
 *
 * With `reply: true` the channel also consumes RabbitMQ's direct reply-to, and {@link request}
 * publishes with `replyTo` and a fresh `correlationId` per attempt; the responder's answer comes
 * back on this channel and is matched by that id. A reply whose channel died is lost by design
 * of direct reply-to: the waiter is told at once (CLOSED) instead of waiting out its time.
 */
export class AmqpDestination implements Destination {
  private readonly keeper: AmqpChannelKeeper<ConfirmChannel>;
  private readonly exchange: string;
  private readonly queue?: string;
  private readonly inFlight = new InFlight();
  private readonly channelErrors = new WeakMap<Channel, Error>();
  /** Messages of ours each channel has not confirmed yet. */
  private readonly unconfirmed = new WeakMap<Channel, number>();
  /** How many were unconfirmed when the broker closed a channel. */
  private readonly unconfirmedAtClose = new WeakMap<Channel, number>();
  /** Message ids returned as unroutable, waiting for their confirm. */
  private readonly returned = new Map<string, number>();
  /** Requests waiting for their answer, by correlation id. */
  private readonly pending = new Map<string, PendingReply>();
  private closed = false;
  /**
   * A `queue` destination's queue was deleted under it (a publish came back unroutable): the
   * next batch declares it again before it publishes, as the destination did when it opened.
   */
  private queueGone = false;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  /** Sends waiting for the batch to go. */
  private batch: Queued[] = [];
  private lingerTimer?: NodeJS.Timeout;
  private lingerTurn?: NodeJS.Immediate;

  constructor(
    client: AmqpClient,
    private readonly spec: AmqpDestinationSpec,
    private readonly options: AmqpDestinationOptions,
    logger: ConnectorLogger,
  ) {
    if (spec.queue !== undefined && spec.exchange !== undefined && spec.exchange !== '')
      throw new ConnectorError(
        'REJECTED',
        'amqp destination: name an exchange or a queue, not both',
        false,
      );
    this.batchSize = spec.batch?.size ?? DEFAULT_BATCH.size;
    this.lingerMs = spec.batch?.lingerMs ?? DEFAULT_BATCH.lingerMs;
    this.queue = spec.queue;
    this.exchange = spec.queue !== undefined ? '' : (spec.exchange ?? '');
    this.keeper = new AmqpChannelKeeper<ConfirmChannel>(
      client,
      {
        name: `amqp destination ${this.queue !== undefined ? `queue ${this.queue}` : `exchange '${this.exchange}'`}`,
        confirm: true,
        setup: (channel) => this.setup(channel),
      },
      logger,
    );
    // Connected and set up now, not at the first send: the connection's state is what readiness
    // reports (an HTTP-fed route would stay 'connecting' until a message came), and a queue that
    // cannot be declared is said at once.
    this.keeper.open();
  }

  send(message: OutboundMessage): Promise<DeliveryReceipt> {
    if (this.closed)
      return Promise.reject(new ConnectorError('CLOSED', 'amqp destination is closed', false));
    return this.inFlight.track(this.publish(message));
  }

  async request(message: OutboundMessage, replyTimeoutMs: number): Promise<SentRequest> {
    if (this.closed) throw new ConnectorError('CLOSED', 'amqp destination is closed', false);
    if (!this.spec.reply)
      throw new ConnectorError('REJECTED', 'amqp destination does not wait for replies', false);
    const correlationId = randomUUID();
    let entry: PendingReply | undefined;
    const reply = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(
          new ConnectorError(
            'TIMEOUT',
            `no reply to ${message.id} within ${replyTimeoutMs} ms`,
            true,
          ),
        );
      }, replyTimeoutMs);
      entry = { channel: undefined as unknown as Channel, resolve, reject, timer };
    });
    reply.catch(() => undefined); // the caller may stop caring (its own deadline); not unhandled
    // Registered before publishing: a fast responder can answer before the confirm arrives.
    this.pending.set(correlationId, entry!);
    try {
      const receipt = await this.inFlight.track(
        this.publish(message, { replyTo: DIRECT_REPLY_TO, correlationId }, (channel) => {
          entry!.channel = channel;
        }),
      );
      return { receipt, reply };
    } catch (err) {
      clearTimeout(entry!.timer);
      this.pending.delete(correlationId);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inFlight.settled();
    await this.keeper.close();
    this.dropReplies(undefined, 'the destination closed');
  }

  private async setup(channel: ConfirmChannel): Promise<void> {
    channel.on('error', (err: Error) => this.channelErrors.set(channel, err));
    channel.on('return', (returned: Message) => {
      const id: unknown = returned.properties.messageId;
      if (typeof id === 'string') this.returned.set(id, (this.returned.get(id) ?? 0) + 1);
    });
    if (this.queue !== undefined) await this.declareQueue(channel, this.queue);
    if (this.spec.reply) {
      channel.once('close', () => this.dropReplies(channel, 'its channel closed'));
      await channel.consume(DIRECT_REPLY_TO, (reply) => this.onReply(reply), { noAck: true });
    }
  }

  private async declareQueue(channel: Channel, queue: string): Promise<void> {
    await channel.assertQueue(queue, {
      durable: true,
      ...(this.spec.maxPriority !== undefined ? { maxPriority: this.spec.maxPriority } : {}),
    });
  }

  private onReply(reply: ConsumeMessage | null): void {
    const id: unknown = reply?.properties.correlationId;
    if (!reply || typeof id !== 'string') return;
    const entry = this.pending.get(id);
    if (!entry) return; // late (timed out) or not ours: nothing waits for it
    this.pending.delete(id);
    clearTimeout(entry.timer);
    // The replier may answer anything up to RabbitMQ's 128 MB; the HTTP caller gets it whole.
    if (reply.content.length > MAX_REPLY_BYTES) {
      entry.reject(
        new ConnectorError(
          'REJECTED',
          `reply of ${reply.content.length} bytes, larger than ${MAX_REPLY_BYTES}`,
          false,
        ),
      );
      return;
    }
    const contentType: unknown = reply.properties.contentType;
    entry.resolve({
      body: reply.content,
      ...(typeof contentType === 'string' ? { contentType } : {}),
    });
  }

  /** Fails the waiters whose answers can no longer come (their channel, or every one). */
  private dropReplies(channel: Channel | undefined, why: string): void {
    for (const [id, entry] of this.pending) {
      if (channel !== undefined && entry.channel !== channel) continue;
      this.pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(new ConnectorError('CLOSED', `reply lost: ${why}`, true));
    }
  }

  private publish(
    message: OutboundMessage,
    properties: { replyTo?: string; correlationId?: string } = {},
    onChannel?: (channel: Channel) => void,
  ): Promise<DeliveryReceipt> {
    return new Promise<DeliveryReceipt>((resolve, reject) => {
      const entry: Queued = { message, properties, onChannel, resolve, reject, settled: false };
      this.batch.push(entry);
      if (this.batch.length >= this.batchSize) return this.flushNow();
      if (this.batch.length > 1) return;
      // The first of a batch: it goes once the current turn of the event loop is over (every send
      // made in it joins), or after the linger time.
      if (this.lingerMs > 0) this.lingerTimer = setTimeout(() => this.flushNow(), this.lingerMs);
      else this.lingerTurn = setImmediate(() => this.flushNow());
    });
  }

  private flushNow(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    if (this.lingerTurn) clearImmediate(this.lingerTurn);
    this.lingerTimer = this.lingerTurn = undefined;
    const entries = this.batch;
    if (entries.length === 0) return;
    this.batch = [];
    void this.flush(entries);
  }

  /**
   * Publishes a batch back to back on the confirm channel and gives it one deadline. Each message
   * keeps its own confirm callback: amqplib settles them from RabbitMQ's acks, which cover many
   * delivery tags at once (`multiple`), so a nack or a closed channel rejects exactly the messages
   * it left unconfirmed, and the others of the batch still resolve.
   */
  private async flush(entries: Queued[]): Promise<void> {
    const started = Date.now();
    const timeoutMs = this.options.publishTimeoutMs;
    let channel: ConfirmChannel;
    try {
      channel = await this.keeper.ready(timeoutMs);
    } catch (err) {
      for (const entry of entries) this.settle(entry, err as Error);
      return;
    }
    if (this.queueGone && this.queue !== undefined) {
      this.queueGone = false;
      try {
        await this.declareQueue(channel, this.queue);
      } catch (err) {
        this.queueGone = true;
        for (const entry of entries)
          this.settle(
            entry,
            new ConnectorError(
              'CLOSED',
              `${this.where(entry)}: its queue is gone and could not be declared again: ${errorText(err)}`,
              true,
              { cause: err },
            ),
          );
        return;
      }
    }
    let open = entries.length;
    const timer = setTimeout(
      () => {
        for (const entry of entries)
          this.settle(
            entry,
            new ConnectorError(
              'TIMEOUT',
              `${this.where(entry)}: no confirm within ${timeoutMs} ms`,
              true,
            ),
          );
      },
      Math.max(1, timeoutMs - (Date.now() - started)),
    );
    const confirmed = (entry: Queued, err: unknown): void => {
      const unroutable = this.takeReturned(entry.message.id);
      if (--open === 0) clearTimeout(timer);
      this.settle(entry, err || unroutable ? this.failure(entry, channel, err) : undefined);
      this.unconfirmed.set(channel, (this.unconfirmed.get(channel) ?? 1) - 1);
    };
    for (const entry of entries) {
      const { message } = entry;
      entry.onChannel?.(channel);
      try {
        channel.publish(
          this.exchange,
          this.routingKey(message),
          message.body,
          {
            persistent: true,
            mandatory: true,
            messageId: message.id,
            contentType: 'application/json',
            headers: { ...this.spec.headers, ...message.headers },
            ...(message.priority !== undefined ? { priority: message.priority } : {}),
            ...entry.properties,
          },
          (err) => confirmed(entry, err),
        );
        this.unconfirmed.set(channel, (this.unconfirmed.get(channel) ?? 0) + 1);
      } catch (err) {
        // The channel closed between ready() and now (nothing of this message reached the broker).
        if (--open === 0) clearTimeout(timer);
        this.settle(
          entry,
          new ConnectorError('CLOSED', `${this.where(entry)}: ${errorText(err)}`, true, {
            cause: err,
          }),
        );
      }
    }
  }

  private settle(entry: Queued, err: Error | undefined): void {
    if (entry.settled) return;
    entry.settled = true;
    if (err) entry.reject(err);
    else
      entry.resolve({
        kind: 'amqp',
        exchange: this.exchange,
        routingKey: this.routingKey(entry.message),
      });
  }

  /**
   * Why a publish failed: unroutable, nacked, or its channel closed (and why). A channel the
   * broker closed for good reason (a message it refuses, a missing exchange) fails a message for
   * good only when it was the one unconfirmed message: the broker took the ones before the culprit
   * and dropped the ones after it, so with several unconfirmed each is failed retryably, and a
   * retry (alone, at the latest) tells which one the broker refuses.
   */
  private failure(entry: Queued, channel: Channel, err: unknown): ConnectorError {
    const where = this.where(entry);
    if (!err && this.queue !== undefined) {
      // The default exchange routes to every queue by name: the queue was deleted. Declared
      // again before the next publish, so a retry delivers (a deleted queue had dead-lettered
      // every message that came after, without a retry).
      this.queueGone = true;
      return new ConnectorError(
        'CLOSED',
        `${where}: the queue was deleted; it is declared again for the next try`,
        true,
      );
    }
    if (!err) return new ConnectorError('REJECTED', `${where}: unroutable (no queue bound)`, false);
    const closedBy = this.channelErrors.get(channel);
    if (closedBy) {
      const code = amqpReplyCode(closedBy);
      let atClose = this.unconfirmedAtClose.get(channel);
      if (atClose === undefined) {
        atClose = this.unconfirmed.get(channel) ?? 1;
        this.unconfirmedAtClose.set(channel, atClose);
      }
      const permanent = code !== undefined && PERMANENT_REPLY_CODES.has(code) && atClose === 1;
      return new ConnectorError(
        permanent ? 'REJECTED' : 'CLOSED',
        `${where}: ${errorText(closedBy)}`,
        !permanent,
        { cause: closedBy },
      );
    }
    const text = errorText(err);
    return new ConnectorError(
      text.includes('nack') ? 'REJECTED' : 'CLOSED',
      `${where}: ${text}`,
      true,
      { cause: err },
    );
  }

  private routingKey(message: OutboundMessage): string {
    return this.queue ?? message.routingKey ?? '';
  }

  private where(entry: Queued): string {
    return `amqp publish to ${this.queue !== undefined ? `queue ${this.queue}` : `exchange '${this.exchange}' with key '${this.routingKey(entry.message)}'`}`;
  }

  private takeReturned(id: string): boolean {
    const count = this.returned.get(id);
    if (!count) return false;
    if (count === 1) this.returned.delete(id);
    else this.returned.set(id, count - 1);
    return true;
  }
}
