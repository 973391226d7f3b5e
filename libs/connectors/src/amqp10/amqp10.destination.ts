import type { Delivery, EventContext, Sender } from 'rhea';
import { InFlight } from '../backoff';
import {
  ConnectorError,
  type DeliveryReceipt,
  type Destination,
  type OutboundMessage,
} from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import { amqpError, type Amqp10Client } from './amqp10-client';
import { Amqp10LinkKeeper } from './amqp10-link';
import { toAmqp10Message } from './amqp10-message';
import type { Amqp10DestinationSpec } from './amqp10.protocol';

export interface Amqp10DestinationOptions {
  /** Longest a send waits: for the link (reconnects included), for credit, then for the outcome. */
  publishTimeoutMs: number;
}

interface Pending {
  link: Sender;
  resolve(receipt: DeliveryReceipt): void;
  reject(err: ConnectorError): void;
}

/**
 * Sends to one address over AMQP 1.0, unsettled: `send` resolves only when the broker's
 * disposition says `accepted`. `rejected` fails for good (the broker will refuse it again);
 * `released` and `modified` fail retryably, and so does a lost link or connection (the outcome is
 * unknown: the retry may make a duplicate, never a loss). With no link credit (the broker is
 * applying flow control) a send waits for credit within its time limit.
 */
export class Amqp10Destination implements Destination {
  private readonly keeper: Amqp10LinkKeeper<Sender>;
  private readonly inFlight = new InFlight();
  private readonly pending = new Map<Delivery, Pending>();
  private readonly receipt: DeliveryReceipt;
  private readonly where: string;
  private closed = false;

  constructor(
    client: Amqp10Client,
    private readonly spec: Amqp10DestinationSpec,
    private readonly options: Amqp10DestinationOptions,
    logger: ConnectorLogger,
  ) {
    const capability = spec.capability ?? 'queue';
    this.receipt = { kind: 'amqp10', address: spec.address };
    this.where = `amqp10 send to ${capability} ${spec.address}`;
    this.keeper = new Amqp10LinkKeeper<Sender>(
      client,
      {
        name: `amqp10 destination ${capability} ${spec.address}`,
        open: (connection) => {
          const link = connection.open_sender({
            target: { address: spec.address, capabilities: [capability] },
            snd_settle_mode: 0, // unsettled: the broker tells us the outcome
            autosettle: true,
          });
          link.on('accepted', (context: EventContext) => this.outcome(context, 'accepted'));
          link.on('rejected', (context: EventContext) => this.outcome(context, 'rejected'));
          link.on('released', (context: EventContext) => this.outcome(context, 'released'));
          link.on('modified', (context: EventContext) => this.outcome(context, 'modified'));
          return link;
        },
        lost: (link) => this.failPending(link, 'the link or its connection was lost'),
      },
      logger,
    );
  }

  send(message: OutboundMessage): Promise<DeliveryReceipt> {
    if (this.closed)
      return Promise.reject(new ConnectorError('CLOSED', 'amqp10 destination is closed', false));
    return this.inFlight.track(this.publish(message));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inFlight.settled();
    await this.keeper.close();
  }

  private async publish(message: OutboundMessage): Promise<DeliveryReceipt> {
    const deadline = Date.now() + this.options.publishTimeoutMs;
    const link = await this.keeper.ready(this.options.publishTimeoutMs);
    await this.credit(link, deadline);
    return new Promise<DeliveryReceipt>((resolve, reject) => {
      let delivery: Delivery;
      try {
        delivery = link.send(
          toAmqp10Message(message, { headers: this.spec.headers, durable: this.spec.durable }),
        );
      } catch (err) {
        reject(
          new ConnectorError('CLOSED', `${this.where}: ${errorText(err)}`, true, { cause: err }),
        );
        return;
      }
      const timer = setTimeout(
        () => {
          if (!this.pending.delete(delivery)) return;
          reject(
            new ConnectorError(
              'TIMEOUT',
              `${this.where}: no outcome within ${this.options.publishTimeoutMs} ms`,
              true,
            ),
          );
        },
        Math.max(1, deadline - Date.now()),
      );
      this.pending.set(delivery, {
        link,
        resolve: (receipt) => {
          clearTimeout(timer);
          resolve(receipt);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  }

  /** Waits until the link may send (the broker gave credit), within the send's time limit. */
  private async credit(link: Sender, deadline: number): Promise<void> {
    while (!link.sendable()) {
      if (!link.is_open() || this.keeper.current !== link)
        throw new ConnectorError('CLOSED', `${this.where}: the link was lost`, true);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new ConnectorError(
          'TIMEOUT',
          `${this.where}: no credit from the broker within ${this.options.publishTimeoutMs} ms`,
          true,
        );
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          link.removeListener('sendable', done);
          link.removeListener('sender_close', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 1_000));
        link.once('sendable', done);
        link.once('sender_close', done);
      });
    }
  }

  private outcome(
    context: EventContext,
    how: 'accepted' | 'rejected' | 'released' | 'modified',
  ): void {
    const delivery = context.delivery;
    const entry = delivery && this.pending.get(delivery);
    if (!delivery || !entry) return;
    this.pending.delete(delivery);
    if (how === 'accepted') return entry.resolve(this.receipt);
    const state = delivery.remote_state as { error?: unknown } | undefined;
    const reason = state?.error ? `: ${errorText(amqpError(state.error, how))}` : '';
    entry.reject(
      how === 'rejected'
        ? new ConnectorError('REJECTED', `${this.where}: rejected by the broker${reason}`, false)
        : new ConnectorError('REJECTED', `${this.where}: ${how} by the broker${reason}`, true),
    );
  }

  private failPending(link: Sender, why: string): void {
    for (const [delivery, entry] of this.pending) {
      if (entry.link !== link) continue;
      this.pending.delete(delivery);
      entry.reject(new ConnectorError('CLOSED', `${this.where}: ${why}`, true));
    }
  }
}
