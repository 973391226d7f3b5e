import { createHash } from 'node:crypto';
import { Agent } from 'undici';
import type {
  AmqpDestinationSpec,
  AmqpSourceSpec,
  HttpDestinationSpec,
  KafkaDestinationSpec,
  KafkaSourceSpec,
} from '@junction/pipeline';
import { AmqpClient, type AmqpClientOptions } from './amqp/amqp-client';
import { AmqpDestination } from './amqp/amqp.destination';
import { AmqpSource } from './amqp/amqp.source';
import {
  ConnectorError,
  type ConnectorConnection,
  type Destination,
  type Source,
} from './connector';
import { EgressPolicy } from './egress/egress-policy';
import { egressConnector } from './http/http-egress';
import { HttpDestination } from './http/http.destination';
import { KafkaClient, type KafkaClientOptions } from './kafka/kafka-client';
import { KafkaDestination } from './kafka/kafka.destination';
import { KafkaSource } from './kafka/kafka.source';
import { consoleLogger, type ConnectionState, type ConnectorLogger } from './logger';
import { tlsSettings } from './tls';

export interface ConnectorPoolOptions {
  logger?: ConnectorLogger;
  /**
   * Where AMQP, Kafka and HTTP clients may connect, checked on each target's name and on every
   * address a socket connects to. Default: anywhere but cloud metadata and link-local addresses.
   */
  egress?: EgressPolicy;
  amqp?: AmqpClientOptions & {
    /** How long a source's `start()` waits for the broker. Default 30 s. */
    startTimeoutMs?: number;
    /** How long a send waits for a channel and the confirm. Default 10 s. */
    publishTimeoutMs?: number;
  };
  kafka?: KafkaClientOptions & {
    /** Broker-side wait of one fetch, and so the longest a source's stop waits for it. Default 250 ms. */
    maxWaitTimeInMs?: number;
    /** Partitions one source handles at once. Default 8. */
    partitionsConsumedConcurrently?: number;
    /** Default 30 s. */
    sessionTimeout?: number;
    /** Default 3 s. */
    heartbeatInterval?: number;
    /** How long a send waits for `acks: -1`. Default 30 s. */
    sendTimeoutMs?: number;
  };
  http?: {
    /** TCP/TLS connect time limit. Default 5 s. */
    connectTimeoutMs?: number;
  };
}

/**
 * Everything the route runtime needs to talk to brokers and HTTP endpoints, so that it never
 * touches amqplib, kafkajs or undici. Broker clients are shared: one AMQP connection and one kafkajs
 * client (with one producer) per stored connection (same name, config and secrets), with a
 * channel or consumer per source and destination. `close()` closes every one of them.
 */
export class ConnectorPool {
  private readonly logger: ConnectorLogger;
  private readonly amqpClients = new Map<string, AmqpClient>();
  private readonly kafkaClients = new Map<string, KafkaClient>();
  /** How many sources and destinations use each broker client. */
  private readonly users = new Map<AmqpClient | KafkaClient, number>();
  private agent?: Agent;
  /** HTTP agents of connections with their own TLS settings, by connection content. */
  private readonly tlsAgents = new Map<string, Agent>();
  private closed = false;
  private readonly egress: EgressPolicy;

  constructor(private readonly options: ConnectorPoolOptions = {}) {
    this.logger = options.logger ?? consoleLogger;
    this.egress = options.egress ?? EgressPolicy.permissive();
  }

  source(
    spec: AmqpSourceSpec | KafkaSourceSpec,
    connection: ConnectorConnection,
    options: { routeId: string },
  ): Source {
    this.assertOpen();
    this.assertType(spec.type, connection);
    if (spec.type === 'amqp') {
      const client = this.amqpClient(connection);
      return this.lease(
        client,
        new AmqpSource(
          client,
          spec,
          { routeId: options.routeId, startTimeoutMs: this.options.amqp?.startTimeoutMs ?? 30_000 },
          this.logger,
        ),
        'stop',
      );
    }
    const kafka = this.options.kafka ?? {};
    const client = this.kafkaClient(connection);
    const source = new KafkaSource(
      client,
      spec,
      {
        routeId: options.routeId,
        maxWaitTimeInMs: kafka.maxWaitTimeInMs ?? 250,
        partitionsConsumedConcurrently: kafka.partitionsConsumedConcurrently ?? 8,
        sessionTimeout: kafka.sessionTimeout ?? 30_000,
        heartbeatInterval: kafka.heartbeatInterval ?? 3_000,
      },
      this.logger,
    );
    return this.lease(client, source, 'stop');
  }

  /**
   * An HTTP destination calls its connection's base URL host and nothing else (redirects are not
   * followed and a route's path cannot change the host), if the egress policy allows it.
   */
  destination(
    spec: AmqpDestinationSpec | KafkaDestinationSpec | HttpDestinationSpec,
    connection: ConnectorConnection,
  ): Destination {
    this.assertOpen();
    this.assertType(spec.type, connection);
    switch (spec.type) {
      case 'amqp': {
        const client = this.amqpClient(connection);
        return this.lease(
          client,
          new AmqpDestination(
            client,
            spec,
            { publishTimeoutMs: this.options.amqp?.publishTimeoutMs ?? 10_000 },
            this.logger,
          ),
          'close',
        );
      }
      case 'kafka': {
        const client = this.kafkaClient(connection);
        return this.lease(
          client,
          new KafkaDestination(client, spec, {
            sendTimeoutMs: this.options.kafka?.sendTimeoutMs ?? 30_000,
          }),
          'close',
        );
      }
      case 'http':
        return new HttpDestination(connection, spec, {
          egress: this.egress,
          dispatcher: this.httpAgent(connection),
        });
    }
  }

  /** Closes every shared client. Sources should be stopped first: their unacked messages are requeued. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const clients = [...this.amqpClients.values(), ...this.kafkaClients.values()];
    this.amqpClients.clear();
    this.kafkaClients.clear();
    const agents = [...this.tlsAgents.values()];
    this.tlsAgents.clear();
    const results = await Promise.allSettled([
      ...clients.map((c) => c.close()),
      this.agent?.close(),
      ...agents.map((a) => a.close()),
    ]);
    for (const result of results)
      if (result.status === 'rejected')
        this.logger.warn(`closing a connector client failed: ${String(result.reason)}`);
  }

  /**
   * The state of every AMQP connection open now (Kafka clients keep no connection of their own
   * to report: their consumers and producer each connect, and fail, by themselves).
   */
  connectionStates(): ConnectionState[] {
    return [...this.amqpClients.values()].map((c) => c.state());
  }

  /** Broker clients open now (one per stored connection, as it is now, that something uses). */
  get openClients(): number {
    return this.amqpClients.size + this.kafkaClients.size;
  }

  /**
   * Counts `item` as a user of `client` until its `stop` (a source) or `close` (a destination)
   * has run. The last user gone, the client is closed: a stopped or deleted route leaves no
   * broker connection behind, nor does the old version of an edited connection.
   */
  private lease<T extends Source | Destination>(
    client: AmqpClient | KafkaClient,
    item: T,
    release: 'stop' | 'close',
  ): T {
    this.users.set(client, (this.users.get(client) ?? 0) + 1);
    const end = (item as unknown as Record<string, () => Promise<void>>)[release].bind(item);
    let released = false;
    (item as unknown as Record<string, () => Promise<void>>)[release] = async () => {
      try {
        await end();
      } finally {
        if (!released) {
          released = true;
          await this.release(client);
        }
      }
    };
    return item;
  }

  private async release(client: AmqpClient | KafkaClient): Promise<void> {
    const users = (this.users.get(client) ?? 1) - 1;
    if (users > 0) {
      this.users.set(client, users);
      return;
    }
    this.users.delete(client);
    if (this.closed) return; // close() takes care of every client
    for (const clients of [this.amqpClients, this.kafkaClients] as Array<Map<string, unknown>>)
      for (const [key, c] of clients) if (c === client) clients.delete(key);
    await client
      .close()
      .catch((err: unknown) =>
        this.logger.warn(`closing an unused connector client failed: ${String(err)}`),
      );
  }

  private amqpClient(connection: ConnectorConnection): AmqpClient {
    const key = connectionFingerprint(connection);
    let client = this.amqpClients.get(key);
    if (!client) {
      client = new AmqpClient(
        connection,
        { ...this.options.amqp, egress: this.egress },
        this.logger,
      );
      this.amqpClients.set(key, client);
    }
    return client;
  }

  private kafkaClient(connection: ConnectorConnection): KafkaClient {
    const key = connectionFingerprint(connection);
    let client = this.kafkaClients.get(key);
    if (!client) {
      client = new KafkaClient(
        connection,
        { ...this.options.kafka, egress: this.egress },
        this.logger,
      );
      this.kafkaClients.set(key, client);
    }
    return client;
  }

  /** The shared agent; a connection with TLS settings (a private CA, a client certificate) gets its own. */
  private httpAgent(connection: ConnectorConnection): Agent {
    const timeout = this.options.http?.connectTimeoutMs ?? 5_000;
    const tls = tlsSettings(connection, 'tls', 'tlsKey');
    if (!tls) {
      this.agent ??= new Agent({ connect: egressConnector(this.egress, { timeout }) });
      return this.agent;
    }
    const key = connectionFingerprint(connection);
    let agent = this.tlsAgents.get(key);
    if (!agent) {
      agent = new Agent({ connect: egressConnector(this.egress, { timeout, ...tls }) });
      this.tlsAgents.set(key, agent);
    }
    return agent;
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
