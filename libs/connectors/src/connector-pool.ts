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
import { HttpDestination } from './http/http.destination';
import { KafkaClient, type KafkaClientOptions } from './kafka/kafka-client';
import { KafkaDestination } from './kafka/kafka.destination';
import { KafkaSource } from './kafka/kafka.source';
import { consoleLogger, type ConnectorLogger } from './logger';
import { tlsSettings } from './tls';

export interface ConnectorPoolOptions {
  logger?: ConnectorLogger;
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
  private agent?: Agent;
  /** HTTP agents of connections with their own TLS settings, by connection content. */
  private readonly tlsAgents = new Map<string, Agent>();
  private closed = false;

  constructor(private readonly options: ConnectorPoolOptions = {}) {
    this.logger = options.logger ?? consoleLogger;
  }

  source(
    spec: AmqpSourceSpec | KafkaSourceSpec,
    connection: ConnectorConnection,
    options: { routeId: string },
  ): Source {
    this.assertOpen();
    this.assertType(spec.type, connection);
    if (spec.type === 'amqp')
      return new AmqpSource(
        this.amqpClient(connection),
        spec,
        { routeId: options.routeId, startTimeoutMs: this.options.amqp?.startTimeoutMs ?? 30_000 },
        this.logger,
      );
    const kafka = this.options.kafka ?? {};
    return new KafkaSource(
      this.kafkaClient(connection),
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
  }

  /**
   * HTTP only: `allowHosts` are the hosts a destination may call; its connection's own base URL
   * host counts as listed unless `allowConnectionHost` is false. Nothing else is ever called:
   * redirects are not followed and a route's path cannot change the host.
   */
  destination(
    spec: AmqpDestinationSpec | KafkaDestinationSpec | HttpDestinationSpec,
    connection: ConnectorConnection,
    options: { allowHosts?: string[]; allowConnectionHost?: boolean } = {},
  ): Destination {
    this.assertOpen();
    this.assertType(spec.type, connection);
    switch (spec.type) {
      case 'amqp':
        return new AmqpDestination(
          this.amqpClient(connection),
          spec,
          { publishTimeoutMs: this.options.amqp?.publishTimeoutMs ?? 10_000 },
          this.logger,
        );
      case 'kafka':
        return new KafkaDestination(this.kafkaClient(connection), spec, {
          sendTimeoutMs: this.options.kafka?.sendTimeoutMs ?? 30_000,
        });
      case 'http':
        return new HttpDestination(connection, spec, {
          allowHosts: options.allowHosts ?? [],
          allowConnectionHost: options.allowConnectionHost ?? true,
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

  private amqpClient(connection: ConnectorConnection): AmqpClient {
    const key = clientKey(connection);
    let client = this.amqpClients.get(key);
    if (!client) {
      client = new AmqpClient(connection, this.options.amqp ?? {}, this.logger);
      this.amqpClients.set(key, client);
    }
    return client;
  }

  private kafkaClient(connection: ConnectorConnection): KafkaClient {
    const key = clientKey(connection);
    let client = this.kafkaClients.get(key);
    if (!client) {
      client = new KafkaClient(connection, this.options.kafka ?? {}, this.logger);
      this.kafkaClients.set(key, client);
    }
    return client;
  }

  /** The shared agent; a connection with TLS settings (a private CA, a client certificate) gets its own. */
  private httpAgent(connection: ConnectorConnection): Agent {
    const timeout = this.options.http?.connectTimeoutMs ?? 5_000;
    const tls = tlsSettings(connection, 'tls', 'tlsKey');
    if (!tls) {
      this.agent ??= new Agent({ connect: { timeout } });
      return this.agent;
    }
    const key = clientKey(connection);
    let agent = this.tlsAgents.get(key);
    if (!agent) {
      agent = new Agent({ connect: { timeout, ...tls } });
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
 * A client per stored connection *as it is now*: an edited connection (new URL or password) gets a
 * new client for the routes started after the edit. The secrets only enter a hash.
 */
function clientKey(connection: ConnectorConnection): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([connection.config, connection.secrets]))
    .digest('base64url');
  return `${connection.name}#${digest}`;
}
