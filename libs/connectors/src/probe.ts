import { Kafka } from 'kafkajs';
import type { ConnectorConnection } from './connector';
import { CONNECTORS, type ConnectorKind } from './connectors';
import { EgressPolicy } from './egress/egress-policy';
import { kafkaClientConfig } from './kafka/kafka-client';
import { errorText, quietLogger } from './logger';

export interface ProbeOptions {
  /** The whole attempt's time limit. */
  timeoutMs: number;
  /** Where the probe may connect, as for the routes (default: anywhere but metadata and link-local). */
  egress?: EgressPolicy;
}

/**
 * Tries a stored connection once, as a connector would connect (same settings, TLS and
 * secrets), within a time limit, by its plugin's `probe` (AMQP opens and closes a connection;
 * Kafka connects an admin client and reads the cluster's metadata; HTTP sends a HEAD to the base
 * URL), on the egress allowlist. Rejects with what went wrong.
 */
export async function probeConnection(
  type: ConnectorKind,
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
  const attempt = (async () =>
    CONNECTORS[type].load().probe(connection, { timeoutMs: options.timeoutMs, egress }, (close) => {
      cleanup = close;
    }))();
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
    quietLogger,
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
