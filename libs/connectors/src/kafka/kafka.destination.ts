import type { KafkaDestinationSpec } from './kafka.protocol';
import { InFlight } from '../backoff';
import {
  ConnectorError,
  type DeliveryReceipt,
  type Destination,
  type OutboundMessage,
} from '../connector';
import { kafkaConnectorError, type KafkaClient } from './kafka-client';
import { kafkaCompressionType } from './kafka-codecs';
import { JUNCTION_ID_HEADER } from './kafka.source';
import { failTransaction, joinTransaction, KafkaTransaction } from './kafka-transactions';

export interface KafkaDestinationOptions {
  /**
   * Longest a send waits for `acks: -1`. The idempotent producer itself retries without end, so
   * this is what turns a broker outage into a retryable failure the runtime can count.
   */
  sendTimeoutMs: number;
}

/**
 * Produces to one topic through the connection's shared idempotent producer with `acks: -1` (all
 * in-sync replicas), the message id in header `junction-id`, the key from the message and the
 * spec's compression.
 * Resolves with the partition and offset the broker assigned.
 */
export class KafkaDestination implements Destination {
  private readonly inFlight = new InFlight();
  private closed = false;

  constructor(
    private readonly client: KafkaClient,
    private readonly spec: KafkaDestinationSpec,
    private readonly options: KafkaDestinationOptions,
  ) {}

  send(message: OutboundMessage): Promise<DeliveryReceipt> {
    if (this.closed)
      return Promise.reject(new ConnectorError('CLOSED', 'kafka destination is closed', false));
    return this.inFlight.track(this.produce(message));
  }

  /** Waits for sends in flight; the producer belongs to the shared client and stays. */
  async close(): Promise<void> {
    this.closed = true;
    await this.inFlight.settled();
  }

  private async produce(message: OutboundMessage): Promise<DeliveryReceipt> {
    const where = `kafka produce to ${this.spec.topic}`;
    const timeoutMs = this.options.sendTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(new ConnectorError('TIMEOUT', `${where}: no ack within ${timeoutMs} ms`, true)),
        timeoutMs,
      );
    });
    try {
      const sent = (async () => {
        const producer = message.transaction
          ? joinTransaction(this.client, message.transaction).sender
          : await this.client.producer();
        return producer.send({
          topic: this.spec.topic,
          acks: -1,
          compression: kafkaCompressionType(this.spec.compression),
          messages: [
            {
              key: message.key ?? null,
              value: message.body,
              headers: { ...message.headers, [JUNCTION_ID_HEADER]: message.id },
            },
          ],
        });
      })();
      // A send that outlives the deadline carries on in the background; at-least-once allows the copy.
      sent.catch(() => undefined);
      const [record] = await Promise.race([sent, deadline]);
      const offset = record?.baseOffset ?? record?.offset;
      if (!record || offset === undefined)
        throw new ConnectorError('REJECTED', `${where}: the broker returned no offset`, true);
      this.client.reached();
      return { kind: 'kafka', topic: this.spec.topic, partition: record.partition, offset };
    } catch (err) {
      const error = kafkaConnectorError(err, where);
      // Only a cluster out of reach makes the connection down; a refused record does not.
      if (error.code === 'UNREACHABLE' || error.code === 'TIMEOUT') this.client.unreachable(err);
      if (message.transaction instanceof KafkaTransaction)
        throw failTransaction(message.transaction, error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
