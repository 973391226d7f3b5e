import { createHash } from 'node:crypto';
import {
  ConnectorError,
  type ConnectorConnection,
  type Destination,
  type Source,
} from './connector';
import {
  connectorOf,
  type ConnectorDestinationSpec,
  type ConnectorKind,
  type ConnectorSourceSpec,
  type PoolOptionsOf,
} from './connectors';
import { EgressPolicy } from './egress/egress-policy';
import { consoleLogger, type ConnectionState, type ConnectorLogger } from './logger';
import type { ConnectorContext, ConnectorFactories, SharedClient, SourceRoute } from './plugin';

/** Each protocol's options under its kind (`amqp`, `kafka`, `http`), as its factory file declares them. */
export type ConnectorPoolOptions = {
  logger?: ConnectorLogger;
  /**
   * Where clients may connect, checked on each target's name and on every address a socket
   * connects to. Default: anywhere but cloud metadata and link-local addresses.
   */
  egress?: EgressPolicy;
} & { [K in ConnectorKind]?: PoolOptionsOf<K> };

type AnyFactories = ConnectorFactories<{ type: string }, { type: string }, unknown>;

/**
 * Everything the route runtime needs to talk to brokers and HTTP endpoints, so that it never
 * touches amqplib, kafkajs or undici: each protocol's plugin (`CONNECTORS`) makes its sources and
 * destinations, its factories loaded on first use. Clients are shared: one per stored connection
 * (same name, config and secrets), with a channel, consumer or request per source and
 * destination; the last user gone, a client is closed. `close()` closes every one of them.
 */
export class ConnectorPool {
  private readonly logger: ConnectorLogger;
  /** Shared clients by kind and connection fingerprint. */
  private readonly clients = new Map<string, SharedClient>();
  /** How many sources and destinations use each client. */
  private readonly users = new Map<SharedClient, number>();
  private closed = false;
  private readonly egress: EgressPolicy;
  /** Each shared client's name, for a stop that gives up: `<kind> connection '<name>'`. */
  private readonly labels = new WeakMap<SharedClient, string>();
  /** Clients whose close has not finished, while the pool closes. */
  private readonly closing = new Set<SharedClient>();

  constructor(private readonly options: ConnectorPoolOptions = {}) {
    this.logger = options.logger ?? consoleLogger;
    this.egress = options.egress ?? EgressPolicy.permissive();
  }

  /** A source; `connection` may be absent only for a kind whose source needs none (http). */
  source(
    spec: ConnectorSourceSpec,
    connection: ConnectorConnection | undefined,
    options: SourceRoute,
  ): Source {
    this.assertOpen();
    const { factories, context, leased } = this.prepare(spec.type, connection);
    if (!factories.createSource)
      throw new ConnectorError('REJECTED', `${spec.type} has no source`, false);
    const source = factories.createSource(
      spec,
      connection as ConnectorConnection,
      context,
      options,
    );
    return this.lease(leased, source, 'stop');
  }

  destination(spec: ConnectorDestinationSpec, connection: ConnectorConnection): Destination {
    this.assertOpen();
    const { factories, context, leased } = this.prepare(spec.type, connection);
    if (!factories.createDestination)
      throw new ConnectorError('REJECTED', `${spec.type} has no destination`, false);
    return this.lease(leased, factories.createDestination(spec, connection, context), 'close');
  }

  /** Closes every shared client. Sources should be stopped first: their unacked messages are requeued. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const clients = [...this.clients.values()];
    this.clients.clear();
    for (const client of clients) this.closing.add(client);
    const results = await Promise.allSettled(
      clients.map((c) => c.close().finally(() => this.closing.delete(c))),
    );
    for (const result of results)
      if (result.status === 'rejected')
        this.logger.warn(`closing a connector client failed: ${String(result.reason)}`);
  }

  /** While close() runs: the clients it still waits for, a line each. */
  stillClosing(): string[] {
    return [...this.closing].map((c) => `${this.labels.get(c) ?? 'a connection'}: still closing`);
  }

  /** The state of every broker connection open now that reports one (AMQP, Kafka). */
  connectionStates(): ConnectionState[] {
    return [...this.clients.values()].flatMap((c) => (c.state ? [c.state()] : []));
  }

  /** Shared clients open now (one per stored connection, as it is now, that something uses). */
  get openClients(): number {
    return this.clients.size;
  }

  /** The kind's factories, and a context whose `shared` clients are leased to what it makes. */
  private prepare(
    kind: string,
    connection: ConnectorConnection | undefined,
  ): { factories: AnyFactories; context: ConnectorContext<unknown>; leased: SharedClient[] } {
    const plugin = connectorOf(kind);
    if (!plugin) throw new ConnectorError('REJECTED', `unknown connector type ${kind}`, false);
    if (connection) this.assertType(kind, connection);
    else if (plugin.source?.required.includes('connection'))
      throw new ConnectorError('REJECTED', `a ${kind} source needs a connection`, false);
    const leased: SharedClient[] = [];
    const context: ConnectorContext<unknown> = {
      logger: this.logger,
      egress: this.egress,
      options: (this.options as Record<string, unknown>)[kind] ?? {},
      shared: <C extends SharedClient>(conn: ConnectorConnection, create: () => C): C => {
        const key = `${kind}:${connectionFingerprint(conn)}`;
        let client = this.clients.get(key) as C | undefined;
        if (!client) {
          client = create();
          this.clients.set(key, client);
          this.labels.set(client, `${kind} connection '${conn.name}'`);
        }
        leased.push(client);
        return client;
      },
    };
    return { factories: plugin.load(), context, leased };
  }

  /**
   * Counts `item` as a user of each of `clients` until its `stop` (a source) or `close` (a
   * destination) has run. The last user gone, the client is closed: a stopped or deleted route
   * leaves no broker connection behind, nor does the old version of an edited connection.
   */
  private lease<T extends Source | Destination>(
    clients: SharedClient[],
    item: T,
    release: 'stop' | 'close',
  ): T {
    if (clients.length === 0) return item;
    for (const client of clients) this.users.set(client, (this.users.get(client) ?? 0) + 1);
    const end = (item as unknown as Record<string, () => Promise<void>>)[release].bind(item);
    let released = false;
    (item as unknown as Record<string, () => Promise<void>>)[release] = async () => {
      try {
        await end();
      } finally {
        if (!released) {
          released = true;
          for (const client of clients) await this.release(client);
        }
      }
    };
    return item;
  }

  private async release(client: SharedClient): Promise<void> {
    const users = (this.users.get(client) ?? 1) - 1;
    if (users > 0) {
      this.users.set(client, users);
      return;
    }
    this.users.delete(client);
    if (this.closed) return; // close() takes care of every client
    for (const [key, c] of this.clients) if (c === client) this.clients.delete(key);
    await client
      .close()
      .catch((err: unknown) =>
        this.logger.warn(`closing an unused connector client failed: ${String(err)}`),
      );
  }

  private assertOpen(): void {
    if (this.closed) throw new ConnectorError('CLOSED', 'connector pool is closed', false);
  }

  private assertType(type: string, connection: ConnectorConnection): void {
    const declared = (connection as { type?: unknown }).type;
    if (declared !== undefined && declared !== type)
      throw new ConnectorError(
        'REJECTED',
        `connection ${connection.name} is of type ${String(declared)}, not ${type}`,
        false,
      );
  }
}

/**
 * What a stored connection is *now* (config and secrets; the secrets only enter a hash): the
 * same text for the same settings. An edited connection (new URL or password) gets a new client
 * for the routes started after the edit, and the runtime restarts routes built with another.
 */
export function connectionFingerprint(connection: ConnectorConnection): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([connection.config, connection.secrets]))
    .digest('base64url');
  return `${connection.name}#${digest}`;
}
