import {
  CompressionTypes,
  Kafka,
  logLevel,
  type Consumer,
  type ConsumerConfig,
  type IHeaders,
  type ISocketFactory,
  type KafkaConfig,
  type logCreator,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import { settleWithin } from '../backoff';
import { tlsSettings } from '../tls';
import { badConfig, configString } from '../config';
import { ConnectorError, type ConnectorConnection } from '../connector';
import { errorText, type ConnectionState, type ConnectorLogger } from '../logger';
import { EgressPolicy } from '../egress/egress-policy';
import { egressError, egressSocketFactory } from '../egress/egress-socket';
import { registerKafkaCodecs } from './kafka-codecs';
import {
  DEFAULT_BATCH,
  KafkaBatcher,
  pinningPartitioner,
  producerBatchSend,
  type KafkaBatchOptions,
} from './kafka-batcher';
import { keyPartitioner } from './kafka-partitioner';

export interface KafkaClientOptions {
  /** TCP connect time limit. Default 3 s. */
  connectionTimeout?: number;
  /** Time limit of one request. Default 30 s. */
  requestTimeout?: number;
  /**
   * Custom sockets (proxies, and tests that cut connections). Without it, sockets go through the
   * egress policy's checks at connect time.
   */
  socketFactory?: ISocketFactory;
  /** Where the client may connect; default: anywhere but cloud metadata and link-local. */
  egress?: EgressPolicy;
  /** How long a send waits for `acks: -1`. Default 30 s. */
  sendTimeoutMs?: number;
}

/**
 * kafkajs settings for a stored connection: brokers, client id, TLS and SASL from config and
 * secrets. Registers the snappy, lz4 and zstd codecs first, so its consumers read every codec.
 */
export function kafkaClientConfig(
  connection: ConnectorConnection,
  options: KafkaClientOptions,
  logger: ConnectorLogger,
): KafkaConfig {
  registerKafkaCodecs();
  const brokers = connection.config.brokers;
  if (
    !Array.isArray(brokers) ||
    brokers.length === 0 ||
    !brokers.every((b): b is string => typeof b === 'string')
  )
    throw badConfig(connection, 'config.brokers must be a non-empty list of host:port');
  const egress = options.egress ?? EgressPolicy.permissive();
  for (const broker of brokers) {
    const at = broker.lastIndexOf(':');
    const refused = egress.refusesName(broker.slice(0, at), Number(broker.slice(at + 1)));
    if (refused) throw egressError(`kafka ${connection.name} broker ${broker}`, refused);
  }
  const config: KafkaConfig = {
    clientId: configString(connection, 'clientId') ?? 'junction',
    brokers,
    connectionTimeout: options.connectionTimeout ?? 3_000,
    requestTimeout: options.requestTimeout ?? 30_000,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  };
  const ssl = connection.config.ssl;
  if (ssl === true || (ssl !== null && typeof ssl === 'object')) {
    // config.ssl: true, or { ca, cert } (PEM); the client key is secrets.sslKey (or a bundle
    // of key and certificate, which serves as both).
    config.ssl = tlsSettings(connection, 'ssl', 'sslKey') ?? true;
  }
  const sasl = connection.config.sasl as { mechanism?: unknown; username?: unknown } | undefined;
  if (sasl) {
    const { mechanism, username } = sasl;
    if (
      (mechanism !== 'plain' && mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512') ||
      typeof username !== 'string'
    )
      throw badConfig(connection, 'config.sasl needs a mechanism and a username');
    config.sasl = {
      mechanism,
      username,
      password: connection.secrets.saslPassword ?? '',
    } as SASLOptions;
  }
  // Brokers the cluster names in its metadata are connected to through the same factory.
  config.socketFactory = options.socketFactory ?? (egressSocketFactory(egress) as ISocketFactory);
  return config;
}

const CONCURRENT_TRANSACTIONS = 'another concurrent operation on the same transaction';
const LIMITED_RETRIES = 'Limiting retries for the idempotent producer';

/** The connection's `batch` settings over the defaults (validated at save time; checked again here). */
export function kafkaBatchOptions(
  connection: ConnectorConnection,
  sendTimeoutMs: number,
): KafkaBatchOptions {
  const batch = (connection.config.batch ?? {}) as Record<string, unknown>;
  const options: KafkaBatchOptions = { ...DEFAULT_BATCH, timeoutMs: sendTimeoutMs };
  for (const key of ['lingerMs', 'maxMessages', 'maxBytes'] as const) {
    const value = batch[key];
    if (value === undefined) continue;
    const least = key === 'lingerMs' ? 0 : 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < least)
      throw badConfig(connection, `config.batch.${key} must be an integer >= ${least}`);
    options[key] = value;
  }
  return options;
}

/**
 * kafkajs logs into the connector logger. Its lines for single failed responses ("Response
 * Metadata ... This server does not host this topic-partition") are retried by kafkajs itself:
 * debug to us, or a cause that lasts wrote a dozen warnings every few seconds for as long as it
 * lasted; what fails for good surfaces as an error from send or a crash, and is told there.
 */
function kafkaLogCreator(logger: ConnectorLogger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, error } = log as { message: string; error?: unknown };
      const line = `kafkajs ${namespace}: ${message}${error ? `: ${errorText(error)}` : ''}`;
      // CONCURRENT_TRANSACTIONS: a transaction's first send while the coordinator still writes
      // the previous one's markers, which an exactly-once route meets after most commits; retried.
      // LIMITED_RETRIES: said of every transactional producer, whose retries are bounded on
      // purpose (one whose send failed is replaced: see kafka-transactions.ts).
      if (
        line.includes(CONCURRENT_TRANSACTIONS) ||
        line.includes(LIMITED_RETRIES) ||
        message.startsWith('Response ')
      )
        logger.debug(line);
      else if (level === logLevel.ERROR) logger.error(line);
      else if (level <= logLevel.WARN) logger.warn(line);
      else if (level === logLevel.INFO) logger.info(line);
      else logger.debug(line);
    };
}

/**
 * One kafkajs client per stored connection, shared by every route that uses it: one idempotent
 * producer for all its destinations (created on first send) fed by one batcher, and the consumers
 * of its sources.
 */
export class KafkaClient {
  readonly kafka: Kafka;
  /**
   * Every destination's sends, gathered into the producer's requests (see kafka-batcher.ts): one
   * batcher per compression codec, as a produce request has one codec for all its records.
   */
  private readonly batchers = new Map<CompressionTypes, KafkaBatcher>();
  private readonly batchOptions: KafkaBatchOptions;
  private producing?: Promise<Producer>;
  private readonly consumers = new Set<Consumer>();
  /** Consumers that joined their group (see isMember). */
  private readonly members = new WeakSet<Consumer>();
  private closed = false;
  /** Set while the last thing a member of this client tried against the cluster failed. */
  private failing?: { error: string; attempts: number };
  private everUp = false;
  private since = new Date();
  private reconnectCount = 0;

  private readonly closeTimeoutMs: number;

  constructor(
    readonly connection: ConnectorConnection,
    options: KafkaClientOptions,
    private readonly logger: ConnectorLogger,
  ) {
    this.kafka = new Kafka(kafkaClientConfig(connection, options, logger));
    this.closeTimeoutMs = options.requestTimeout ?? 30_000;
    this.batchOptions = kafkaBatchOptions(connection, options.sendTimeoutMs ?? 30_000);
  }

  /** The batcher of the destinations producing in `compression` (created on first use). */
  batcher(compression: CompressionTypes = CompressionTypes.None): KafkaBatcher {
    let batcher = this.batchers.get(compression);
    if (!batcher) {
      batcher = new KafkaBatcher(
        producerBatchSend(() => this.producer(), compression),
        this.batchOptions,
      );
      this.batchers.set(compression, batcher);
    }
    return batcher;
  }

  /** The shared idempotent producer, connected. A failed connect is retried by the next call. */
  producer(): Promise<Producer> {
    // A closing client still sends what its batcher holds, through the producer it has.
    if (this.closed && !this.producing)
      return Promise.reject(new ConnectorError('CLOSED', 'kafka client is closed', false));
    if (!this.producing) {
      const producer = this.kafka.producer({
        idempotent: true,
        createPartitioner: pinningPartitioner(keyPartitioner),
      });
      this.producing = producer.connect().then(
        () => {
          this.reached();
          return producer;
        },
        async (err: unknown) => {
          this.producing = undefined;
          this.unreachable(err);
          await producer.disconnect().catch(() => undefined);
          throw new ConnectorError(
            'UNREACHABLE',
            `kafka ${this.connection.name}: producer could not connect: ${errorText(err)}`,
            true,
            { cause: err },
          );
        },
      );
    }
    return this.producing;
  }

  /** A consumer the client disconnects on close if its source did not. */
  consumer(config: ConsumerConfig): Consumer {
    if (this.closed) throw new ConnectorError('CLOSED', 'kafka client is closed', false);
    const consumer = this.kafka.consumer(config);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.members.add(consumer);
      this.reached();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => this.unreachable(payload.error));
    this.consumers.add(consumer);
    return consumer;
  }

  /**
   * kafkajs keeps no connection of its own per client: its producer and each consumer connect,
   * and fail, by themselves. The client is up while the last thing one of them tried against the
   * cluster worked (a connect, a group join, a send), and down from the first failure until the
   * next success. Before anything tried, it counts as up (nothing failed): a destination's
   * producer connects only at its first send.
   */
  state(): ConnectionState {
    return {
      connection: this.connection.name,
      type: 'kafka',
      up: !this.failing,
      since: this.since,
      reconnects: this.reconnectCount,
      ...(this.failing ? { error: this.failing.error, attempts: this.failing.attempts } : {}),
    };
  }

  /** A member reached the cluster (connected, joined its group, had a send acknowledged). */
  reached(): void {
    if (!this.failing && this.everUp) return;
    if (this.failing && this.everUp) this.reconnectCount += 1;
    this.since = new Date();
    this.failing = undefined;
    this.everUp = true;
  }

  /** A member could not reach the cluster (a connect, a crash, a send that found no broker). */
  unreachable(err: unknown): void {
    if (this.closed) return;
    if (this.failing) {
      this.failing.attempts += 1;
      this.failing.error = errorText(err);
      return;
    }
    this.failing = { error: errorText(err), attempts: 1 };
    this.since = new Date();
  }

  /**
   * Whether the consumer ever joined its group: a member leaves it on disconnect (so that its
   * partitions move at once), while one still connecting has nothing to leave.
   */
  isMember(consumer: Consumer): boolean {
    return this.members.has(consumer);
  }

  /** Called by a source once it disconnected its consumer itself. */
  forget(consumer: Consumer): void {
    this.consumers.delete(consumer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // What its destinations queued still goes out (they wait for it), then the producer leaves
    // (also when a batch hangs: disconnecting ends it).
    const batching = Promise.all([...this.batchers.values()].map((b) => b.close()));
    const leaving = settleWithin(batching, this.closeTimeoutMs).then(() => {
      const producing = this.producing;
      this.producing = undefined;
      return producing?.then((p) => p.disconnect());
    });
    // Members leave their groups. A consumer still connecting (a broker that never answers its
    // handshake) is not waited for: its connect runs on in kafkajs through time-outs and retries,
    // which would hold the stop past any shutdown limit, and it has no group to leave.
    const consumers = [...this.consumers];
    for (const c of consumers) if (!this.members.has(c)) void c.disconnect().catch(() => undefined);
    const closing = Promise.allSettled([
      ...consumers.filter((c) => this.members.has(c)).map((c) => c.disconnect()),
      leaving,
    ]);
    if (!(await settleWithin(closing, this.closeTimeoutMs)))
      this.logger.warn(`kafka ${this.connection.name}: disconnect still pending after close`);
    this.consumers.clear();
  }
}

/** Kafka header values as strings (several values of one header joined with ", "). */
export function stringifyKafkaHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  // Per message of every Kafka source: no arrays for the usual single value.
  for (const key in headers) {
    const value = headers[key];
    if (value === undefined) continue;
    out[key] = Array.isArray(value) ? value.map(headerText).join(', ') : headerText(value);
  }
  return out;
}

function headerText(value: Buffer | string): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/** A kafkajs failure as a ConnectorError: protocol errors Kafka calls non-retriable are final. */
export function kafkaConnectorError(err: unknown, where: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  let root: unknown = err;
  while ((root as { cause?: unknown })?.cause) root = (root as { cause: unknown }).cause;
  const e = root as { name?: string; retriable?: boolean; type?: string };
  const message = `${where}: ${errorText(err)}${root !== err ? ` (${errorText(root)})` : ''}`;
  if (e.name === 'KafkaJSProtocolError' && e.retriable === false)
    return new ConnectorError('REJECTED', message, false, { cause: err });
  if (/timeout/i.test(e.name ?? '') || e.type === 'REQUEST_TIMED_OUT')
    return new ConnectorError('TIMEOUT', message, true, { cause: err });
  return new ConnectorError('UNREACHABLE', message, true, { cause: err });
}
