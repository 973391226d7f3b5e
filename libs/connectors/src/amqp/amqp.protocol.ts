import type { ConnectorPlugin } from '../plugin';
import { CONNECTION_FIELD, tlsConfigSchema, urlSecretProblems, urlTarget } from '../spec-fields';
import type { AmqpPoolOptions } from './amqp.factory';

export interface AmqpSourceSpec {
  type: 'amqp';
  connection: string;
  queue: string;
  prefetch?: number;
}

export interface AmqpDestinationSpec {
  type: 'amqp';
  connection: string;
  exchange?: string;
  routingKey?: string;
  queue?: string;
  headers?: Record<string, string>;
  /** Wait for the answer (direct reply-to) and return it to a sync HTTP caller. */
  reply?: boolean;
  when?: string;
}

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
        description: 'Most unacknowledged messages at once.',
        examples: [100],
      },
    },
    example: { type: 'amqp', connection: 'rabbit', queue: 'orders.in' },
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
    },
    example: {
      type: 'amqp',
      connection: 'rabbit',
      exchange: 'orders',
      routingKey: '"eu.orders"',
    },
    replies: true,
    expressions: { routingKey: 'routingKey' },
    check(spec, report) {
      const hasExchange = spec.exchange !== undefined;
      if (hasExchange === (spec.queue !== undefined)) report('', EXCHANGE_OR_QUEUE);
      if (spec.routingKey !== undefined && !hasExchange)
        report('/routingKey', 'applies only with exchange');
    },
  },
  describeSource: (spec) => `amqp ${spec.connection} queue ${spec.queue}`,
  describeDelivery: (spec, d) =>
    spec.queue !== undefined
      ? `amqp ${spec.connection} queue ${spec.queue}`
      : `amqp ${spec.connection} exchange '${spec.exchange}' routing key '${d.routingKey ?? ''}'`,
  describeReceipt: (r) => `amqp:${String(r.exchange ?? '')}/${String(r.routingKey ?? '')}`,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see plugin.ts
  load: () => (require('./amqp.factory') as typeof import('./amqp.factory')).amqpFactories,
};
