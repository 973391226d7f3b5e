import { connect as amqpConnect } from 'amqplib';
import type { ConnectorConnection } from '../connector';
import type { ConnectorContext, ConnectorFactories } from '../plugin';
import { egressError, egressLookup } from '../egress/egress-socket';
import { AmqpClient, amqpConnectArgs, type AmqpClientOptions } from './amqp-client';
import { AmqpDestination } from './amqp.destination';
import type { AmqpDestinationSpec, AmqpSourceSpec } from './amqp.protocol';
import { AmqpSource } from './amqp.source';

export type AmqpPoolOptions = AmqpClientOptions & {
  /** How long a source's `start()` waits for the broker. Default 30 s. */
  startTimeoutMs?: number;
  /** How long a send waits for a channel and the confirm. Default 10 s. */
  publishTimeoutMs?: number;
};

function sharedClient(
  connection: ConnectorConnection,
  context: ConnectorContext<AmqpPoolOptions>,
): AmqpClient {
  return context.shared(
    connection,
    () =>
      new AmqpClient(connection, { ...context.options, egress: context.egress }, context.logger),
  );
}

/** The amqplib side of the AMQP plugin: one shared connection per stored connection, a channel per source and destination. */
export const amqpFactories: ConnectorFactories<
  AmqpSourceSpec,
  AmqpDestinationSpec,
  AmqpPoolOptions
> = {
  createSource(spec, connection, context, route) {
    const client = sharedClient(connection, context);
    return new AmqpSource(
      client,
      spec,
      { routeId: route.routeId, startTimeoutMs: context.options.startTimeoutMs ?? 30_000 },
      context.logger,
    );
  },
  createDestination(spec, connection, context) {
    const client = sharedClient(connection, context);
    return new AmqpDestination(
      client,
      spec,
      { publishTimeoutMs: context.options.publishTimeoutMs ?? 10_000 },
      context.logger,
    );
  },
  /** Opens and closes a connection. */
  async probe(connection, { timeoutMs, egress }, opened) {
    const { url, safeUrl, tls } = amqpConnectArgs(connection);
    const port = url.port!;
    const refused = egress.refusesName(url.hostname!, port);
    if (refused) throw egressError(`amqp ${safeUrl}`, refused);
    const conn = await amqpConnect(url, {
      ...tls,
      lookup: egressLookup(egress, port),
      timeout: timeoutMs,
    });
    opened(() => conn.close());
  },
};
