import {
  prepareRouteSchema,
  routeSchema,
  type JsonSchema,
  type LogDestinationSpec,
  type RouteDocument,
} from '@junction/pipeline';
import { amqpConnector } from './amqp/amqp.protocol';
import { amqp10Connector } from './amqp10/amqp10.protocol';
import { httpConnector } from './http/http.protocol';
import { kafkaConnector } from './kafka/kafka.protocol';
import { mqttConnector } from './mqtt/mqtt.protocol';
import type { ConnectorPlugin } from './plugin';

/**
 * The connector registry. Explicit on purpose: no protocol registers itself by being imported.
 * The route schema, connection types, the connector pool, the CLI's printouts, the audit's
 * target names, OpenAPI and the console's hints are all derived from this map. Every entry is
 * the pure part of its plugin (see plugin.ts): importing this map loads no broker client.
 */
export const CONNECTORS = {
  amqp: amqpConnector,
  amqp10: amqp10Connector,
  kafka: kafkaConnector,
  http: httpConnector,
  mqtt: mqttConnector,
} as const satisfies Record<string, Pick<ConnectorPlugin, 'kind' | 'connection' | 'description'>>;

export type ConnectorKind = keyof typeof CONNECTORS;
export const CONNECTOR_KINDS = Object.keys(CONNECTORS) as ConnectorKind[];

type Specs<K extends ConnectorKind> = NonNullable<(typeof CONNECTORS)[K]['__specs']>;
/** The source spec of a kind, as written in a route. */
export type SourceSpecOf<K extends ConnectorKind> = Specs<K>['source'];
/** The destination spec of a kind, as written in a route. */
export type DestinationSpecOf<K extends ConnectorKind> = Specs<K>['destination'];
/** What a confirmed delivery of any protocol says (see `DeliveryReceipt`). */
export type ConnectorReceipt = { [K in ConnectorKind]: Specs<K>['receipt'] }[ConnectorKind];
/** This protocol's pool options. */
export type PoolOptionsOf<K extends ConnectorKind> = Specs<K>['options'];

/** Any source a route may name. */
export type ConnectorSourceSpec = { [K in ConnectorKind]: SourceSpecOf<K> }[ConnectorKind];
/** Any destination a route may name, besides the built-in `log`. */
export type ConnectorDestinationSpec = {
  [K in ConnectorKind]: DestinationSpecOf<K>;
}[ConnectorKind];

/** A route document with the specs of the registered protocols. */
export type RouteSpec = RouteDocument<
  ConnectorSourceSpec,
  ConnectorDestinationSpec | LogDestinationSpec
>;

/** Whether `kind` names a registered protocol. */
export function isConnectorKind(kind: unknown): kind is ConnectorKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(CONNECTORS, kind);
}

/** The plugin of a kind, loosely typed (for code that handles any protocol). */
export function connectorOf(
  kind: string,
): ConnectorPlugin<{ type: string }, { type: string }, unknown> | undefined {
  return isConnectorKind(kind)
    ? (CONNECTORS[kind] as unknown as ConnectorPlugin<{ type: string }, { type: string }, unknown>)
    : undefined;
}

/** The route document's JSON Schema, derived from the stage registry and this map. */
export const ROUTE_SCHEMA: JsonSchema = routeSchema(CONNECTORS);
// Compiled once, when the map loads (as the engine did with its fixed schema), not in a request.
prepareRouteSchema(CONNECTORS);
