import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { connect as netConnect, isIP, Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { ConnectorError } from '../connector';
import type { EgressPolicy } from './egress-policy';

/**
 * The connect-time half of the egress policy: net and tls sockets resolve names through the
 * `lookup` given here, which drops every address the policy refuses before the socket picks one,
 * so what is checked is what is connected to (no window for DNS rebinding). Address literals skip
 * `lookup` in Node, so they are checked by `EgressPolicy.refusesName` before a socket is made.
 */

export function egressError(where: string, reason: string): ConnectorError {
  return new ConnectorError('NOT_ALLOWED', `${where}: egress refused: ${reason}`, false);
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net/tls connect options that resolves `host` for `port` and keeps only the
 * addresses the policy allows; none left is an error naming why.
 */
export function egressLookup(
  policy: EgressPolicy,
  port: number,
): (hostname: string, options: LookupOptions, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, options.all ? [] : '', undefined);
      const reasons: string[] = [];
      const allowed = addresses.filter((a) => {
        const reason = policy.refusesAddress(hostname, a.address, port);
        if (reason) reasons.push(reason);
        return reason === undefined;
      });
      if (allowed.length === 0) {
        // NOT_ALLOWED, not retryable: the socket fails with it and nothing is sent.
        const error = egressError(`${hostname}:${port}`, reasons.join('; ') || 'no address');
        return callback(error as NodeJS.ErrnoException, options.all ? [] : '', undefined);
      }
      if (options.all) return callback(null, allowed);
      return callback(null, allowed[0].address, allowed[0].family);
    });
  };
}

/** A socket that fails at once with `error` (for APIs that must return a socket). */
function failedSocket(error: Error): Socket {
  const socket = new Socket();
  process.nextTick(() => socket.destroy(error));
  return socket;
}

/**
 * A kafkajs `socketFactory` that connects as kafkajs' own does (TLS with SNI where configured)
 * through the egress policy: bootstrap brokers and every broker the cluster's metadata names.
 */
export function egressSocketFactory(policy: EgressPolicy) {
  return ({
    host,
    port,
    ssl,
    onConnect,
  }: {
    host: string;
    port: number;
    ssl: ConnectionOptions | boolean | undefined;
    onConnect: () => void;
  }): Socket => {
    // Refuses address literals (which skip `lookup`) and names refused as names.
    const refused = policy.refusesName(host, port);
    if (refused) return failedSocket(egressError(`kafka broker ${host}:${port}`, refused));
    const lookup = egressLookup(policy, port);
    const socket = ssl
      ? tlsConnect(
          {
            host,
            port,
            ...(isIP(host) ? {} : { servername: host }),
            ...(typeof ssl === 'object' ? ssl : {}),
            lookup,
          },
          onConnect,
        )
      : netConnect({ host, port, lookup }, onConnect);
    // As kafkajs' own factory (keep-alive after a minute) and Kafka's Java client (no Nagle: a
    // request written while an earlier one awaits its TCP ack would wait for that ack).
    socket.setKeepAlive(true, KAFKA_KEEP_ALIVE_MS);
    socket.setNoDelay(true);
    return socket;
  };
}

const KAFKA_KEEP_ALIVE_MS = 60_000;
