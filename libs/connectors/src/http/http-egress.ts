import { buildConnector } from 'undici';
import type { EgressPolicy } from '../egress/egress-policy';
import { egressError, egressLookup } from '../egress/egress-socket';

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * An undici `connect` that goes through the egress policy: the origin's name (or address literal)
 * is checked before a socket is made, and each address it resolves to as the socket connects.
 * `lookup` is given no port, so one connector is built per port.
 */
export function egressConnector(
  policy: EgressPolicy,
  options: buildConnector.BuildOptions,
): buildConnector.connector {
  const byPort = new Map<number, buildConnector.connector>();
  return (target, callback) => {
    const port = Number(target.port) || DEFAULT_PORTS[target.protocol] || 0;
    const refused = policy.refusesName(target.hostname, port);
    if (refused) {
      callback(egressError(`http ${target.hostname}:${port}`, refused), null);
      return;
    }
    let connect = byPort.get(port);
    if (!connect) {
      connect = buildConnector({
        ...options,
        lookup: egressLookup(policy, port),
      } as buildConnector.BuildOptions);
      byPort.set(port, connect);
    }
    connect(target, callback);
  };
}
