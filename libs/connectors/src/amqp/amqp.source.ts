import type { Channel, ConsumeMessage } from 'amqplib';
import type { AmqpSourceSpec } from './amqp.protocol';
import { backoffDelay, cancellableSleep, InFlight } from '../backoff';
import type { InboundMessage, MessageHandler, Source } from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import { AmqpChannelKeeper } from './amqp-channel';
import type { AmqpClient } from './amqp-client';

export interface AmqpSourceOptions {
  routeId: string;
  /** How long `start()` waits for the broker (connection, queue declared, consumer registered). */
  startTimeoutMs: number;
}

const DEFAULT_PREFETCH = 100;
/**
 * On a priority queue: the broker orders only what it still holds, and up to `prefetch` messages
 * are already with the gateway, so a small window lets an urgent message overtake sooner.
 */
const DEFAULT_PRIORITY_PREFETCH = 10;

/**
 * Consumes one queue (declared durable if absent, with `x-max-priority` when `maxPriority` says it
 * is a priority queue) with manual acknowledgements. The broker hands
 * out at most `prefetch` unacknowledged messages, so at most `prefetch` handlers run at once; a
 * message is acked after its handler resolved and nacked (requeued) after it rejected, always on
 * the channel it came from. If that channel died meanwhile, the broker has already requeued the
 * message and nothing is sent (acking it on another channel would be a protocol error).
 *
 * Acks that come in one turn of the event loop go out together at its end: a run of them that
 * starts at the oldest message still unsettled on the channel goes as one ack frame (`multiple`,
 * which covers every tag up to the last of the run), the rest one by one. An ack never waits for
 * an older message still running (it would hold the broker's prefetch window), only for the turn
 * to end. A group commit of the audit trail finishes a few dozen messages at once, and the broker
 * spends CPU on each frame it reads.
 */
export class AmqpSource implements Source {
  private keeper?: AmqpChannelKeeper<Channel>;
  private handler?: MessageHandler;
  private stopping = false;
  private running = 0;
  private failures = 0;
  private readonly prefetch: number;
  private readonly inFlight = new InFlight();
  /** Deliveries over the bound: after a reconnect the old channel's handlers may still be running. */
  private readonly waiting: Array<{ channel: Channel; message: ConsumeMessage }> = [];
  private readonly consumerTags = new WeakMap<Channel, string>();
  private readonly closedChannels = new WeakSet<Channel>();
  private readonly backoffs = new Set<{ cancel(): void }>();
  /** Per channel, the delivery tags handed out and neither acked nor nacked yet, oldest first. */
  private readonly unsettled = new WeakMap<Channel, Set<number>>();
  /** Per channel, the messages to ack at the end of this turn, by delivery tag. */
  private readonly acks = new Map<Channel, Map<number, ConsumeMessage>>();
  private ackTurn?: NodeJS.Immediate;

  constructor(
    private readonly client: AmqpClient,
    private readonly spec: AmqpSourceSpec,
    private readonly options: AmqpSourceOptions,
    private readonly logger: ConnectorLogger,
  ) {
    this.prefetch =
      spec.prefetch ??
      (spec.maxPriority !== undefined ? DEFAULT_PRIORITY_PREFETCH : DEFAULT_PREFETCH);
    if (!Number.isInteger(this.prefetch) || this.prefetch < 1 || this.prefetch > 65535)
      throw new RangeError(`prefetch must be an integer from 1 to 65535, not ${spec.prefetch}`);
  }

  private get name(): string {
    return `amqp source ${this.spec.queue} (route ${this.options.routeId})`;
  }

  async start(handler: MessageHandler): Promise<void> {
    if (this.keeper) throw new Error(`${this.name}: already started`);
    this.handler = handler;
    this.stopping = false;
    const keeper = new AmqpChannelKeeper<Channel>(
      this.client,
      { name: this.name, confirm: false, setup: (channel) => this.setup(channel) },
      this.logger,
    );
    this.keeper = keeper;
    try {
      await keeper.ready(this.options.startTimeoutMs);
    } catch (err) {
      this.keeper = undefined;
      await keeper.close();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const keeper = this.keeper;
    if (!keeper) return;
    this.stopping = true;
    const channel = keeper.current;
    const tag = channel && this.consumerTags.get(channel);
    if (channel && tag) await channel.cancel(tag).catch(() => undefined);
    for (const { channel: from, message } of this.waiting.splice(0))
      this.settle(from, message, 'nack');
    for (const backoff of this.backoffs) backoff.cancel();
    await this.inFlight.settled();
    this.sendAcks();
    // Close-ok comes back only after the broker processed every ack sent before it on this channel.
    await keeper.close();
    this.keeper = undefined;
  }

  private async setup(channel: Channel): Promise<void> {
    channel.once('close', () => this.closedChannels.add(channel));
    await channel.assertQueue(this.spec.queue, {
      durable: true,
      ...(this.spec.maxPriority !== undefined ? { maxPriority: this.spec.maxPriority } : {}),
    });
    await channel.prefetch(this.prefetch);
    if (this.stopping) return;
    const { consumerTag } = await channel.consume(
      this.spec.queue,
      (message) => this.onDelivery(channel, message),
      { noAck: false },
    );
    this.consumerTags.set(channel, consumerTag);
    if (this.stopping) await channel.cancel(consumerTag);
  }

  private onDelivery(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (queue deleted): a fresh channel declares and consumes again.
      this.logger.warn(`${this.name}: consumer cancelled by the broker; reopening`);
      void channel.close().catch(() => undefined);
      return;
    }
    let unsettled = this.unsettled.get(channel);
    if (!unsettled) this.unsettled.set(channel, (unsettled = new Set()));
    unsettled.add(message.fields.deliveryTag);
    if (this.stopping) {
      this.settle(channel, message, 'nack');
      return;
    }
    if (this.running >= this.prefetch) {
      this.waiting.push({ channel, message });
      return;
    }
    this.run(channel, message);
  }

  private run(channel: Channel, message: ConsumeMessage): void {
    this.running += 1;
    const done = this.handle(channel, message).finally(() => {
      this.running -= 1;
      const next = this.waiting.shift();
      if (next) this.run(next.channel, next.message);
    });
    void this.inFlight.track(done);
  }

  private async handle(channel: Channel, message: ConsumeMessage): Promise<void> {
    const inbound: InboundMessage = {
      id:
        typeof message.properties.messageId === 'string' ? message.properties.messageId : undefined,
      headers: {},
      payload: message.content,
      source: { type: 'amqp', name: this.spec.queue },
      redelivered: message.fields.redelivered,
    };
    try {
      inbound.headers = stringifyHeaders(message.properties.headers);
    } catch (err) {
      // Dead-lettered by the route like a body it cannot read: a throw here would leave the
      // message unacknowledged, holding a prefetch slot until the channel closes.
      inbound.unreadable = `its headers cannot be read: ${errorText(err)}`;
    }
    try {
      await this.handler!(inbound);
    } catch (err) {
      this.failures += 1;
      this.logger.debug(`${this.name}: handler rejected, requeueing: ${errorText(err)}`);
      // Requeueing at once would spin a failing message through the handler; hold it a little
      // (it keeps its prefetch slot, which also slows intake). stop() cuts the wait short.
      if (!this.stopping) {
        const sleep = cancellableSleep(backoffDelay(this.failures - 1, 50, 5_000));
        this.backoffs.add(sleep);
        await sleep.promise;
        this.backoffs.delete(sleep);
      }
      this.settle(channel, message, 'nack');
      return;
    }
    this.failures = 0;
    this.settle(channel, message, 'ack');
  }

  private settle(channel: Channel, message: ConsumeMessage, how: 'ack' | 'nack'): void {
    if (this.closedChannels.has(channel)) {
      this.logger.debug(`${this.name}: channel gone before the ${how}; the broker requeued it`);
      return;
    }
    if (how === 'ack') {
      let acks = this.acks.get(channel);
      if (!acks) this.acks.set(channel, (acks = new Map()));
      acks.set(message.fields.deliveryTag, message);
      this.ackTurn ??= setImmediate(() => this.sendAcks());
      return;
    }
    this.unsettled.get(channel)?.delete(message.fields.deliveryTag);
    this.send('nack', () => channel.nack(message, false, true));
  }

  /** Sends the acks of this turn: per channel, the run from the oldest unsettled tag in one frame. */
  private sendAcks(): void {
    if (this.ackTurn) clearImmediate(this.ackTurn);
    this.ackTurn = undefined;
    for (const [channel, acks] of this.acks) {
      this.acks.delete(channel);
      if (this.closedChannels.has(channel)) continue; // the broker requeued them
      const unsettled = this.unsettled.get(channel) ?? new Set<number>();
      let last: ConsumeMessage | undefined;
      for (const tag of unsettled) {
        const message = acks.get(tag);
        if (!message) break;
        last = message;
        acks.delete(tag);
        unsettled.delete(tag);
      }
      if (last) this.send('ack', () => channel.ack(last, true));
      for (const [tag, message] of acks) {
        unsettled.delete(tag);
        this.send('ack', () => channel.ack(message));
      }
    }
  }

  private send(how: 'ack' | 'nack', frame: () => void): void {
    try {
      frame();
    } catch (err) {
      // The channel is closing: the broker requeues what was not acknowledged.
      this.logger.debug(`${this.name}: ${how} not sent: ${errorText(err)}`);
    }
  }
}

/**
 * Deepest nesting of tables and arrays a header value may have: a message body's (libs/pipeline).
 * A sender may nest a table thousands of levels deep within one frame.
 */
export const MAX_HEADER_DEPTH = 64;

/**
 * AMQP header values as strings: byte arrays as UTF-8, tables and arrays as JSON. Throws when a
 * value nests tables or arrays deeper than MAX_HEADER_DEPTH (the source dead-letters the message).
 */
export function stringifyHeaders(
  headers: Record<string, unknown> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    out[key] = headerString(value);
  }
  return out;
}

function headerString(value: unknown): string {
  const plain = plainValue(value, 0);
  // A number as its own text: JSON.stringify wrote NaN and the infinities as null.
  if (typeof plain === 'number') return String(plain);
  return typeof plain === 'string' ? plain : JSON.stringify(plain);
}

function plainValue(value: unknown, depth: number): unknown {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (value !== null && typeof value === 'object' && depth >= MAX_HEADER_DEPTH)
    throw new Error(`a header value is nested deeper than ${MAX_HEADER_DEPTH} levels`);
  if (Array.isArray(value)) return value.map((v) => plainValue(v, depth + 1));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainValue(v, depth + 1)]));
  return typeof value === 'string' ? value : value === undefined ? null : value;
}
