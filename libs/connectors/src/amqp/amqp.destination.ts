import type { Channel, ConfirmChannel, Message } from 'amqplib';
import type { AmqpDestinationSpec } from '@junction/pipeline';
import { InFlight } from '../backoff';
import {
  ConnectorError,
  type DeliveryReceipt,
  type Destination,
  type OutboundMessage,
} from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import { AmqpChannelKeeper, amqpReplyCode, PERMANENT_REPLY_CODES } from './amqp-channel';
import type { AmqpClient } from './amqp-client';

export interface AmqpDestinationOptions {
  /** Longest a send waits, for a channel (reconnects included) and then for the broker's confirm. */
  publishTimeoutMs: number;
}

/**
 * Publishes on a confirm channel of its own: to an exchange with the message's routing key, or
 * straight to a queue (declared durable). Persistent, with the message id, `application/json` and
 * the headers. `send` resolves only on the broker's confirm; it rejects on a nack, a lost channel
 * or the time limit. Messages are published `mandatory`: one that no queue is bound to comes back
 * (basic.return, always before its confirm) and is rejected instead of silently dropped.
 */
export class AmqpDestination implements Destination {
  private readonly keeper: AmqpChannelKeeper<ConfirmChannel>;
  private readonly exchange: string;
  private readonly queue?: string;
  private readonly inFlight = new InFlight();
  private readonly channelErrors = new WeakMap<Channel, Error>();
  /** Message ids returned as unroutable, waiting for their confirm. */
  private readonly returned = new Map<string, number>();
  private closed = false;

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
  }

  send(message: OutboundMessage): Promise<DeliveryReceipt> {
    if (this.closed)
      return Promise.reject(new ConnectorError('CLOSED', 'amqp destination is closed', false));
    return this.inFlight.track(this.publish(message));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inFlight.settled();
    await this.keeper.close();
  }

  private async setup(channel: ConfirmChannel): Promise<void> {
    channel.on('error', (err: Error) => this.channelErrors.set(channel, err));
    channel.on('return', (returned: Message) => {
      const id: unknown = returned.properties.messageId;
      if (typeof id === 'string') this.returned.set(id, (this.returned.get(id) ?? 0) + 1);
    });
    if (this.queue !== undefined) await channel.assertQueue(this.queue, { durable: true });
  }

  private async publish(message: OutboundMessage): Promise<DeliveryReceipt> {
    const started = Date.now();
    const timeoutMs = this.options.publishTimeoutMs;
    const channel = await this.keeper.ready(timeoutMs);
    const routingKey = this.queue ?? message.routingKey ?? '';
    const receipt: DeliveryReceipt = { kind: 'amqp', exchange: this.exchange, routingKey };
    const where = `amqp publish to ${this.queue !== undefined ? `queue ${this.queue}` : `exchange '${this.exchange}' with key '${routingKey}'`}`;
    return new Promise<DeliveryReceipt>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(
        () => {
          settled = true;
          reject(
            new ConnectorError('TIMEOUT', `${where}: no confirm within ${timeoutMs} ms`, true),
          );
        },
        Math.max(1, timeoutMs - (Date.now() - started)),
      );
      const confirmed = (err: unknown): void => {
        const unroutable = this.takeReturned(message.id);
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!err && !unroutable) return resolve(receipt);
        if (!err)
          return reject(
            new ConnectorError('REJECTED', `${where}: unroutable (no queue bound)`, false),
          );
        const closedBy = this.channelErrors.get(channel);
        if (closedBy) {
          const code = amqpReplyCode(closedBy);
          const permanent = code !== undefined && PERMANENT_REPLY_CODES.has(code);
          return reject(
            new ConnectorError(
              permanent ? 'REJECTED' : 'CLOSED',
              `${where}: ${errorText(closedBy)}`,
              !permanent,
              { cause: closedBy },
            ),
          );
        }
        const text = errorText(err);
        reject(
          new ConnectorError(
            text.includes('nack') ? 'REJECTED' : 'CLOSED',
            `${where}: ${text}`,
            true,
            { cause: err },
          ),
        );
      };
      try {
        channel.publish(
          this.exchange,
          routingKey,
          message.body,
          {
            persistent: true,
            mandatory: true,
            messageId: message.id,
            contentType: 'application/json',
            headers: { ...this.spec.headers, ...message.headers },
          },
          confirmed,
        );
      } catch (err) {
        // The channel closed between ready() and now.
        settled = true;
        clearTimeout(timer);
        reject(new ConnectorError('CLOSED', `${where}: ${errorText(err)}`, true, { cause: err }));
      }
    });
  }

  private takeReturned(id: string): boolean {
    const count = this.returned.get(id);
    if (!count) return false;
    if (count === 1) this.returned.delete(id);
    else this.returned.set(id, count - 1);
    return true;
  }
}
