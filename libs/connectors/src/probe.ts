import { connect as amqpConnect } from 'amqplib';
import { Kafka } from 'kafkajs';
import { Agent, request } from 'undici';
import { amqpConnectArgs } from './amqp/amqp-client';
import { configString } from './config';
import type { ConnectorConnection } from './connector';
import { hostAndPort, HostAllowlist } from './http/http-target';
import { kafkaClientConfig } from './kafka/kafka-client';
import { errorText, type ConnectorLogger } from './logger';
import { tlsSettings } from './tls';

export interface ProbeOptions {
  /** The whole attempt's time limit. */
  timeoutMs: number;
  /** HTTP: hosts that may be called besides the connection's own (as for destinations). */
  allowHosts: readonly string[];
  allowConnectionHost: boolean;
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
  const attempt = (async () => {
    switch (type) {
      case 'amqp': {
        const { url, tls } = amqpConnectArgs(connection);
        const conn = await amqpConnect(url, { ...tls, timeout: options.timeoutMs });
        cleanup = () => conn.close();
        return;
      }
      case 'kafka': {
        const config = kafkaClientConfig(
          connection,
          { connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs },
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
        const listed = options.allowConnectionHost
          ? [...options.allowHosts, hostAndPort(base)]
          : [...options.allowHosts];
        if (!new HostAllowlist(listed).allows(base))
          throw new Error(`host ${base.host} is not on the allowlist`);
        const tls = tlsSettings(connection, 'tls', 'tlsKey');
        const agent = new Agent({ connect: { timeout: options.timeoutMs, ...tls } });
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
