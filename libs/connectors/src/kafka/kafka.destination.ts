import type { KafkaDestinationSpec } from './kafka.protocol';
import { InFlight } from '../backoff';
import {
  ConnectorError,
  type DeliveryReceipt,
  type Destination,
  type OutboundMessage,
} from '../connector';
import { kafkaConnectorError, type KafkaClient } from './kafka-client';
import { JUNCTION_ID_HEADER } from './kafka.source';

/**
 * Produces to one topic through the connection's shared idempotent producer with `acks: -1` (all
 * in-sync replicas), the message id in header `junction-id` and the key from the message. Sends
 * go through the connection's batcher (the connection's `batch` settings): many messages, of every
 * destination on the connection, per produce request. Resolves with the partition and offset the
 * broker assigned once the message's batch is acknowledged; rejects if that batch failed or was
 * not acknowledged in the connection's send time limit.
 */
export class KafkaDestination implements Destination {
  private readonly inFlight = new InFlight();
  private closed = false;

  constructor(
    private readonly client: KafkaClient,
    private readonly spec: KafkaDestinationSpec,
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
    const topic = this.spec.topic;
    try {
      const { partition, offset } = await this.client.batcher.add({
        topic,
        message: {
          key: message.key ?? null,
          value: message.body,
          headers: { ...message.headers, [JUNCTION_ID_HEADER]: message.id },
        },
      });
      this.client.reached();
      return { kind: 'kafka', topic, partition, offset };
    } catch (err) {
      const error = kafkaConnectorError(err, `kafka produce to ${topic}`);
      // Only a cluster out of reach makes the connection down; a refused record does not.
      if (error.code === 'UNREACHABLE' || error.code === 'TIMEOUT') this.client.unreachable(err);
      throw error;
    }
  }
}
