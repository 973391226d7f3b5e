import { randomUUID } from 'node:crypto';
import type { Connection, Delivery, EventContext, Message, Receiver, ReceiverOptions } from 'rhea';
import { backoffDelay, cancellableSleep, InFlight } from '../backoff';
import type { InboundMessage, MessageHandler, Source } from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import type { Amqp10Client } from './amqp10-client';
import { Amqp10LinkKeeper } from './amqp10-link';
import { fromAmqp10Message } from './amqp10-message';
import { DEFAULT_PREFETCH, subscriptionName, type Amqp10SourceSpec } from './amqp10.protocol';

export interface Amqp10SourceOptions {
  routeId: string;
  /** How long `start()` waits for the broker (connection open, receiver attached). */
  startTimeoutMs: number;
}

/** A delivery and the receiver it came on (settled only there, and only while that link lives). */
interface Received {
  link: Receiver;
  delivery: Delivery;
  message: Message;
}

/**
 * Consumes one address over AMQP 1.0 with settlement after delivery, never on receipt:
 *
 * - Flow control is the link credit: `prefetch` at attach, one more per settled message, so the
 *   broker never has more than `prefetch` unsettled messages out to this source.
 * - A handler that resolved: `accepted`. One that rejected: `modified` with delivery-failed (the
 *   broker counts the attempt, marks the next delivery as redelivered and applies its own
 *   max-delivery-attempts / dead-letter address). A message that arrives while stopping never
 *   reached a handler: `released` (not counted).
 * - A queue (capability `queue`, anycast) is consumed as is. A topic (capability `topic`,
 *   multicast) is read through a durable shared subscription (Artemis: a queue named
 *   `<subscription>:global`), so processes of one route split the messages and none published
 *   while the gateway is down are lost; stopping detaches from it and never deletes it.
 * - A delivery whose link or connection died is never settled: the broker has given it back.
 */
export class Amqp10Source implements Source {
  private keeper?: Amqp10LinkKeeper<Receiver>;
  private handler?: MessageHandler;
  private stopping = false;
  private running = 0;
  private failures = 0;
  private readonly prefetch: number;
  private readonly inFlight = new InFlight();
  private readonly waiting: Received[] = [];
  private readonly deadLinks = new WeakSet<Receiver>();
  private readonly backoffs = new Set<{ cancel(): void }>();

  constructor(
    private readonly client: Amqp10Client,
    private readonly spec: Amqp10SourceSpec,
    private readonly options: Amqp10SourceOptions,
    private readonly logger: ConnectorLogger,
  ) {
    this.prefetch = spec.prefetch ?? DEFAULT_PREFETCH;
    if (!Number.isInteger(this.prefetch) || this.prefetch < 1 || this.prefetch > 10_000)
      throw new RangeError(`prefetch must be an integer from 1 to 10000, not ${spec.prefetch}`);
  }

  private get topic(): boolean {
    return this.spec.capability === 'topic';
  }

  private get name(): string {
    return `amqp10 source ${this.spec.address} (route ${this.options.routeId})`;
  }

  async start(handler: MessageHandler): Promise<void> {
    if (this.keeper) throw new Error(`${this.name}: already started`);
    this.handler = handler;
    this.stopping = false;
    const subscription = this.topic ? subscriptionName(this.spec, this.options.routeId) : undefined;
    // A durable subscription is named by its link name; a queue consumer needs only a unique one.
    const linkName = subscription ?? `junction:${this.options.routeId}:${randomUUID()}`;
    const keeper = new Amqp10LinkKeeper<Receiver>(
      this.client,
      {
        name: this.name,
        detachOnClose: subscription !== undefined,
        open: (connection) => this.open(connection, linkName),
        attached: (link) => {
          if (!this.stopping) link.add_credit(this.prefetch);
        },
        lost: (link) => this.deadLinks.add(link),
      },
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
    for (const received of this.waiting.splice(0)) this.settle(received, 'release');
    for (const backoff of this.backoffs) backoff.cancel();
    await this.inFlight.settled();
    // Dispositions go out before the detach on the same session: the broker has them first.
    await keeper.close();
    this.keeper = undefined;
  }

  private open(connection: Connection, linkName: string): Receiver {
    const options: ReceiverOptions = {
      name: linkName,
      source: this.topic
        ? {
            address: this.spec.address,
            capabilities: ['topic', 'shared', 'global'],
            durable: 2, // unsettled-state
            expiry_policy: 'never',
          }
        : { address: this.spec.address, capabilities: ['queue'] },
      credit_window: 0, // credit is given back per settled message, not per received one
      autoaccept: false,
      rcv_settle_mode: 0, // first: settled once we say so
    };
    const link = connection.open_receiver(options);
    link.on('message', (context: EventContext) => {
      if (context.delivery && context.message)
        this.onDelivery({ link, delivery: context.delivery, message: context.message });
    });
    return link;
  }

  private onDelivery(received: Received): void {
    if (this.stopping) {
      this.settle(received, 'release');
      return;
    }
    // After a reconnect, handlers of the old link may still run while the new one has its credit.
    if (this.running >= this.prefetch) {
      this.waiting.push(received);
      return;
    }
    this.run(received);
  }

  private run(received: Received): void {
    this.running += 1;
    const done = this.handle(received).finally(() => {
      this.running -= 1;
      const next = this.waiting.shift();
      if (next) this.run(next);
    });
    void this.inFlight.track(done);
  }

  private async handle(received: Received): Promise<void> {
    const fields = fromAmqp10Message(received.message);
    const inbound: InboundMessage = {
      ...fields,
      source: { type: 'amqp10', name: this.spec.address },
    };
    try {
      await this.handler!(inbound);
    } catch (err) {
      this.failures += 1;
      this.logger.debug(`${this.name}: handler rejected, giving it back: ${errorText(err)}`);
      // Giving it back at once would spin a failing message through the handler; hold it a
      // little (it keeps its credit, which also slows intake). stop() cuts the wait short.
      if (!this.stopping) {
        const sleep = cancellableSleep(backoffDelay(this.failures - 1, 50, 5_000));
        this.backoffs.add(sleep);
        await sleep.promise;
        this.backoffs.delete(sleep);
      }
      this.settle(received, 'modified');
      return;
    }
    this.failures = 0;
    this.settle(received, 'accept');
  }

  private settle({ link, delivery }: Received, how: 'accept' | 'modified' | 'release'): void {
    if (this.deadLinks.has(link) || !link.is_open() || !link.connection.is_open()) {
      this.logger.debug(`${this.name}: link gone before the ${how}; the broker gave it back`);
      return;
    }
    try {
      if (how === 'accept') delivery.accept();
      else if (how === 'modified')
        delivery.modified({ delivery_failed: true, undeliverable_here: false });
      else delivery.release(); // without parameters: released, not modified
      if (!this.stopping) link.add_credit(1);
    } catch (err) {
      // The connection is closing: the broker gives back what was not settled.
      this.logger.debug(`${this.name}: ${how} not sent: ${errorText(err)}`);
    }
  }
}
