import type { ConnectorConnection } from '../connector';
import type { ConnectorContext, ConnectorFactories } from '../plugin';
import { Amqp10Client, probeAmqp10, type Amqp10ClientOptions } from './amqp10-client';
import { Amqp10Destination } from './amqp10.destination';
import type { Amqp10DestinationSpec, Amqp10SourceSpec } from './amqp10.protocol';
import { Amqp10Source } from './amqp10.source';

export type Amqp10PoolOptions = Amqp10ClientOptions & {
  /** How long a source's `start()` waits for the broker (connection open, link attached). Default 30 s. */
  startTimeoutMs?: number;
  /** How long a send waits for the link, credit and the outcome. Default 10 s. */
  publishTimeoutMs?: number;
};

function sharedClient(
  connection: ConnectorConnection,
  context: ConnectorContext<Amqp10PoolOptions>,
): Amqp10Client {
  return context.shared(
    connection,
    () =>
      new Amqp10Client(connection, { ...context.options, egress: context.egress }, context.logger),
  );
}

/** The rhea side of the AMQP 1.0 plugin: one shared connection per stored connection, a link per source and destination. */
export const amqp10Factories: ConnectorFactories<
  Amqp10SourceSpec,
  Amqp10DestinationSpec,
  Amqp10PoolOptions
> = {
  createSource(spec, connection, context, route) {
    return new Amqp10Source(
      sharedClient(connection, context),
      spec,
      { routeId: route.routeId, startTimeoutMs: context.options.startTimeoutMs ?? 30_000 },
      context.logger,
    );
  },
  createDestination(spec, connection, context) {
    return new Amqp10Destination(
      sharedClient(connection, context),
      spec,
      { publishTimeoutMs: context.options.publishTimeoutMs ?? 10_000 },
      context.logger,
    );
  },
  /** Opens and closes a connection. */
  probe: (connection, options, opened) => probeAmqp10(connection, options, opened),
};
