import { placeAt, type JsonSchema, type SourcePlaceClaim } from '@junction/pipeline';
import type { ConnectorPlugin } from '../plugin';
import { CONNECTION_FIELD, tlsConfigSchema, urlSecretProblems, urlTarget } from '../spec-fields';
import type { Amqp10PoolOptions } from './amqp10.factory';

/** How a route reads an AMQP 1.0 address: as a queue (anycast) or a topic (multicast). */
export type Amqp10Capability = 'queue' | 'topic';

export interface Amqp10SourceSpec {
  type: 'amqp10';
  connection: string;
  address: string;
  capability?: Amqp10Capability;
  /** Topics only: the durable shared subscription; default `junction.<route id>`. */
  subscription?: string;
  prefetch?: number;
}

export interface Amqp10DestinationSpec {
  type: 'amqp10';
  connection: string;
  address: string;
  capability?: Amqp10Capability;
  headers?: Record<string, string>;
  durable?: boolean;
  /** JSONata expression giving each message's priority (the header's ubyte). */
  priority?: string;
  when?: string;
}

/** What the broker confirmed (the accepted outcome), for the audit trail. */
export interface Amqp10Receipt {
  kind: 'amqp10';
  address: string;
}

export const DEFAULT_PREFETCH = 100;

/** The durable subscription a topic source reads: the one named, or one per route. */
export function subscriptionName(spec: Amqp10SourceSpec, routeId: string): string {
  return spec.subscription ?? `junction.${routeId}`;
}

const ADDRESS: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  description:
    'Address (queue or topic name) on the broker. Artemis also takes an anycast: or multicast: prefix.',
  examples: ['orders.in', 'prices'],
};

const CAPABILITY: JsonSchema = {
  enum: ['queue', 'topic'],
  default: 'queue',
  description:
    'queue: anycast, each message goes to one consumer. topic: multicast, every subscription gets each message. Sent as the link capability (Artemis creates the address with that routing type).',
  examples: ['queue'],
};

/** The stored connection's config (secrets go beside it: password, tlsKey). */
export const AMQP10_CONNECTION_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: {
    url: {
      type: 'string',
      pattern: '^amqps?://',
      description:
        'Broker URL without a password (put it in secrets.password); amqps:// for TLS. Default ports 5672 and 5671.',
      examples: ['amqp://127.0.0.1:25673', 'amqps://broker.example.com:5671'],
    },
    username: {
      type: 'string',
      minLength: 1,
      description: 'SASL PLAIN user name (its password is secrets.password); none: SASL ANONYMOUS.',
      examples: ['junction'],
    },
    containerId: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      description:
        'AMQP container id of the gateway on this connection; default junction:<connection name>.',
      examples: ['junction:artemis'],
    },
    virtualHost: {
      type: 'string',
      minLength: 1,
      description:
        "The open frame's hostname, when the broker routes by it (a virtual host, a cloud namespace); default the URL's host.",
      examples: ['tenant-a'],
    },
    idleTimeoutSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 3600,
      default: 30,
      description:
        'Idle time-out announced to the broker (heartbeats keep the connection alive); 0: none.',
      examples: [30],
    },
    tls: tlsConfigSchema('tlsKey'),
  },
};

export const AMQP10_SECRET_KEYS = ['password', 'tlsKey'] as const;

/** What a route's amqp10 source takes besides `type`. */
export const AMQP10_SOURCE = {
  description:
    'Consume an AMQP 1.0 address (ActiveMQ Artemis tested): settled after delivery, link credit as prefetch; topics through a durable shared subscription.',
  required: ['connection', 'address'],
  properties: {
    connection: CONNECTION_FIELD,
    address: ADDRESS,
    capability: CAPABILITY,
    subscription: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$',
      description:
        'With capability topic: the durable shared subscription read (gateway processes of the route share it; it outlives the route); default junction.<route id>.',
      examples: ['junction.prices-eu'],
    },
    prefetch: {
      type: 'integer',
      minimum: 1,
      maximum: 10000,
      default: DEFAULT_PREFETCH,
      description: 'Link credit: most unsettled messages the broker hands out at once.',
      examples: [100],
    },
  } satisfies Record<string, JsonSchema>,
  example: { type: 'amqp10', connection: 'artemis', address: 'orders.in' },
  check(spec: Record<string, unknown>, report: (pointer: string, message: string) => void): void {
    if (spec.subscription !== undefined && spec.capability !== 'topic')
      report('/subscription', 'applies only with capability topic');
  },
  reads: (spec: Record<string, unknown>) => placeAt(spec, 'address'),
  /** An anycast address hands each message to one receiver; a topic, to one per subscription. */
  claim(spec: Record<string, unknown>, routeId: string): SourcePlaceClaim | undefined {
    const address = placeAt(spec, 'address');
    if (!address) return undefined;
    if (spec.capability !== 'topic')
      return {
        parts: ['queue', address.value],
        pointer: '/address',
        place: `address ${address.value}`,
      };
    const subscription = subscriptionName(spec as unknown as Amqp10SourceSpec, routeId);
    return {
      parts: ['topic', address.value, subscription],
      pointer: spec.subscription === undefined ? '/address' : '/subscription',
      place: `subscription ${subscription} of topic ${address.value}`,
    };
  },
};

/** What a route's amqp10 destination takes besides `type` (and `when`). */
export const AMQP10_DESTINATION = {
  description:
    'Send to an AMQP 1.0 address (ActiveMQ Artemis tested); confirmed by the accepted outcome.',
  required: ['connection', 'address'],
  properties: {
    connection: CONNECTION_FIELD,
    address: ADDRESS,
    capability: CAPABILITY,
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Static application properties added to every message.',
      examples: [{ 'x-source': 'junction' }],
    },
    durable: {
      type: 'boolean',
      default: true,
      description: 'Mark messages durable (the broker keeps them across its restarts).',
      examples: [true],
    },
    priority: {
      type: 'string',
      minLength: 1,
      description:
        "JSONata expression giving the message header's priority: an integer 0..255 (or its text), nothing for the default 4. Another result dead-letters the message. Artemis orders each queue by priority 0..9 (higher values count as 9).",
      examples: ['urgent ? 9 : 4', '$number($headers."x-priority")'],
    },
  } satisfies Record<string, JsonSchema>,
  example: { type: 'amqp10', connection: 'artemis', address: 'orders.out' },
  writes: (spec: Record<string, unknown>) => placeAt(spec, 'address'),
  expressions: { priority: 'priority' },
};

export function describeAmqp10Source(spec: Amqp10SourceSpec): string {
  const capability = spec.capability ?? 'queue';
  return `amqp10 ${spec.connection} ${capability} ${spec.address}${
    capability === 'topic' && spec.subscription ? ` subscription ${spec.subscription}` : ''
  }`;
}

export function describeAmqp10Destination(spec: Amqp10DestinationSpec): string {
  return `amqp10 ${spec.connection} ${spec.capability ?? 'queue'} ${spec.address}`;
}

export function describeAmqp10Receipt(receipt: Readonly<Record<string, unknown>>): string {
  return `amqp10:${String(receipt.address ?? '')}`;
}

/** AMQP 1.0 (ActiveMQ Artemis tested): pure spec; the rhea code is in amqp10.factory.ts, loaded by the pool. */
export const amqp10Connector: ConnectorPlugin<
  Amqp10SourceSpec,
  Amqp10DestinationSpec,
  Amqp10PoolOptions,
  Amqp10Receipt
> = {
  kind: 'amqp10',
  description:
    'AMQP 1.0 (tested against ActiveMQ Artemis 2.40): settlement after delivery, link credit as prefetch, queues and topics with durable shared subscriptions.',
  connection: {
    configSchema: AMQP10_CONNECTION_SCHEMA,
    secretKeys: AMQP10_SECRET_KEYS,
    targetFields: ['url', 'username', 'tls', 'virtualHost'],
    egressTargets: (config) => urlTarget(config.url, '/config/url', { amqp: 5672, amqps: 5671 }),
    embeddedSecretProblems: (config) =>
      urlSecretProblems(config, 'url', { password: 'secrets.password', query: 'secrets.password' }),
  },
  source: AMQP10_SOURCE,
  destination: AMQP10_DESTINATION,
  describeSource: describeAmqp10Source,
  describeDelivery: (spec, d) =>
    describeAmqp10Destination(spec) + (d.priority !== undefined ? ` priority ${d.priority}` : ''),
  describeReceipt: describeAmqp10Receipt,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see plugin.ts
  load: () => (require('./amqp10.factory') as typeof import('./amqp10.factory')).amqp10Factories,
};
