import { placeAt } from '@junction/pipeline';
import type { ConnectorPlugin } from '../plugin';
import { CONNECTION_FIELD, tlsConfigSchema, urlSecretProblems, urlTarget } from '../spec-fields';
import type { AmqpPoolOptions } from './amqp.factory';

export interface AmqpSourceSpec {
  type: 'amqp';
  connection: string;
  queue: string;
  prefetch?: number;
  /** A priority queue: declared with `x-max-priority`. */
  maxPriority?: number;
}

export interface AmqpDestinationSpec {
  type: 'amqp';
  connection: string;
  exchange?: string;
  routingKey?: string;
  queue?: string;
  headers?: Record<string, string>;
  /** JSONata expression giving each message's priority (0..255). */
  priority?: string;
  /** With `queue`: declare it as a priority queue (`x-max-priority`). */
  maxPriority?: number;
  /** Publish in batches, each awaited as one (see AmqpDestination). */
  batch?: AmqpBatchSpec;
  /** Wait for the answer (direct reply-to) and return it to a sync HTTP caller. */
  reply?: boolean;
  when?: string;
}

export interface AmqpBatchSpec {
  /** Most messages in one batch. */
  size?: number;
  /** How long the first message of a batch waits for more; 0: only those sent in the same turn. */
  lingerMs?: number;
}

/** Bounds of a priority queue's `x-max-priority` (RabbitMQ advises at most 10). */
const MAX_PRIORITY_FIELD = {
  type: 'integer',
  minimum: 1,
  maximum: 255,
} as const;

/** What an AMQP destination's publisher confirm says. */
export interface AmqpReceipt {
  kind: 'amqp';
  exchange: string;
  routingKey: string;
}

const EXCHANGE_OR_QUEUE = 'an amqp destination needs exactly one of exchange or queue';

/** AMQP 0-9-1 (RabbitMQ): pure spec; the client code is in amqp.factory.ts, loaded by the pool. */
export const amqpConnector: ConnectorPlugin<
  AmqpSourceSpec,
  AmqpDestinationSpec,
  AmqpPoolOptions,
  AmqpReceipt
> = {
  kind: 'amqp',
  description: 'AMQP 0-9-1 (RabbitMQ): queues with manual acks, exchanges with publisher confirms.',
  connection: {
    configSchema: {
      type: 'object',
      required: ['url'],
      additionalProperties: false,
      properties: {
        url: {
          type: 'string',
          pattern: '^amqps?://',
          description: 'Broker URL without a password (put it in secrets.password).',
          examples: ['amqp://guest@127.0.0.1:5672'],
        },
        vhost: { type: 'string', description: 'Virtual host.', examples: ['/'] },
        tls: tlsConfigSchema('tlsKey'),
        username: {
          type: 'string',
          description: 'User name, if not in the URL.',
          examples: ['junction'],
        },
        heartbeatSeconds: {
          type: 'integer',
          minimum: 0,
          maximum: 3600,
          description: 'AMQP heartbeat.',
          examples: [30],
        },
      },
    },
    secretKeys: ['password', 'tlsKey'],
    targetFields: ['url', 'vhost', 'username', 'tls'],
    egressTargets: (config) => urlTarget(config.url, '/config/url', { amqp: 5672, amqps: 5671 }),
    embeddedSecretProblems: (config) =>
      urlSecretProblems(config, 'url', {
        password: 'secrets.password',
        query: 'secrets.password',
      }),
  },
  source: {
    description: 'Consume a RabbitMQ queue with manual acks.',
    required: ['connection', 'queue'],
    properties: {
      connection: CONNECTION_FIELD,
      queue: {
        type: 'string',
        minLength: 1,
        description: 'Queue to consume (declared durable if absent).',
        examples: ['orders.in'],
      },
      prefetch: {
        type: 'integer',
        minimum: 1,
        maximum: 10000,
        default: 100,
        description:
          'Most unacknowledged messages at once. Default 100, or 10 with maxPriority: messages already handed to the gateway are not reordered by a later, more urgent one.',
        examples: [100],
      },
      maxPriority: {
        ...MAX_PRIORITY_FIELD,
        description:
          'The queue is a priority queue: declared with x-max-priority (an existing queue must have the same). The broker hands out higher priorities first; keep prefetch small for that to show.',
        examples: [10],
      },
    },
    example: { type: 'amqp', connection: 'rabbit', queue: 'orders.in' },
    reads: (spec) => placeAt(spec, 'queue'),
    // The broker hands each message of a queue to one of its consumers.
    claim(spec) {
      const queue = placeAt(spec, 'queue');
      return queue && { parts: [queue.value], pointer: '/queue', place: `queue ${queue.value}` };
    },
  },
  destination: {
    description: 'Publish to RabbitMQ with publisher confirms.',
    required: ['connection'],
    properties: {
      connection: CONNECTION_FIELD,
      exchange: {
        type: 'string',
        description:
          'Exchange to publish to; "" is the default exchange. Give exchange or queue, not both.',
        examples: ['orders', ''],
      },
      routingKey: {
        type: 'string',
        minLength: 1,
        description: 'JSONata expression giving the routing key (a string).',
        examples: ['"eu." & $lowercase(country)', '"orders.created"'],
      },
      queue: {
        type: 'string',
        minLength: 1,
        description:
          'Queue to publish straight to (declared durable if absent). Give exchange or queue, not both.',
        examples: ['orders.out'],
      },
      headers: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description: 'Static headers added to every message.',
        examples: [{ 'x-source': 'junction' }],
      },
      priority: {
        type: 'string',
        minLength: 1,
        description:
          "JSONata expression giving the message's priority: an integer 0..255 (or its text), nothing for none. Another result dead-letters the message. RabbitMQ honours it on a queue with x-max-priority, higher values counting as that maximum.",
        examples: ['urgent ? 9 : 1', '$number($headers."x-priority")'],
      },
      maxPriority: {
        ...MAX_PRIORITY_FIELD,
        description:
          'With queue: declare it as a priority queue (x-max-priority); an existing queue must have the same.',
        examples: [10],
      },
      batch: {
        type: 'object',
        additionalProperties: false,
        description:
          'Publisher confirms in batches: the messages of a batch go out together and their confirms (RabbitMQ acknowledges many at once) are awaited as one; each send still resolves only on its own confirm.',
        properties: {
          size: {
            type: 'integer',
            minimum: 1,
            maximum: 10000,
            default: 100,
            description: 'Most messages in one batch; 1 turns batching off.',
            examples: [100],
          },
          lingerMs: {
            type: 'integer',
            minimum: 0,
            maximum: 1000,
            default: 0,
            description:
              'How long the first message waits for others before the batch goes; 0: only the messages sent in the same turn of the event loop (no added latency).',
            examples: [0, 5],
          },
        },
        examples: [{ size: 100, lingerMs: 0 }],
      },
    },
    example: {
      type: 'amqp',
      connection: 'rabbit',
      exchange: 'orders',
      routingKey: '"eu.orders"',
    },
    replies: true,
    // With an exchange, the message goes to the exchange, whatever its queue.
    writes: (spec) => (spec.exchange === undefined ? placeAt(spec, 'queue') : undefined),
    expressions: { routingKey: 'routingKey', priority: 'priority' },
    check(spec, report) {
      const hasExchange = spec.exchange !== undefined;
      if (hasExchange === (spec.queue !== undefined)) report('', EXCHANGE_OR_QUEUE);
      if (spec.routingKey !== undefined && !hasExchange)
        report('/routingKey', 'applies only with exchange');
      if (spec.maxPriority !== undefined && spec.queue === undefined)
        report(
          '/maxPriority',
          'applies only with queue (declare an exchange-bound queue yourself)',
        );
    },
  },
  describeSource: (spec) => `amqp ${spec.connection} queue ${spec.queue}`,
  describeDelivery: (spec, d) =>
    (spec.queue !== undefined
      ? `amqp ${spec.connection} queue ${spec.queue}`
      : `amqp ${spec.connection} exchange '${spec.exchange}' routing key '${d.routingKey ?? ''}'`) +
    (d.priority !== undefined ? ` priority ${d.priority}` : ''),
  describeReceipt: (r) => `amqp:${String(r.exchange ?? '')}/${String(r.routingKey ?? '')}`,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see plugin.ts
  load: () => (require('./amqp.factory') as typeof import('./amqp.factory')).amqpFactories,
};
