import type { JsonSchema } from './schema/json-schema';

/**
 * What the engine needs to know of a protocol to check and compile a route that names it: its
 * source and destination fields (JSON Schema with descriptions and examples: the route schema,
 * the console's hints and the OpenAPI document are derived from them), what the schema cannot
 * say (cross-field checks), and which destination fields are expressions.
 *
 * The engine owns no protocol. The protocols live in `libs/connectors/src/<kind>/` and reach the
 * engine through `RouteResources.protocols` (the gateway, the CLI and the tests hand it the
 * `CONNECTORS` map), so that `libs/pipeline` keeps depending on no other Junction lib.
 */
export interface RouteProtocol {
  /** The `type` of a source, destination or connection: `amqp`, `kafka`, ... */
  readonly kind: string;
  /** What a source of this kind takes; absent when the protocol has no source. */
  readonly source?: ProtocolSourceSpec;
  /** What a destination of this kind takes; absent when the protocol has no destination. */
  readonly destination?: ProtocolDestinationSpec;
  /**
   * Its source and its destinations on the same connection can take part in one transaction
   * (Kafka): a route reading and writing only such a connection may ask for `delivery:
   * exactly-once`.
   */
  readonly transactions?: boolean;
}

/** Fields of one side (source or destination), besides `type` (and `when`, `reply`). */
export interface ProtocolFields {
  /** One sentence shown in the schema, the console and OpenAPI. */
  readonly description: string;
  readonly required: readonly string[];
  /** JSON Schema of each field, with `description` and `examples`. */
  readonly properties: Readonly<Record<string, JsonSchema>>;
  /** A whole, valid example of this side (used in docs and hints). */
  readonly example: Record<string, unknown>;
}

/** Records a problem at a pointer relative to the checked spec (`''`: the spec itself). */
export type ReportProblem = (relative: string, message: string) => void;

export interface ProtocolSourceSpec extends ProtocolFields {
  /**
   * Cross-field checks the schema cannot say (a field that applies only with another's value).
   * Called only on a spec whose shape is sound.
   */
  check?(spec: Record<string, unknown>, report: ReportProblem): void;
  /** The secret the source's connection must have set (an HMAC-checked ingest needs `hmacKey`). */
  readonly connectionSecret?: string;
  /** True when a caller waits for this source's answer (an http source in sync mode): only then may a destination `reply`. */
  awaitsReply?(spec: Record<string, unknown>): boolean;
  /**
   * Callers push the messages (HTTP ingest): nothing waits in a broker to be handed over between
   * two versions of a route, so the next version starts taking them before the old one drains.
   */
  readonly pushed?: boolean;
  /**
   * Where this source reads on its connection: a destination of the same kind and connection
   * that writes there (see ProtocolDestinationSpec.writes) feeds the route its own messages.
   */
  reads?(spec: Record<string, unknown>): ProtocolPlace | undefined;
  /**
   * Where this source takes messages that no other route may take too: a place whose broker
   * hands each message to one of its readers (a queue, a consumer group, a shared subscription),
   * so a second route reading there would take a share of this one's messages. Absent, or
   * undefined for a spec: every route reads the place in full (or, HTTP, paths claim their own).
   */
  claim?(spec: Record<string, unknown>, routeId: string): SourcePlaceClaim | undefined;
}

/** A place on a connection: the field of the spec that names it, and its value. */
export interface ProtocolPlace {
  readonly field: string;
  readonly value: string;
}

/** The place as the broker sees it (see ProtocolSourceSpec.claim). */
export interface SourcePlaceClaim {
  /** Compared between the routes of one connection. */
  readonly parts: readonly string[];
  /** The field that names the place, relative to the source (`/queue`). */
  readonly pointer: string;
  /** The place in words (`queue orders.in`). */
  readonly place: string;
  /**
   * Why two routes may not share it, for the refusal; absent: the broker would split the place's
   * messages between them.
   */
  readonly why?: string;
}

/** The place a string field of a spec names, if it is set. */
export function placeAt(spec: Record<string, unknown>, field: string): ProtocolPlace | undefined {
  const value = spec[field];
  return typeof value === 'string' ? { field, value } : undefined;
}

export interface ProtocolDestinationSpec extends ProtocolFields {
  /** Cross-field checks, as for sources; also run on a dead-letter destination of this kind. */
  check?(spec: Record<string, unknown>, report: ReportProblem): void;
  /** Whether a destination of this kind can give a sync HTTP caller its answer (`reply: true`). */
  readonly replies?: boolean;
  /** Where this destination writes on its connection (see ProtocolSourceSpec.reads). */
  writes?(spec: Record<string, unknown>): ProtocolPlace | undefined;
  /**
   * Fields holding JSONata expressions evaluated per message, by the outbound slot they fill:
   * `routingKey` must give a string (AMQP routing key, a topic), `key` a string or number (Kafka
   * message key; nothing gives no key), `priority` an integer from 0 to 255 (AMQP message
   * priority; nothing gives the broker's default). The engine compiles them with the route and
   * reports a syntax error at the field.
   */
  readonly expressions?: {
    readonly routingKey?: string;
    readonly key?: string;
    readonly priority?: string;
  };
  /**
   * Fields other protocols take that this one cannot carry, each with the reason given to a
   * route that sets one (MQTT has no message priority): clearer than "not a known field".
   */
  readonly refused?: Readonly<Record<string, string>>;
}

/** The protocols a route may name, by kind. */
export type RouteProtocols = Readonly<Record<string, RouteProtocol>>;
