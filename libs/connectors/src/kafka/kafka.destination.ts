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
import type { CompressionTypes, Message } from 'kafkajs';
import type { RecordPosition } from './kafka-batcher';

/**
 * Produces to one topic through the connection's shared idempotent producer with `acks: -1` (all
 * in-sync replicas), the message id in header `junction-id`, the key from the message and the
 * spec's compression. Sends go through the connection's batcher for that codec (the connection's
 * `batch` settings): many messages, of every destination on the connection, per produce request.
 * Resolves with the partition and offset the broker assigned once the message's batch is
 * acknowledged; rejects if that batch failed or was not acknowledged in the connection's send
 * time limit. In a transaction (`delivery: exactly-once`) the message is sent in it instead.
 */
export class KafkaDestination implements Destination {
  private readonly inFlight = new InFlight();
  private closed = false;
  private readonly compression: CompressionTypes;

  constructor(
    private readonly client: KafkaClient,
    private readonly spec: KafkaDestinationSpec,
  ) {
    this.compression = kafkaCompressionType(spec.compression);
  }

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
      const record = {
        key: message.key ?? null,
        value: message.body,
        headers: { ...message.headers, [JUNCTION_ID_HEADER]: message.id },
      };
      const compression = this.compression;
      const { partition, offset } = message.transaction
        ? await sendInTransaction(this.client, message.transaction, topic, record, compression)
        : await this.client.batcher(compression).add({ topic, message: record });
      this.client.reached();
      return { kind: 'kafka', topic, partition, offset };
    } catch (err) {
      const error = kafkaConnectorError(err, `kafka produce to ${topic}`);
      // Only a cluster out of reach makes the connection down; a refused record does not.
      if (error.code === 'UNREACHABLE' || error.code === 'TIMEOUT') this.client.unreachable(err);
      if (message.transaction instanceof KafkaTransaction)
        throw failTransaction(message.transaction, error);
      throw error;
    }
  }
}

/** One record sent in the source's transaction (not batched: the transaction is its batch). */
async function sendInTransaction(
  client: KafkaClient,
  transaction: OutboundMessage['transaction'] & object,
  topic: string,
  message: Message,
  compression: CompressionTypes,
): Promise<RecordPosition> {
  const [record] = await joinTransaction(client, transaction).sender.send({
    topic,
    acks: -1,
    compression,
    messages: [message],
  });
  const offset = record?.baseOffset ?? record?.offset;
  if (!record || offset === undefined)
    throw new ConnectorError(
      'REJECTED',
      `kafka produce to ${topic}: the broker returned no offset`,
      true,
    );
  return { partition: record.partition, offset };
}
