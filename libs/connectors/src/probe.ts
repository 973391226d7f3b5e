import { connect as amqpConnect } from 'amqplib';
import { Kafka } from 'kafkajs';
import { Agent, request } from 'undici';
import { amqpConnectArgs } from './amqp/amqp-client';
import { configString } from './config';
import type { ConnectorConnection } from './connector';
import { EgressPolicy } from './egress/egress-policy';
import { egressError, egressLookup } from './egress/egress-socket';
import { egressConnector } from './http/http-egress';
import { kafkaClientConfig } from './kafka/kafka-client';
import { errorText, type ConnectorLogger } from './logger';
import { tlsSettings } from './tls';

export interface ProbeOptions {
  /** The whole attempt's time limit. */
  timeoutMs: number;
  /** Where the probe may connect, as for the routes (default: anywhere but metadata and link-local). */
  egress?: EgressPolicy;
}

const quiet: ConnectorLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * Tries a stored connection once, as a connector would connect (same settings, TLS and
 * secrets), within a time limit: AMQP opens and closes a connection; Kafka connects an admin
 * client and reads the cluster's metadata; HTTP sends a HEAD to the base URL (any HTTP answer
 * means it is reachable), on the egress allowlist. Rejects with what went wrong.
 */
export async function probeConnection(
  type: 'amqp' | 'kafka' | 'http',
  connection: ConnectorConnection,
  options: ProbeOptions,
): Promise<void> {
  let cleanup: (() => Promise<unknown>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
  });
  const egress = options.egress ?? EgressPolicy.permissive();
  const attempt = (async () => {
    switch (type) {
      case 'amqp': {
        const { url, safeUrl, tls } = amqpConnectArgs(connection);
        const port = url.port!;
        const refused = egress.refusesName(url.hostname!, port);
        if (refused) throw egressError(`amqp ${safeUrl}`, refused);
        const conn = await amqpConnect(url, {
          ...tls,
          lookup: egressLookup(egress, port),
          timeout: options.timeoutMs,
        });
        cleanup = () => conn.close();
        return;
      }
      case 'kafka': {
        const config = kafkaClientConfig(
          connection,
          { connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs, egress },
          quiet,
        );
        const admin = new Kafka({ ...config, retry: { retries: 0 } }).admin();
        cleanup = () => admin.disconnect();
        await admin.connect();
        await admin.describeCluster();
        return;
      }
      case 'http': {
        const base = new URL(configString(connection, 'baseUrl', true));
        const tls = tlsSettings(connection, 'tls', 'tlsKey');
        const agent = new Agent({
          connect: egressConnector(egress, { timeout: options.timeoutMs, ...tls }),
        });
        cleanup = () => agent.close();
        const res = await request(base, {
          method: 'HEAD',
          dispatcher: agent,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        });
        await res.body.dump();
        return;
      }
    }
  })();
  try {
    await Promise.race([attempt, timeout]);
  } catch (err) {
    throw new Error(errorText(err), { cause: err });
  } finally {
    clearTimeout(timer);
    attempt.catch(() => undefined);
    // Close whatever opened, even when it opened after the time limit.
    void attempt.finally(() => cleanup?.().catch(() => undefined)).catch(() => undefined);
  }
}

/**
 * The topics a Kafka cluster lists, read with the connection's settings (TLS, SASL, egress
 * policy) within a time limit; internal topics (`__consumer_offsets`…) left out. Rejects with
 * what went wrong.
 */
export async function listKafkaTopics(
  connection: ConnectorConnection,
  options: ProbeOptions,
): Promise<string[]> {
  const egress = options.egress ?? EgressPolicy.permissive();
  const config = kafkaClientConfig(
    connection,
    { connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs, egress },
    quiet,
  );
  const admin = new Kafka({ ...config, retry: { retries: 0 } }).admin();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
  });
  const attempt = (async () => {
    await admin.connect();
    return admin.listTopics();
  })();
  try {
    const topics = await Promise.race([attempt, timeout]);
    return topics.filter((t) => !t.startsWith('__'));
  } catch (err) {
    throw new Error(errorText(err), { cause: err });
  } finally {
    clearTimeout(timer);
    attempt.catch(() => undefined);
    // Disconnect whatever connected, even after the time limit.
    void attempt.finally(() => admin.disconnect().catch(() => undefined)).catch(() => undefined);
  }
}
