import { Agent, request } from 'undici';
import { configString } from '../config';
import type { ConnectorConnection } from '../connector';
import type { ConnectorContext, ConnectorFactories } from '../plugin';
import { tlsSettings } from '../tls';
import { egressConnector } from './http-egress';
import type { HttpDestinationSpec, HttpSourceSpec } from './http.protocol';
import { HttpDestination } from './http.destination';
import { HttpIngestSource, IngestSources } from './http.source';

export interface HttpPoolOptions {
  /** TCP/TLS connect time limit. Default 5 s. */
  connectTimeoutMs?: number;
  /** Where HTTP sources claim their ingest paths (the gateway's ingest endpoint looks there). */
  ingest?: IngestSources;
  /** Most requests one HTTP source handles at once; more get 429. Default 1000. */
  maxInFlight?: number;
}

/** A connection's agent: connects only where the egress policy allows, with its TLS settings. */
function agent(connection: ConnectorConnection, context: ConnectorContext<HttpPoolOptions>): Agent {
  return context.shared(
    connection,
    () =>
      new Agent({
        connect: egressConnector(context.egress, {
          timeout: context.options.connectTimeoutMs ?? 5_000,
          ...tlsSettings(connection, 'tls', 'tlsKey'),
        }),
      }),
  );
}

/** The undici side of the HTTP plugin, and its ingest source. */
export const httpFactories: ConnectorFactories<
  HttpSourceSpec,
  HttpDestinationSpec,
  HttpPoolOptions
> = {
  createSource(spec, _connection, context, route) {
    const ingest = context.options.ingest;
    if (!ingest) throw new Error('http sources need the pool option http.ingest');
    return new HttpIngestSource(spec, route, ingest, context.options.maxInFlight ?? 1000);
  },
  /**
   * Calls its connection's base URL host and nothing else (redirects are not followed and a
   * route's path cannot change the host), if the egress policy allows it.
   */
  createDestination(spec, connection: ConnectorConnection, context) {
    return new HttpDestination(connection, spec, {
      egress: context.egress,
      dispatcher: agent(connection, context),
    });
  },
  /** Sends a HEAD to the base URL: any HTTP answer means it is reachable. */
  async probe(connection, { timeoutMs, egress }, opened) {
    const base = new URL(configString(connection, 'baseUrl', true));
    const tls = tlsSettings(connection, 'tls', 'tlsKey');
    const probeAgent = new Agent({
      connect: egressConnector(egress, { timeout: timeoutMs, ...tls }),
    });
    opened(() => probeAgent.close());
    const res = await request(base, {
      method: 'HEAD',
      dispatcher: probeAgent,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.dump();
  },
};
