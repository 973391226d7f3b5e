import { placeAt } from '@junction/pipeline';
import type { ConnectorPlugin } from '../plugin';
import { CONNECTION_FIELD, tlsConfigSchema } from '../spec-fields';
import type { KafkaPoolOptions } from './kafka.factory';
import { DEFAULT_BATCH } from './kafka-batcher';

/** Messages of one partition a source handles at once, by default. */
export const DEFAULT_CONCURRENCY = 100;

export interface KafkaSourceSpec {
  type: 'kafka';
  connection: string;
  topic: string;
  groupId?: string;
  fromBeginning?: boolean;
  concurrency?: number;
}

/** What a Kafka destination may compress its record batches with (the codecs are in kafka-codecs.ts). */
export const KAFKA_COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

export interface KafkaDestinationSpec {
  type: 'kafka';
  connection: string;
  topic: string;
  key?: string;
  /** Codec of the record batches this destination produces; default none. */
  compression?: KafkaCompression;
  when?: string;
}

/** Where Kafka put a produced message. */
export interface KafkaReceipt {
  kind: 'kafka';
  topic: string;
  partition: number;
  offset: string;
}

/** A topic name field (Kafka's legal names). */
const topic = (description: string, example: string) => ({
  type: 'string',
  pattern: '^[A-Za-z0-9._-]{1,249}$',
  description,
  examples: [example],
});

/** Kafka: pure spec; the kafkajs code is in kafka.factory.ts, loaded by the pool. */
export const kafkaConnector: ConnectorPlugin<
  KafkaSourceSpec,
  KafkaDestinationSpec,
  KafkaPoolOptions,
  KafkaReceipt
> = {
  kind: 'kafka',
  // A consumer's offsets and a producer's sends can commit together (delivery: exactly-once).
  transactions: true,
  description:
    'Kafka: consumer groups with offsets committed after delivery, producers with acks from all in-sync replicas.',
  connection: {
    configSchema: {
      type: 'object',
      required: ['brokers'],
      additionalProperties: false,
      properties: {
        brokers: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', pattern: '^[^\\s:/]+:\\d+$' },
          description: 'Bootstrap brokers as host:port.',
          examples: [['127.0.0.1:9092']],
        },
        clientId: {
          type: 'string',
          description: 'Client id reported to the brokers.',
          examples: ['junction'],
        },
        ssl: {
          oneOf: [{ type: 'boolean' }, tlsConfigSchema('sslKey')],
          description:
            'Use TLS: true, or { ca, cert } for a private CA and a client certificate (key in secrets.sslKey).',
          examples: [false],
        },
        sasl: {
          type: 'object',
          required: ['mechanism', 'username'],
          additionalProperties: false,
          properties: {
            mechanism: { enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
            username: { type: 'string' },
          },
          description: 'SASL user; its password goes in secrets.saslPassword.',
        },
        batch: {
          type: 'object',
          additionalProperties: false,
          properties: {
            lingerMs: {
              type: 'integer',
              minimum: 0,
              maximum: 60_000,
              default: DEFAULT_BATCH.lingerMs,
              description:
                'How long a message may wait for others to share its produce request. 0 sends on the next turn of the event loop, still with whatever arrived meanwhile.',
              examples: [0, 5],
            },
            maxMessages: {
              type: 'integer',
              minimum: 1,
              maximum: 100_000,
              default: DEFAULT_BATCH.maxMessages,
              description:
                'Most messages in one produce request; a full request leaves at once. 1 sends each message in its own request.',
              examples: [1000],
            },
            maxBytes: {
              type: 'integer',
              minimum: 1,
              maximum: 100_000_000,
              default: DEFAULT_BATCH.maxBytes,
              description:
                "Most bytes of keys, values and headers in one produce request (a larger message goes alone). Keep it under the broker's message.max.bytes.",
              examples: [1048576],
            },
          },
          description:
            "How this connection's producer gathers the sends of all its destinations: one produce request at a time, leaving when its first message waited lingerMs or when maxMessages or maxBytes are reached. Each message is confirmed only once its request is acknowledged by all in-sync replicas.",
          examples: [{ lingerMs: 0, maxMessages: 1000, maxBytes: 1048576 }],
        },
      },
    },
    secretKeys: ['saslPassword', 'sslKey'],
    targetFields: ['brokers', 'ssl', 'sasl'],
    egressTargets(config) {
      const brokers = Array.isArray(config.brokers) ? (config.brokers as unknown[]) : [];
      return brokers.flatMap((broker, i) => {
        if (typeof broker !== 'string') return [];
        const at = broker.lastIndexOf(':');
        return [
          {
            host: broker.slice(0, at),
            port: Number(broker.slice(at + 1)),
            pointer: `/config/brokers/${i}`,
          },
        ];
      });
    },
  },
  source: {
    description: 'Consume a Kafka topic in a consumer group; offsets are committed after delivery.',
    required: ['connection', 'topic'],
    properties: {
      connection: CONNECTION_FIELD,
      topic: topic('Topic to consume.', 'orders.in'),
      groupId: {
        type: 'string',
        minLength: 1,
        description: 'Consumer group; default junction.<route id>.',
        examples: ['junction.orders-eu'],
      },
      fromBeginning: {
        type: 'boolean',
        default: false,
        description: 'Start at the earliest offset when the group has none.',
        examples: [false],
      },
      concurrency: {
        type: 'integer',
        minimum: 1,
        maximum: 10_000,
        default: DEFAULT_CONCURRENCY,
        description:
          'Messages of one partition handled at once (started in offset order, sent on in offset order). Offsets are committed only up to the last message before which all were handled; when one fails, it and every later one of its partition come again. 1 handles them one at a time.',
        examples: [DEFAULT_CONCURRENCY],
      },
    },
    example: { type: 'kafka', connection: 'kafka', topic: 'orders.in' },
    reads: (spec) => placeAt(spec, 'topic'),
    // Kafka hands each partition to one member of a consumer group: a topic is claimed per group.
    claim(spec, routeId) {
      const topic = placeAt(spec, 'topic');
      if (!topic) return undefined;
      const group = typeof spec.groupId === 'string' ? spec.groupId : `junction.${routeId}`;
      return {
        parts: [topic.value, group],
        pointer: spec.groupId === undefined ? '/topic' : '/groupId',
        place: `topic ${topic.value} in consumer group ${group}`,
      };
    },
  },
  destination: {
    description: 'Produce to Kafka with acks from all in-sync replicas.',
    required: ['connection', 'topic'],
    properties: {
      connection: CONNECTION_FIELD,
      topic: topic('Topic to produce to (acks: all).', 'orders.eu'),
      key: {
        type: 'string',
        minLength: 1,
        description:
          "JSONata expression giving the message key; messages with one key keep their order. Without it, a Kafka source record's key is sent on as it came (none if it holds a card number).",
        examples: ['orderId'],
      },
      compression: {
        enum: [...KAFKA_COMPRESSIONS],
        default: 'none',
        description:
          "Codec of the record batches produced: fewer bytes on the wire and on the brokers' disks for some CPU. Consumers (Java, librdkafka, Junction sources) read every codec whatever this is.",
        examples: ['zstd'],
      },
    },
    example: {
      type: 'kafka',
      connection: 'kafka',
      topic: 'orders.eu',
      key: 'orderId',
      compression: 'zstd',
    },
    writes: (spec) => placeAt(spec, 'topic'),
    expressions: { key: 'key' },
  },
  describeSource: (spec) => `kafka ${spec.connection} topic ${spec.topic}`,
  describeDelivery: (spec, d) =>
    `kafka ${spec.connection} topic ${spec.topic} key ${d.key === null || d.key === undefined ? '(none)' : `'${d.key}'`}`,
  describeReceipt: (r) => `kafka:${String(r.topic ?? '')}`,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see plugin.ts
  load: () => (require('./kafka.factory') as typeof import('./kafka.factory')).kafkaFactories,
};
