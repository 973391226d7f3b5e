import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { MqttClient, type IClientOptions } from 'mqtt';
import { settleWithin } from '../backoff';
import { badConfig, configNumber, configString } from '../config';
import { ConnectorError, type ConnectorConnection } from '../connector';
import { EgressPolicy } from '../egress/egress-policy';
import { egressError, egressLookup } from '../egress/egress-socket';
import { errorText, type ConnectionState, type ConnectorLogger } from '../logger';
import { tlsSettings, type TlsSettings } from '../tls';
import { MQTT_DEFAULT_PORTS } from './mqtt.protocol';

export interface MqttClientOptions {
  /** TCP/TLS connect and CONNACK time limit per attempt. Default 10 s. */
  connectTimeoutMs?: number;
  /** Wait between reconnect attempts. Default 1 s. */
  reconnectPeriodMs?: number;
  /** Where the client may connect; default: anywhere but cloud metadata and link-local. */
  egress?: EgressPolicy;
}

/** A stored mqtt connection, read and checked: where to connect, as whom, and how. */
export interface MqttSettings {
  host: string;
  port: number;
  tls: boolean;
  tlsOptions?: TlsSettings;
  username?: string;
  password?: string;
  protocolVersion: 4 | 5;
  keepaliveSeconds: number;
  sessionExpirySeconds: number;
  /** The URL without any secret, for logs and errors. */
  safeUrl: string;
}

export function mqttSettings(connection: ConnectorConnection): MqttSettings {
  const raw = configString(connection, 'url', true);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badConfig(connection, 'config.url is not a URL');
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'mqtt' && scheme !== 'mqtts')
    throw badConfig(connection, 'config.url must start with mqtt:// or mqtts://');
  const version = connection.config.protocolVersion ?? '5';
  if (version !== '5' && version !== '3.1.1')
    throw badConfig(connection, "config.protocolVersion must be '3.1.1' or '5'");
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : MQTT_DEFAULT_PORTS[scheme];
  const tls = scheme === 'mqtts';
  // The registry refuses a user or password in the URL; one found there anyway is used, never logged.
  const username =
    configString(connection, 'username') ?? (decodeURIComponent(url.username) || undefined);
  const password = connection.secrets.password ?? (decodeURIComponent(url.password) || undefined);
  return {
    host,
    port,
    tls,
    tlsOptions: tls ? tlsSettings(connection, 'tls', 'tlsKey') : undefined,
    username,
    password,
    protocolVersion: version === '5' ? 5 : 4,
    keepaliveSeconds: configNumber(connection, 'keepaliveSeconds') ?? 30,
    sessionExpirySeconds: configNumber(connection, 'sessionExpirySeconds') ?? 604_800,
    safeUrl: `${scheme}://${url.host}`,
  };
}

/**
 * An MQTT.js client for a stored connection, connecting (listeners added in the same tick see
 * every event: the socket connects later). Its sockets are
 * made here, through the egress policy (each address the name resolves to is checked as the
 * socket connects), with TLS verified against the system roots and the connection's CA.
 */
export function createMqttClient(
  settings: MqttSettings,
  session: {
    clientId: string;
    /** Keep the session (subscriptions, unacknowledged messages) across connections. */
    persistent: boolean;
    /** MQTT 5: most unacknowledged QoS 1 messages the broker may send at once. */
    receiveMaximum?: number;
  },
  options: MqttClientOptions,
): MqttClient {
  const egress = options.egress ?? EgressPolicy.permissive();
  const { host, port } = settings;
  const refused = egress.refusesName(host, port);
  if (refused) throw egressError(`mqtt ${settings.safeUrl}`, refused);
  const lookup = egressLookup(egress, port);
  const properties: NonNullable<IClientOptions['properties']> = {};
  if (settings.protocolVersion === 5) {
    if (session.persistent) properties.sessionExpiryInterval = settings.sessionExpirySeconds;
    if (session.receiveMaximum !== undefined) properties.receiveMaximum = session.receiveMaximum;
  }
  const clientOptions: IClientOptions = {
    protocolVersion: settings.protocolVersion,
    clientId: session.clientId,
    clean: !session.persistent,
    keepalive: settings.keepaliveSeconds,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    reconnectPeriod: options.reconnectPeriodMs ?? 1_000,
    // A refused CONNECT (a password being rotated, a broker starting) is retried like a lost connection.
    reconnectOnConnackError: true,
    // Subscriptions are made by the source on each connection whose session the broker lost.
    resubscribe: false,
    username: settings.username,
    password: settings.password,
    ...(settings.protocolVersion === 5 ? { properties } : {}),
  };
  const client = new MqttClient(() => {
    if (settings.tls)
      return tlsConnect({
        host,
        port,
        ...(isIP(host) ? {} : { servername: host }),
        ...settings.tlsOptions,
        lookup,
      });
    return netConnect({ host, port, lookup });
  }, clientOptions);
  // PINGREQs sent and PINGRESPs received on the current connection (see brokerHasRead).
  const pings = { sent: 0, answered: 0 };
  PINGS.set(client, pings);
  client.on('connect', () => {
    pings.sent = pings.answered = 0;
  });
  client.on('packetsend', (packet) => {
    if (packet.cmd === 'pingreq') pings.sent += 1;
  });
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'pingresp') pings.answered += 1;
  });
  return client;
}

/** Per client made by createMqttClient: its keepalive's pings and ours, counted on this connection. */
const PINGS = new WeakMap<MqttClient, { sent: number; answered: number }>();

/** The few MQTT.js internals the source needs (see MqttSource.acknowledge). */
interface ClientInternals {
  _sendPacket(
    packet: { cmd: 'puback'; messageId: number } | { cmd: 'pingreq' },
    cb?: (err?: Error) => void,
  ): void;
}

/**
 * Sends the PUBACK of `messageId` now. MQTT.js sends it only after `handleMessage` calls back,
 * and handles no further packet (no other message, no PINGRESP) until then; the source calls
 * back at once to keep the connection flowing and acknowledges here once the route is done. This
 * is the method MQTT.js's own handlers send acks with; it is checked for when a source starts, so
 * an MQTT.js that lost it fails loudly instead of never acknowledging.
 */
export function sendPuback(client: MqttClient, messageId: number): void {
  (client as unknown as ClientInternals)._sendPacket({ cmd: 'puback', messageId });
}

/**
 * Resolves once the broker has read everything sent on the connection so far (or after
 * `timeoutMs`, or at once when not connected): a PINGREQ goes out behind it, and the broker, which
 * reads a connection's packets in order, answers only after it. A source stops behind it, so the
 * acks it sent last are taken before it disconnects: a broker may close a connection with packets
 * still unread when the same client id connects again (a session takeover), and those acks'
 * messages would come once more. The keepalive's own PINGREQ may be out already: its answer comes
 * first and is not taken for this one (the broker answers pings in order; they are counted).
 */
export function brokerHasRead(client: MqttClient, timeoutMs = 5_000): Promise<void> {
  const pings = PINGS.get(client);
  if (!client.connected || !pings) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.removeListener('packetreceive', answered);
      client.removeListener('close', done);
      resolve();
    };
    const answered = (): void => {
      if (pings.answered >= ours) done();
    };
    const ours = pings.sent + 1; // the next PINGREQ written
    const timer = setTimeout(done, timeoutMs);
    client.on('packetreceive', answered);
    client.once('close', done);
    (client as unknown as ClientInternals)._sendPacket({ cmd: 'pingreq' });
  });
}

export function assertCanAcknowledge(client: MqttClient): void {
  if (typeof (client as unknown as Partial<ClientInternals>)._sendPacket !== 'function')
    throw new Error('this MQTT.js has no _sendPacket: the mqtt source cannot acknowledge by hand');
}

/** A failure of MQTT.js as a ConnectorError: MQTT 5 reason codes that will not change are final. */
export function mqttConnectorError(err: unknown, where: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const code = (err as { code?: unknown }).code;
  const message = `${where}: ${errorText(err)}`;
  if (typeof code === 'number' && PERMANENT_REASON_CODES.has(code))
    return new ConnectorError('REJECTED', message, false, { cause: err });
  return new ConnectorError('CLOSED', message, true, { cause: err });
}

/**
 * MQTT 5 reason codes (PUBACK, SUBACK, CONNACK) the same message or subscription meets again:
 * not authorized, topic name or filter invalid, payload format invalid, packet too large, shared
 * subscriptions or wildcards not supported, bad user name or password, client id not valid.
 */
const PERMANENT_REASON_CODES = new Set([
  0x85, 0x86, 0x87, 0x8c, 0x8f, 0x90, 0x95, 0x99, 0x9e, 0xa2,
]);

/**
 * Tracks a client's connection for status, readiness and logs: up since when, the last error,
 * reconnects. Repeated identical failures are logged at debug, with a warning when the error
 * changes and every tenth attempt (status and /health/ready keep saying it).
 */
export class MqttConnectionWatch {
  private since = new Date();
  private lastError?: Error;
  private failures = 0;
  private reconnects = 0;
  private everConnected = false;
  closing = false;

  constructor(
    private readonly connection: string,
    private readonly client: MqttClient,
    private readonly what: string,
    private readonly logger: ConnectorLogger,
  ) {
    client.on('connect', () => {
      if (this.everConnected) this.reconnects += 1;
      if (this.failures > 0 || this.lastError) this.logger.info(`${this.what}: connected again`);
      this.everConnected = true;
      this.since = new Date();
      this.failures = 0;
      this.lastError = undefined;
    });
    client.on('error', (err) => {
      this.failures += 1;
      const repeated = this.lastError !== undefined && errorText(this.lastError) === errorText(err);
      this.lastError = err;
      if (this.closing) return;
      const line = `${this.what}: ${errorText(err)}`;
      if (!repeated || this.failures % 10 === 0) this.logger.warn(line);
      else this.logger.debug(line);
    });
    client.on('offline', () => {
      this.since = new Date();
      if (!this.closing) this.logger.warn(`${this.what}: disconnected; reconnecting`);
    });
  }

  get error(): Error | undefined {
    return this.client.connected ? undefined : this.lastError;
  }

  state(): ConnectionState {
    const up = this.client.connected;
    return {
      connection: this.connection,
      type: 'mqtt',
      up,
      since: this.since,
      reconnects: this.reconnects,
      ...(!up && this.lastError ? { error: errorText(this.lastError) } : {}),
      ...(!up ? { attempts: this.failures } : {}),
    };
  }
}

/**
 * The publishing client of one stored connection, shared by all its destinations: a clean
 * session with a fresh client id (publishing needs no session: MQTT.js keeps unconfirmed QoS 1
 * and 2 publishes and sends them again after a reconnect).
 */
export class MqttPublisher {
  readonly client: MqttClient;
  readonly settings: MqttSettings;
  private readonly watch: MqttConnectionWatch;
  private closed = false;

  constructor(
    readonly connection: ConnectorConnection,
    clientId: string,
    options: MqttClientOptions,
    logger: ConnectorLogger,
  ) {
    this.settings = mqttSettings(connection);
    this.client = createMqttClient(this.settings, { clientId, persistent: false }, options);
    this.watch = new MqttConnectionWatch(
      connection.name,
      this.client,
      `mqtt ${this.settings.safeUrl} (publisher of ${connection.name})`,
      logger,
    );
  }

  get isClosed(): boolean {
    return this.closed;
  }

  state(): ConnectionState {
    return this.watch.state();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watch.closing = true;
    await endClient(this.client);
  }
}

/**
 * Ends a client for good: no reconnect after, and not forced while connected, so that the packets
 * written before (acknowledgements) go out ahead of the DISCONNECT.
 */
export async function endClient(client: MqttClient, gracefulMs = 5_000): Promise<void> {
  client.options.reconnectPeriod = 0;
  // A graceful end also waits for unconfirmed publishes: a broker that never confirms must not hold a stop.
  const graceful = client.endAsync(!client.connected).catch(() => undefined);
  if (!(await settleWithin(graceful, gracefulMs)))
    await client.endAsync(true).catch(() => undefined);
}

/**
 * Ends the session of `clientId` at the broker: a clean connection with that client id (3.1.1:
 * clean session; 5: clean start, no expiry) makes the broker drop the session and what it queued.
 */
export async function endSession(
  settings: MqttSettings,
  clientId: string,
  options: MqttClientOptions,
): Promise<void> {
  const client = createMqttClient(
    settings,
    { clientId, persistent: false },
    { ...options, reconnectPeriodMs: 0 },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (err) => reject(mqttConnectorError(err, `mqtt ${settings.safeUrl}`)));
      client.once('close', () =>
        reject(mqttConnectorError(new Error('connection closed'), `mqtt ${settings.safeUrl}`)),
      );
    });
  } finally {
    await endClient(client);
  }
}
