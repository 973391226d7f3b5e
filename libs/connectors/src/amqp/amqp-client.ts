import { AmqpConnectionManagerClass, type AmqpConnectionManager } from 'amqp-connection-manager';
import type { ChannelModel, Options } from 'amqplib';
import { backoffDelay, cancellableSleep } from '../backoff';
import { badConfig, configNumber, configString } from '../config';
import { tlsSettings, type TlsSettings } from '../tls';
import type { ConnectorConnection } from '../connector';
import { EgressPolicy } from '../egress/egress-policy';
import { egressError, egressLookup } from '../egress/egress-socket';
import { errorText, type ConnectionState, type ConnectorLogger } from '../logger';

export interface AmqpClientOptions {
  /** Delay before the first reconnect attempt; doubles per failed attempt (with jitter). Default 500 ms. */
  reconnectInitialMs?: number;
  /** Longest delay between reconnect attempts. Default 30 s. */
  reconnectMaxMs?: number;
  /** TCP connect and AMQP handshake time limit per attempt. Default 10 s. */
  connectTimeoutMs?: number;
  /** Where the client may connect; default: anywhere but cloud metadata and link-local. */
  egress?: EgressPolicy;
}

/** amqplib connect arguments for a stored connection; `safeUrl` names it without any secret. */
export function amqpConnectArgs(connection: ConnectorConnection): {
  url: Options.Connect;
  safeUrl: string;
  /** amqps: a private CA and a client certificate (socket options of the TLS connection). */
  tls?: TlsSettings;
} {
  const raw = configString(connection, 'url', true);
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw badConfig(connection, 'config.url is not a URL');
  }
  const protocol = parsed.protocol.replace(/:$/, '');
  if (protocol !== 'amqp' && protocol !== 'amqps')
    throw badConfig(connection, 'config.url must start with amqp:// or amqps://');
  const username = configString(connection, 'username') ?? decodeURIComponent(parsed.username);
  // The registry refuses a password in the URL; one found there anyway is still used, never logged.
  const password = connection.secrets.password ?? decodeURIComponent(parsed.password);
  const vhost =
    configString(connection, 'vhost') ?? (decodeURIComponent(parsed.pathname.slice(1)) || '/');
  const port = parsed.port ? Number(parsed.port) : protocol === 'amqps' ? 5671 : 5672;
  const heartbeat = configNumber(connection, 'heartbeatSeconds') ?? 10;
  const url: Options.Connect = {
    protocol,
    hostname: parsed.hostname.replace(/^\[|\]$/g, ''),
    port,
    username: username || 'guest',
    password: password || (username ? '' : 'guest'),
    // amqplib unescapes the vhost of an object URL; escape '%' so that a literal one survives.
    vhost: vhost.replace(/%/g, '%25'),
    heartbeat,
  };
  const safeUrl = `${protocol}://${url.username}@${parsed.host}/${encodeURIComponent(vhost)}`;
  const tls = tlsSettings(connection, 'tls', 'tlsKey');
  if (tls && protocol !== 'amqps')
    throw badConfig(connection, 'config.tls applies only to an amqps:// URL');
  return { url, safeUrl, ...(tls ? { tls } : {}) };
}

/**
 * One broker connection per stored connection, shared by every route that uses it, kept alive by
 * amqp-connection-manager. Channels are not taken from the manager's ChannelWrapper: see
 * {@link AmqpChannelKeeper} for why. The manager's own reconnect delay is fixed; exponential
 * backoff is added through its `findServers` hook, which it calls before every attempt.
 */
export class AmqpClient {
  readonly manager: AmqpConnectionManager;
  readonly safeUrl: string;
  private failures = 0;
  private closing = false;
  private started = false;
  private sleep?: { cancel(): void };
  private lastError?: Error;
  /** When the connection came up, or went down (or began connecting). */
  private since = new Date();
  private everConnected = false;
  private reconnectCount = 0;

  constructor(
    readonly connection: ConnectorConnection,
    options: AmqpClientOptions,
    private readonly logger: ConnectorLogger,
  ) {
    const { url, safeUrl, tls } = amqpConnectArgs(connection);
    this.safeUrl = safeUrl;
    const egress = options.egress ?? EgressPolicy.permissive();
    const host = url.hostname!;
    const port = url.port!;
    // Refused by name (or as an address literal, which never goes through `lookup`): no attempt.
    const refused = egress.refusesName(host, port);
    if (refused) throw egressError(`amqp ${safeUrl}`, refused);
    const initialMs = options.reconnectInitialMs ?? 500;
    const maxMs = options.reconnectMaxMs ?? 30_000;
    this.manager = new AmqpConnectionManagerClass(null, {
      heartbeatIntervalInSeconds: url.heartbeat,
      reconnectTimeInSeconds: initialMs / 1000,
      connectionOptions: {
        ...tls,
        // Every address the name resolves to is checked as the socket connects.
        lookup: egressLookup(egress, port),
        timeout: options.connectTimeoutMs ?? 10_000,
        // amqplib leaves Nagle on: a small frame written while an earlier one awaits its TCP ack
        // waits for that ack, which the broker may delay by up to 40 ms. Frames of one pass are
        // already written together (patches/amqplib: the Mux corks the socket).
        noDelay: true,
        clientProperties: { connection_name: `junction:${connection.name}` },
      },
      findServers: async () => {
        // The manager already waited `initialMs`; add the rest of the exponential delay.
        if (this.failures > 0 && !this.closing) {
          const extra = backoffDelay(this.failures, initialMs, maxMs) - initialMs;
          if (extra > 0) {
            const sleep = cancellableSleep(extra);
            this.sleep = sleep;
            await sleep.promise;
            this.sleep = undefined;
          }
        }
        // An empty list makes the attempt fail at once, so a close never opens a connection.
        return this.closing ? [] : [url];
      },
    });
    this.manager.setMaxListeners(0);
    this.manager.on('connect', () => {
      if (this.everConnected) this.reconnectCount += 1;
      this.everConnected = true;
      this.since = new Date();
      if (this.failures > 0 || this.lastError)
        this.logger.info(`amqp ${this.safeUrl}: connected again`);
      this.failures = 0;
      this.lastError = undefined;
    });
    this.manager.on('connectFailed', ({ err }: { err: Error }) => {
      this.failures += 1;
      const repeated = this.lastError !== undefined && errorText(this.lastError) === errorText(err);
      this.lastError = err;
      if (this.closing) return;
      const line = `amqp ${this.safeUrl}: connect attempt ${this.failures} failed: ${errorText(err)}`;
      // The same refusal again and again says nothing new (status and /health/ready keep saying
      // it): a warning when it changes and every tenth attempt, the rest at debug.
      if (!repeated || this.failures % 10 === 0) this.logger.warn(line);
      else this.logger.debug(line);
    });
    this.manager.on('disconnect', ({ err }: { err?: Error }) => {
      this.since = new Date();
      if (err) this.lastError = err;
      if (!this.closing)
        this.logger.warn(`amqp ${this.safeUrl}: disconnected: ${errorText(err ?? 'closed')}`);
    });
  }

  /** Why the last connect attempt failed, if the client is not connected. */
  get error(): Error | undefined {
    return this.manager.isConnected() ? undefined : this.lastError;
  }

  /** Up or not, since when, why not, and how often it came back (for status, readiness, metrics). */
  state(): ConnectionState {
    const up = this.manager.isConnected();
    return {
      connection: this.connection.name,
      type: 'amqp',
      up,
      since: this.since,
      reconnects: this.reconnectCount,
      ...(!up && this.lastError ? { error: errorText(this.lastError) } : {}),
      ...(!up ? { attempts: this.failures } : {}),
    };
  }

  /** The live amqplib connection, if any. */
  get current(): ChannelModel | undefined {
    return this.manager.connection;
  }

  /**
   * Calls `listener` with every new connection (and at once with the current one); returns the
   * unsubscribe function. Starts connecting on first use.
   */
  onConnect(listener: (connection: ChannelModel) => void): () => void {
    const handler = (): void => {
      const current = this.manager.connection;
      if (current) listener(current);
    };
    this.manager.on('connect', handler);
    this.start();
    if (this.manager.connection) handler();
    return () => {
      this.manager.removeListener('connect', handler);
    };
  }

  private start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    // Rejects only on refused credentials or a close; the manager keeps retrying in the background either way.
    this.manager.connect().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sleep?.cancel();
    await this.manager.close();
  }
}
