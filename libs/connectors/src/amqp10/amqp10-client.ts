import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import {
  create_container,
  type Connection,
  type ConnectionOptions,
  type Container,
  type EventContext,
} from 'rhea';
import { backoffDelay, cancellableSleep } from '../backoff';
import { badConfig, configNumber, configString } from '../config';
import type { ConnectorConnection } from '../connector';
import { EgressPolicy } from '../egress/egress-policy';
import { egressError, egressLookup } from '../egress/egress-socket';
import { errorText, type ConnectionState, type ConnectorLogger } from '../logger';
import { tlsSettings } from '../tls';

export interface Amqp10ClientOptions {
  /** Delay before the first reconnect attempt; doubles per failed attempt (with jitter). Default 500 ms. */
  reconnectInitialMs?: number;
  /** Longest delay between reconnect attempts. Default 30 s. */
  reconnectMaxMs?: number;
  /** TCP connect, TLS, SASL and open time limit per attempt. Default 10 s. */
  connectTimeoutMs?: number;
  /** Where the client may connect; default: anywhere but cloud metadata and link-local. */
  egress?: EgressPolicy;
}

/** What a stored AMQP 1.0 connection connects to, and how it names itself, without secrets. */
export interface Amqp10Target {
  host: string;
  port: number;
  tls: boolean;
  /** `amqps://user@host:port`: for logs and status, never with the password. */
  safeUrl: string;
}

/** Reads the URL of a stored connection (no secrets): where it goes. */
export function amqp10Target(connection: ConnectorConnection): Amqp10Target {
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
  const tls = protocol === 'amqps';
  const port = parsed.port ? Number(parsed.port) : tls ? 5671 : 5672;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw badConfig(connection, 'config.url names no host');
  const username = configString(connection, 'username') ?? decodeURIComponent(parsed.username);
  const user = username ? `${encodeURIComponent(username)}@` : '';
  return { host, port, tls, safeUrl: `${protocol}://${user}${parsed.host}` };
}

/**
 * rhea connect options for a stored connection: SASL PLAIN with the user name and the `password`
 * secret (ANONYMOUS without a user name), TLS for amqps:// with the connection's CA and client
 * certificate, the container id, and rhea's own reconnect off (the client reconnects itself, with
 * a fresh connection each time, so that no delivery of a dead connection is ever settled on a new one).
 */
export function amqp10ConnectOptions(
  connection: ConnectorConnection,
  lookup?: ReturnType<typeof egressLookup>,
): { options: ConnectionOptions; target: Amqp10Target } {
  const target = amqp10Target(connection);
  const parsed = new URL(configString(connection, 'url', true));
  const username = configString(connection, 'username') ?? decodeURIComponent(parsed.username);
  // The registry refuses a password in the URL; one found there anyway is still used, never logged.
  const password = connection.secrets.password ?? decodeURIComponent(parsed.password);
  const idleSeconds = configNumber(connection, 'idleTimeoutSeconds') ?? 30;
  if (idleSeconds < 0)
    throw badConfig(connection, 'config.idleTimeoutSeconds must not be negative');
  const containerId = configString(connection, 'containerId') ?? `junction:${connection.name}`;
  const virtualHost = configString(connection, 'virtualHost');
  const tls = tlsSettings(connection, 'tls', 'tlsKey');
  if (tls && !target.tls) throw badConfig(connection, 'config.tls applies only to an amqps:// URL');
  const common = {
    host: target.host,
    port: target.port,
    container_id: containerId,
    idle_time_out: idleSeconds * 1000,
    reconnect: false,
    ...(virtualHost ? { hostname: virtualHost } : {}),
    ...(username ? { username, password } : {}),
    ...(lookup ? { lookup } : {}),
  };
  const options: ConnectionOptions = target.tls
    ? // SNI takes names only: for an address, '' keeps rhea from sending it (the certificate is
      // still checked against the address).
      { ...common, transport: 'tls', servername: isIP(target.host) ? '' : target.host, ...tls }
    : { ...common, transport: 'tcp' };
  return { options, target };
}

type ClientEvents = { up: [Connection]; down: [Connection, Error | undefined] };

/**
 * One AMQP 1.0 connection per stored connection, shared by every route that uses it. rhea's
 * reconnect is off: on a loss this client opens a new connection after an exponential backoff
 * and tells its users (`onConnect`), who open their links on it again. A connection that is lost
 * is never reused: deliveries received on it can no longer be settled (the broker has already
 * given them back), and their users learn of it through `onDisconnect`.
 */
export class Amqp10Client {
  readonly target: Amqp10Target;
  private readonly container: Container;
  private readonly options: ConnectionOptions;
  private readonly events = new EventEmitter<ClientEvents>();
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly connectTimeoutMs: number;
  private live?: Connection;
  private connecting?: Connection;
  private started = false;
  private closing = false;
  private failures = 0;
  private lastError?: Error;
  private sleep?: { cancel(): void };
  private since = new Date();
  private everConnected = false;
  private reconnectCount = 0;

  constructor(
    readonly connection: ConnectorConnection,
    options: Amqp10ClientOptions,
    private readonly logger: ConnectorLogger,
  ) {
    const egress = options.egress ?? EgressPolicy.permissive();
    const target = amqp10Target(connection);
    // Refused by name (or as an address literal, which never goes through `lookup`): no attempt.
    const refused = egress.refusesName(target.host, target.port);
    if (refused) throw egressError(`amqp10 ${target.safeUrl}`, refused);
    const { options: connectOptions } = amqp10ConnectOptions(
      connection,
      egressLookup(egress, target.port),
    );
    this.target = target;
    this.options = connectOptions;
    this.initialMs = options.reconnectInitialMs ?? 500;
    this.maxMs = options.reconnectMaxMs ?? 30_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.container = create_container({ id: connectOptions.container_id });
    this.events.setMaxListeners(0);
  }

  get safeUrl(): string {
    return this.target.safeUrl;
  }

  /** The open connection, if any. */
  get current(): Connection | undefined {
    return this.live;
  }

  /** Why the last attempt failed (or the connection went), while not connected. */
  get error(): Error | undefined {
    return this.live ? undefined : this.lastError;
  }

  state(): ConnectionState {
    const up = this.live !== undefined;
    return {
      connection: this.connection.name,
      type: 'amqp10',
      up,
      since: this.since,
      reconnects: this.reconnectCount,
      ...(!up && this.lastError ? { error: errorText(this.lastError) } : {}),
      ...(!up ? { attempts: this.failures } : {}),
    };
  }

  /**
   * Calls `listener` with every new connection (at once with the open one); starts connecting on
   * first use. Returns the unsubscribe function.
   */
  onConnect(listener: (connection: Connection) => void): () => void {
    this.events.on('up', listener);
    this.start();
    if (this.live) listener(this.live);
    return () => this.events.off('up', listener);
  }

  /** Calls `listener` when a connection is lost (or closed by `close`). */
  onDisconnect(listener: (connection: Connection, error: Error | undefined) => void): () => void {
    this.events.on('down', listener);
    return () => this.events.off('down', listener);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sleep?.cancel();
    const connections = [this.live, this.connecting].filter((c): c is Connection => !!c);
    await Promise.all(connections.map((c) => closeConnection(c, 5_000)));
  }

  private start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    void this.connectLoop();
  }

  private async connectLoop(): Promise<void> {
    while (!this.closing) {
      if (this.failures > 0) {
        const sleep = cancellableSleep(backoffDelay(this.failures - 1, this.initialMs, this.maxMs));
        this.sleep = sleep;
        await sleep.promise;
        this.sleep = undefined;
        if (this.closing) return;
      }
      const lost = await this.attempt();
      if (lost === 'failed') continue;
      // It was up and is gone: the first attempt after a loss waits the initial delay.
      this.failures = 1;
    }
  }

  /** One connection from connect to loss; 'failed' if it never opened. */
  private attempt(): Promise<'failed' | 'lost'> {
    return new Promise((resolve) => {
      let opened = false;
      let finished = false;
      const conn = this.container.connect(this.options);
      this.connecting = conn;
      const timer = setTimeout(() => {
        fail(new Error(`no open within ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);

      const fail = (err: Error | undefined): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (this.connecting === conn) this.connecting = undefined;
        // No more frames from it: a half-closed connection must not deliver to old links.
        closeSilently(conn);
        if (!opened) {
          this.failures += 1;
          const error = err ?? new Error('connection closed before it opened');
          const repeated =
            this.lastError !== undefined && errorText(this.lastError) === errorText(error);
          this.lastError = error;
          if (!this.closing) {
            const line = `amqp10 ${this.safeUrl}: connect attempt ${this.failures} failed: ${errorText(error)}`;
            // The same refusal over and over says nothing new: a warning when it changes and
            // every tenth attempt, the rest at debug.
            if (!repeated || this.failures % 10 === 0) this.logger.warn(line);
            else this.logger.debug(line);
          }
          resolve('failed');
          return;
        }
        this.live = undefined;
        this.since = new Date();
        if (err) this.lastError = err;
        if (!this.closing)
          this.logger.warn(`amqp10 ${this.safeUrl}: disconnected: ${errorText(err ?? 'closed')}`);
        this.events.emit('down', conn, err);
        resolve('lost');
      };

      conn.on('connection_open', () => {
        if (finished) return;
        clearTimeout(timer);
        opened = true;
        this.connecting = undefined;
        if (this.closing) {
          fail(undefined);
          return;
        }
        if (this.everConnected) this.reconnectCount += 1;
        this.everConnected = true;
        this.live = conn;
        this.since = new Date();
        if (this.failures > 0 || this.lastError)
          this.logger.info(`amqp10 ${this.safeUrl}: connected again`);
        this.failures = 0;
        this.lastError = undefined;
        this.events.emit('up', conn);
      });
      // A SASL refusal comes as context.error, a broker's close as the connection's remote error.
      const failWith = (fallback: string) => (context: EventContext) =>
        fail(amqpError(context.error ?? context.connection.error, fallback));
      conn.on('connection_error', failWith('the broker closed the connection'));
      conn.on('connection_close', failWith('the broker closed the connection'));
      conn.on('disconnected', failWith('disconnected'));
      // Link and session errors are their owners' to handle; without a listener here rhea would
      // pass them on to the container and print them.
      for (const event of ['session_error', 'sender_error', 'receiver_error', 'error'] as const)
        conn.on(event, () => undefined);
    });
  }
}

/** An AMQP error frame (`{ condition, description }`) or anything else as an Error. */
export function amqpError(error: unknown, fallback: string): Error {
  if (error instanceof Error) return error;
  // Socket and TLS errors: Errors of another realm under jest, so not `instanceof Error` there.
  if (error && typeof error === 'object' && typeof (error as Error).message === 'string')
    return Object.assign(new Error((error as Error).message), error);
  if (error && typeof error === 'object') {
    const { condition, description } = error as { condition?: unknown; description?: unknown };
    if (typeof condition === 'string' || typeof description === 'string') {
      const text = [condition, description].filter((p) => typeof p === 'string').join(': ');
      return Object.assign(new Error(text), { condition });
    }
  }
  return new Error(fallback);
}

function closeSilently(conn: Connection): void {
  try {
    if (!conn.is_closed()) conn.close();
  } catch {
    // already gone
  }
  // A socket that never answers the close must not keep the process (or the test) alive.
  const socket = (conn as unknown as { socket?: { destroy(): void } }).socket;
  setTimeout(() => socket?.destroy(), 2_000).unref();
}

/** Closes an open connection and waits (bounded) for the broker's close or the socket's end. */
function closeConnection(conn: Connection, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (conn.is_closed() || !conn.is_open()) {
      closeSilently(conn);
      done();
      return;
    }
    conn.once('connection_close', done);
    conn.once('disconnected', done);
    closeSilently(conn);
  });
}

/**
 * Tries a stored connection once (TCP, TLS, SASL, open), as the client would connect, on the
 * egress policy; resolves once it opened, rejects with why not. `opened` gets the close.
 */
export async function probeAmqp10(
  connection: ConnectorConnection,
  options: { timeoutMs: number; egress: EgressPolicy },
  opened: (close: () => Promise<unknown>) => void,
): Promise<void> {
  const target = amqp10Target(connection);
  const refused = options.egress.refusesName(target.host, target.port);
  if (refused) throw egressError(`amqp10 ${target.safeUrl}`, refused);
  const { options: connectOptions } = amqp10ConnectOptions(
    connection,
    egressLookup(options.egress, target.port),
  );
  const conn = create_container({ id: connectOptions.container_id }).connect(connectOptions);
  opened(() => closeConnection(conn, 2_000));
  await new Promise<void>((resolve, reject) => {
    const fail = (fallback: string) => (context: EventContext) =>
      reject(amqpError(context.error ?? context.connection.error, fallback));
    conn.once('connection_open', () => resolve());
    conn.once('connection_error', fail('the broker refused the connection'));
    conn.once('connection_close', fail('the broker closed the connection'));
    conn.once('disconnected', fail('disconnected'));
    conn.on('error', () => undefined);
  });
}
