import { Kafka } from 'kafkajs';
import type { ConnectorConnection } from '../connector';
import type { ConnectorContext, ConnectorFactories } from '../plugin';
import { KafkaClient, kafkaClientConfig, type KafkaClientOptions } from './kafka-client';
import { KafkaDestination } from './kafka.destination';
import {
  DEFAULT_CONCURRENCY,
  type KafkaDestinationSpec,
  type KafkaSourceSpec,
} from './kafka.protocol';
import { KafkaSource } from './kafka.source';
import { KafkaTransactions } from './kafka-transactions';
import { quietLogger } from '../logger';

export type KafkaPoolOptions = KafkaClientOptions & {
  /** Broker-side wait of one fetch, and so the longest a source's stop waits for it. Default 250 ms. */
  maxWaitTimeInMs?: number;
  /** Partitions one source handles at once. Default 8. */
  partitionsConsumedConcurrently?: number;
  /** Messages of one partition a source handles at once, unless its spec says. Default 100. */
  concurrency?: number;
  /** How long the brokers wait for a consumer's heartbeat before they move its partitions. Default 30 s. */
  sessionTimeout?: number;
  /** Default: a third of the session timeout, at most 3 s. */
  heartbeatInterval?: number;
  /** `delivery: exactly-once`: most messages in one transaction. Default 500. */
  transactionMaxMessages?: number;
  /** `delivery: exactly-once`: longest a transaction may stay open. Default 60 s. */
  transactionTimeout?: number;
};

function sharedClient(
  connection: ConnectorConnection,
  context: ConnectorContext<KafkaPoolOptions>,
): KafkaClient {
  return context.shared(
    connection,
    () =>
      new KafkaClient(connection, { ...context.options, egress: context.egress }, context.logger),
  );
}

/** The kafkajs side of the Kafka plugin: one client (and producer) per stored connection, a consumer per source. */
export const kafkaFactories: ConnectorFactories<
  KafkaSourceSpec,
  KafkaDestinationSpec,
  KafkaPoolOptions
> = {
  createSource(spec, connection, context, route) {
    const kafka = context.options;
    const client = sharedClient(connection, context);
    const groupId = spec.groupId ?? `junction.${route.routeId}`;
    const sessionTimeout = kafka.sessionTimeout ?? 30_000;
    return new KafkaSource(
      client,
      spec,
      {
        routeId: route.routeId,
        maxWaitTimeInMs: kafka.maxWaitTimeInMs ?? 250,
        partitionsConsumedConcurrently: kafka.partitionsConsumedConcurrently ?? 8,
        concurrency: kafka.concurrency ?? DEFAULT_CONCURRENCY,
        sessionTimeout,
        heartbeatInterval:
          kafka.heartbeatInterval ?? Math.min(3_000, Math.floor(sessionTimeout / 3)),
        ...(route.delivery === 'exactly-once'
          ? {
              transactions: new KafkaTransactions(
                client,
                {
                  groupId,
                  topic: spec.topic,
                  maxMessages: kafka.transactionMaxMessages ?? 500,
                  transactionTimeout: kafka.transactionTimeout ?? 60_000,
                },
                context.logger,
                `kafka source ${spec.topic} (group ${groupId}, exactly-once)`,
              ),
            }
          : {}),
      },
      context.logger,
    );
  },
  createDestination(spec, connection, context) {
    return new KafkaDestination(sharedClient(connection, context), spec);
  },
  /** Connects an admin client and reads the cluster's metadata. */
  async probe(connection, { timeoutMs, egress }, opened) {
    const config = kafkaClientConfig(
      connection,
      { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, egress },
      quietLogger,
    );
    const admin = new Kafka({ ...config, retry: { retries: 0 } }).admin();
    opened(() => admin.disconnect());
    await admin.connect();
    await admin.describeCluster();
  },
};
