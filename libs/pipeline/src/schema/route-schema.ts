import { STAGE_KINDS, STAGES } from '../stages';
import { JsonSchema } from './json-schema';

const SLUG = '^[a-z0-9][a-z0-9-]{0,62}$';
const NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';

const connection = {
  type: 'string',
  pattern: NAME,
  description: 'Name of a stored connection of the same type (holds the URL and secrets).',
  examples: ['rabbit', 'kafka'],
};
const reply = {
  type: 'boolean',
  default: false,
  description:
    'Only with an http source in sync mode, on one destination: wait for its answer (amqp: direct reply-to by correlation id; http: the response body) and return it to the caller.',
  examples: [true],
};
const when = {
  type: 'string',
  minLength: 1,
  description:
    'JSONata expression over the final body; the destination receives the message only when it is truthy. Omit to always deliver.',
  examples: ['amount >= 1000', '$headers."x-region" = "eu"'],
};

/** Destination types that can answer a sync HTTP caller. */
const REPLYING_TYPES = new Set(['amqp', 'http']);

/** Fields each destination type takes, without `when` and `reply` (dead-letter destinations have neither). */
const DESTINATION_FIELDS: Record<
  string,
  { required: string[]; properties: Record<string, JsonSchema> }
> = {
  amqp: {
    required: ['connection'],
    properties: {
      connection,
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
  },
  kafka: {
    required: ['connection', 'topic'],
    properties: {
      connection,
      topic: {
        type: 'string',
        pattern: '^[A-Za-z0-9._-]{1,249}$',
        description: 'Topic to produce to (acks: all).',
        examples: ['orders.eu'],
      },
      key: {
        type: 'string',
        minLength: 1,
        description:
          'JSONata expression giving the message key; messages with one key keep their order.',
        examples: ['orderId'],
      },
    },
  },
  http: {
    required: ['connection', 'path'],
    properties: {
      connection,
      path: {
        type: 'string',
        pattern: '^/',
        description: "Path appended to the connection's baseUrl.",
        examples: ['/orders'],
      },
      method: {
        enum: ['POST', 'PUT', 'PATCH'],
        default: 'POST',
        description: 'HTTP method.',
        examples: ['POST'],
      },
    },
  },
  log: {
    required: [],
    properties: {
      level: {
        enum: ['info', 'debug'],
        default: 'info',
        description: 'Log level; the body is logged after PAN redaction.',
        examples: ['info'],
      },
    },
  },
};

const DESTINATION_DESCRIPTIONS: Record<string, string> = {
  amqp: 'Publish to RabbitMQ with publisher confirms.',
  kafka: 'Produce to Kafka with acks from all in-sync replicas.',
  http: 'Send an HTTP request; any 2xx confirms.',
  log: "Write the message to the gateway's log (built in; for demos and debugging).",
};

function destinationSchema(withWhen: boolean, description: string): JsonSchema {
  const types = Object.keys(DESTINATION_FIELDS);
  return {
    type: 'object',
    description,
    required: ['type'],
    properties: {
      type: { enum: types, description: 'Destination protocol.', examples: ['kafka'] },
    },
    allOf: types.map((type) => ({
      if: { properties: { type: { const: type } }, required: ['type'] },
      then: {
        description: DESTINATION_DESCRIPTIONS[type],
        required: DESTINATION_FIELDS[type].required,
        additionalProperties: false,
        properties: {
          type: { const: type },
          ...DESTINATION_FIELDS[type].properties,
          ...(withWhen ? { when } : {}),
          ...(withWhen && REPLYING_TYPES.has(type) ? { reply } : {}),
        },
      },
    })),
    examples: [{ type: 'kafka', connection: 'kafka', topic: 'orders.eu', key: 'orderId' }],
  };
}

const SOURCE_FIELDS: Record<
  string,
  { description: string; required: string[]; properties: Record<string, JsonSchema> }
> = {
  amqp: {
    description: 'Consume a RabbitMQ queue with manual acks.',
    required: ['connection', 'queue'],
    properties: {
      connection,
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
  },
  kafka: {
    description: 'Consume a Kafka topic in a consumer group; offsets are committed after delivery.',
    required: ['connection', 'topic'],
    properties: {
      connection,
      topic: {
        type: 'string',
        pattern: '^[A-Za-z0-9._-]{1,249}$',
        description: 'Topic to consume.',
        examples: ['orders.in'],
      },
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
    },
  },
  http: {
    description: 'Accept POST /ingest/<path>.',
    required: ['path'],
    properties: {
      path: {
        type: 'string',
        minLength: 1,
        maxLength: 512,
        description:
          'Ingest path: POST /ingest/<path>. Compared in one normalised form (percent-decoded, Unicode NFKC, lower case, no empty or "." segments, ".." resolved), which must be ASCII letters, digits, ".", "_", "~", "-" and "/"; unique among routes in that form.',
        examples: ['orders'],
      },
      mode: {
        enum: ['async', 'sync'],
        default: 'async',
        description: 'async: 202 once delivered or parked; sync: waits for and returns the reply.',
        examples: ['async'],
      },
      auth: {
        enum: ['none', 'apiKey', 'hmac'],
        default: 'apiKey',
        description:
          'How callers authenticate: an API key (X-API-Key), an HMAC signature of the body (X-Junction-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>\\n<Idempotency-Key or nothing>\\n<body>">), or none.',
        examples: ['apiKey'],
      },
      connection: {
        ...connection,
        description: 'auth: hmac only: an http connection whose secret hmacKey signs the requests.',
        examples: ['partner-webhooks'],
      },
      timeoutMs: {
        type: 'integer',
        minimum: 100,
        maximum: 300000,
        default: 30000,
        description:
          'mode: sync only: longest a caller waits for the result or the reply; 504 after (the message itself is still delivered or dead-lettered).',
        examples: [10000],
      },
    },
  },
};

const sourceTypes = Object.keys(SOURCE_FIELDS);

const stageItem: JsonSchema = {
  type: 'object',
  description: `One stage, written as a single key naming its kind (${STAGE_KINDS.join(', ')}).`,
  minProperties: 1,
  maxProperties: 1,
  propertyNames: { enum: STAGE_KINDS },
  allOf: STAGE_KINDS.map((kind) => ({
    if: { required: [kind] },
    then: { properties: { [kind]: STAGES[kind].configSchema } },
  })),
  examples: [{ filter: 'total > 100' }],
};

/** The route document's JSON Schema, derived from the stage registry. */
export const ROUTE_SCHEMA: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://junction.dev/schemas/route.json',
  title: 'Junction route',
  description:
    'A route: one source, a pipeline of stages, one or more destinations, and what to do on errors.',
  type: 'object',
  required: ['id', 'source', 'destinations'],
  additionalProperties: false,
  properties: {
    id: {
      type: 'string',
      pattern: SLUG,
      description: 'Unique slug of the route.',
      examples: ['orders-eu'],
    },
    description: {
      type: 'string',
      maxLength: 1000,
      description: 'What the route is for.',
      examples: ['EU orders to fulfilment'],
    },
    source: {
      type: 'object',
      description: 'Where messages come from: exactly one source.',
      required: ['type'],
      properties: {
        type: { enum: sourceTypes, description: 'Source protocol.', examples: ['amqp'] },
      },
      allOf: sourceTypes.map((type) => ({
        if: { properties: { type: { const: type } }, required: ['type'] },
        then: {
          description: SOURCE_FIELDS[type].description,
          required: SOURCE_FIELDS[type].required,
          additionalProperties: false,
          properties: { type: { const: type }, ...SOURCE_FIELDS[type].properties },
        },
      })),
      examples: [{ type: 'amqp', connection: 'rabbit', queue: 'orders.in' }],
    },
    pipeline: {
      type: 'array',
      description: 'Stages run in order. Each may change the body, drop the message or fail it.',
      items: stageItem,
      default: [],
      examples: [[{ filter: 'total > 100' }, { mask: [{ path: 'card.pan', with: 'pan' }] }]],
    },
    destinations: {
      type: 'array',
      minItems: 1,
      description:
        'Where the result goes; each matching destination must confirm before the source is acknowledged.',
      items: destinationSchema(true, 'One destination.'),
      examples: [
        [{ type: 'amqp', connection: 'rabbit', exchange: 'orders', routingKey: '"eu.orders"' }],
      ],
    },
    errors: {
      type: 'object',
      description: 'Retries and dead-lettering when delivery fails.',
      additionalProperties: false,
      properties: {
        retry: {
          type: 'object',
          additionalProperties: false,
          description: 'Exponential backoff with jitter between delivery attempts.',
          properties: {
            attempts: {
              type: 'integer',
              minimum: 1,
              maximum: 100,
              default: 5,
              description: 'Attempts in all, the first included.',
              examples: [5],
            },
            backoffMs: {
              type: 'integer',
              minimum: 0,
              maximum: 3600000,
              default: 200,
              description: 'Wait before the second attempt; doubles each time.',
              examples: [200],
            },
            maxBackoffMs: {
              type: 'integer',
              minimum: 0,
              maximum: 3600000,
              default: 30000,
              description: 'Longest wait between attempts.',
              examples: [30000],
            },
          },
          examples: [{ attempts: 5, backoffMs: 200, maxBackoffMs: 30000 }],
        },
        deadLetter: destinationSchema(
          false,
          'Where a message goes after its last failed attempt (it is also stored, encrypted, for replay).',
        ),
      },
      examples: [
        {
          retry: { attempts: 5 },
          deadLetter: { type: 'amqp', connection: 'rabbit', queue: 'orders.dlq' },
        },
      ],
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      description: 'What the audit trail keeps of each message.',
      properties: {
        payload: {
          enum: ['masked', 'none'],
          default: 'masked',
          description:
            'masked: the body after the route (PANs redacted again); none: only its SHA-256.',
          examples: ['masked'],
        },
      },
      examples: [{ payload: 'masked' }],
    },
  },
};
