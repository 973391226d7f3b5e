import { STAGE_KINDS, STAGES } from '../stages';
import type { ProtocolDestinationSpec, RouteProtocols } from '../route-protocol';
import { JsonSchema } from './json-schema';

const SLUG = '^[a-z0-9][a-z0-9-]{0,62}$';

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

/** The destination built into the engine (the runtime writes it to its log): no protocol behind it. */
const LOG_DESTINATION: ProtocolDestinationSpec = {
  description: "Write the message to the gateway's log (built in; for demos and debugging).",
  required: [],
  properties: {
    level: {
      enum: ['info', 'debug'],
      default: 'info',
      description: 'Log level; the body is logged after PAN redaction.',
      examples: ['info'],
    },
  },
  example: { type: 'log' },
};

/** Every destination kind a route may name: the protocols' and the built-in `log`. */
export function destinationKinds(
  protocols: RouteProtocols,
): Record<string, ProtocolDestinationSpec> {
  const kinds: Record<string, ProtocolDestinationSpec> = {};
  for (const protocol of Object.values(protocols))
    if (protocol.destination) kinds[protocol.kind] = protocol.destination;
  kinds.log = LOG_DESTINATION;
  return kinds;
}

/**
 * A field the protocol cannot carry, as a schema no value passes: its description is the reason
 * the validator gives (see `toProblem`), instead of ajv's "not a known field".
 */
function refusedFields(kind: ProtocolDestinationSpec): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(kind.refused ?? {}).map(([field, reason]) => [
      field,
      { not: {}, description: reason },
    ]),
  );
}

function destinationSchema(
  kinds: Record<string, ProtocolDestinationSpec>,
  withWhen: boolean,
  description: string,
): JsonSchema {
  const types = Object.keys(kinds);
  return {
    type: 'object',
    description,
    required: ['type'],
    properties: {
      type: { enum: types, description: 'Destination protocol.', examples: [types[0]] },
    },
    allOf: types.map((type) => ({
      if: { properties: { type: { const: type } }, required: ['type'] },
      then: {
        description: kinds[type].description,
        required: [...kinds[type].required],
        additionalProperties: false,
        properties: {
          type: { const: type },
          ...kinds[type].properties,
          ...refusedFields(kinds[type]),
          ...(withWhen ? { when } : {}),
          ...(withWhen && kinds[type].replies ? { reply } : {}),
        },
      },
    })),
    examples: types.filter((type) => type !== 'log').map((type) => kinds[type].example),
  };
}

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

/** The kinds whose source and destinations can share a transaction (see RouteProtocol.transactions). */
export function transactional(protocols: RouteProtocols): string[] {
  return Object.values(protocols)
    .filter((p) => p.transactions === true)
    .map((p) => p.kind);
}

/**
 * The route document's JSON Schema, derived from the stage registry and the protocols (the
 * `CONNECTORS` map of libs/connectors, whose `ROUTE_SCHEMA` this is).
 */
export function routeSchema(protocols: RouteProtocols): JsonSchema {
  const sources = Object.values(protocols).filter((p) => p.source);
  const sourceTypes = sources.map((p) => p.kind);
  const destinations = destinationKinds(protocols);
  return {
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
          type: {
            enum: sourceTypes,
            description: 'Source protocol.',
            examples: sourceTypes.slice(0, 1),
          },
        },
        allOf: sources.map(({ kind, source }) => ({
          if: { properties: { type: { const: kind } }, required: ['type'] },
          then: {
            description: source!.description,
            required: [...source!.required],
            additionalProperties: false,
            properties: { type: { const: kind }, ...source!.properties },
          },
        })),
        examples: sources.slice(0, 1).map(({ source }) => source!.example),
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
        items: destinationSchema(destinations, true, 'One destination.'),
        examples: sources
          .slice(0, 1)
          .flatMap(({ destination }) => (destination ? [[destination.example]] : [])),
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
            destinations,
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
      delivery: {
        enum: ['at-least-once', 'exactly-once'],
        default: 'at-least-once',
        description: `at-least-once: a crash redelivers (consumers de-duplicate by the message id). exactly-once: each batch's outputs and source offsets are committed in one transaction, for read_committed readers; only with a source and every destination (and dead-letter destination) of a kind that supports transactions (${transactional(protocols).join(', ') || 'none'}), all on the source's connection.`,
        examples: ['at-least-once'],
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
}
