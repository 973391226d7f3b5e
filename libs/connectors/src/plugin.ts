import type { JsonSchema, RouteProtocol } from '@junction/pipeline';
import type { Delivery, DeliveryMode } from '@junction/pipeline';
import type { ConnectorConnection, Destination, MessageHandler, Source } from './connector';
import type { EgressPolicy } from './egress/egress-policy';
import type { ConnectionState, ConnectorLogger } from './logger';

/**
 * A protocol as one plugin. Each protocol is one folder, `libs/connectors/src/<kind>/`, with:
 *
 * - `<kind>.protocol.ts`: the pure part, a `ConnectorPlugin`: kind, connection config schema
 *   and secret keys, source and destination fields (JSON Schema with descriptions and examples),
 *   cross-field checks, describe functions, egress targets, and `load()`. It imports no broker
 *   client: the route schema, the CLI, OpenAPI and the registry read it without pulling
 *   amqplib or kafkajs in (and `libs/pipeline` gets it injected through `RouteResources.protocols`).
 * - `<kind>.factory.ts`: the `ConnectorFactories` (`createSource`, `createDestination`,
 *   `probe`), the only code that touches the broker client. `load()` requires it on first use
 *   (a synchronous `require`, so the pool's `source()` / `destination()` stay synchronous): only
 *   the connector pool and the connection test bring the client in.
 * - its source, destination, client, unit specs and `<kind>.int-spec.ts` running the shared
 *   conformance suite (`conformance/conformance.ts`) against the real service.
 *
 * Adding a protocol = that folder + one line in `CONNECTORS` (`connectors.ts`) + its conformance
 * run. Everything else (route schema, connection types, pool, CLI printouts, audit target names,
 * egress checks, OpenAPI, console hints) is derived from the map; the `ConnectorKind` union is
 * `keyof typeof CONNECTORS`, never retyped.
 *
 * Type parameters: `S` the source spec (as written in a route, with `type`), `D` the destination
 * spec, `O` the pool options of this protocol (`ConnectorPoolOptions[kind]`), `R` what its
 * destinations' confirmations say (`DeliveryReceipt`, with `kind`).
 */
export interface ConnectorPlugin<
  S extends { type: string } = { type: string },
  D extends { type: string } = { type: string },
  O = unknown,
  R extends { kind: string } = { kind: string },
> extends RouteProtocol {
  readonly kind: string;
  /** One line for docs and the console (what the protocol is, which brokers were tested). */
  readonly description: string;
  readonly connection: ConnectionSpec;
  /** How a spec reads in CLI printouts and logs: `amqp rabbit queue orders.in`. */
  describeSource?(spec: S): string;
  /** A would-be delivery of a dry run, for the CLI: `kafka kafka topic orders.eu key 'A-1'`. */
  describeDelivery?(spec: D, delivery: Delivery): string;
  /** The audit trail's target name of a confirmed delivery: `amqp:orders/eu.orders`. */
  describeReceipt?(receipt: Readonly<Record<string, unknown>>): string;
  /** Loads the factories (and with them the broker client). Called by the pool and the probe only. */
  load(): ConnectorFactories<S, D, O>;
  /** Phantom: keeps the type parameters for `SourceSpecOf`, `DestinationSpecOf`, `DeliveryReceipt`. */
  readonly __specs?: { source: S; destination: D; options: O; receipt: R };
}

/** The stored connection of a protocol: what `config` holds, and which secrets go beside it. */
export interface ConnectionSpec {
  /** JSON Schema of `config` (descriptions and examples). Secrets never go here. */
  readonly configSchema: JsonSchema;
  /** Secret names this kind understands (shown in docs and errors); others are refused. */
  readonly secretKeys: readonly string[];
  /**
   * Secrets named by a prefix and a free part (http: `header:<name>`): a key with `prefix` is
   * one of them, and `problem` says why its free part is refused (undefined: accepted).
   */
  readonly prefixedSecret?: { prefix: string; problem(rest: string): string | undefined };
  /**
   * Config fields that decide where the secrets go and whom they are trusted to (address, TLS,
   * user name): changing one must come with the secrets again.
   */
  readonly targetFields: readonly string[];
  /** Every host and port a (valid) config connects to first, for the egress policy. */
  egressTargets(config: Record<string, unknown>): ConnectionTarget[];
  /** Secrets written into config (a password in a URL, a credential header), each naming the slot to use. */
  embeddedSecretProblems?(
    config: Record<string, unknown>,
  ): Array<{ pointer: string; message: string }>;
}

/** A host and port a connection connects to, with the pointer of the config field that names it. */
export interface ConnectionTarget {
  host: string;
  port: number;
  pointer: string;
}

/** The route a source is made for. */
export interface SourceRoute {
  routeId: string;
  routeVersion?: number;
  /** `exactly-once`: the source runs its messages in transactions (a protocol with `transactions`). */
  delivery?: DeliveryMode;
}

/** The code that talks to the broker: made by the pool through `plugin.load()`. */
export interface ConnectorFactories<S, D, O> {
  /** Absent for a protocol without sources of its own making (none today). */
  createSource?(
    spec: S,
    connection: ConnectorConnection,
    context: ConnectorContext<O>,
    route: SourceRoute,
  ): Source;
  createDestination?(
    spec: D,
    connection: ConnectorConnection,
    context: ConnectorContext<O>,
  ): Destination;
  /**
   * Tries a stored connection once, as a connector would connect (same settings, TLS, secrets,
   * egress policy); rejects with what went wrong. `opened` is told how to close what it opened,
   * which the caller does even when the answer came after its time limit.
   */
  probe(
    connection: ConnectorConnection,
    options: { timeoutMs: number; egress: EgressPolicy },
    opened: (close: () => Promise<unknown>) => void,
  ): Promise<void>;
}

/** A broker client shared by every source and destination of one stored connection. */
export interface SharedClient {
  close(): Promise<void>;
  /** For route status, readiness and metrics; absent for clients that keep no connection of their own. */
  state?(): ConnectionState;
}

/** What the pool lends a factory. */
export interface ConnectorContext<O> {
  readonly logger: ConnectorLogger;
  /** Checked on each target's name and on every address a socket connects to. */
  readonly egress: EgressPolicy;
  /** This protocol's pool options (`ConnectorPoolOptions[kind]`), `{}` when none were given. */
  readonly options: O;
  /**
   * The client of `connection` as it is now (same name, config and secrets share one), made by
   * `create` the first time. The source or destination being made counts as its user until its
   * `stop` / `close`; the last user gone, the pool closes it.
   */
  shared<C extends SharedClient>(connection: ConnectorConnection, create: () => C): C;
}

export type { MessageHandler };
