import {
  ApiError,
  createJunctionClient,
  NetworkError,
  type JunctionClient,
} from '@junction/client';
import type { Connection } from './cli-config';

/** Statuses that mean the gateway is not there to decide (a proxy in front of it said so). */
const UNAVAILABLE = new Set([502, 503, 504]);

/**
 * The gateway's API (@junction/client) with the credentials of a Connection. Each request has a
 * deadline, and a redirect is an answer (the credential is never replayed to another address).
 */
export function connect(
  connection: Pick<Connection, 'url'> & Partial<Pick<Connection, 'credentials'>>,
  timeoutMs = 30_000,
): JunctionClient {
  return createJunctionClient({
    baseUrl: connection.url,
    ...connection.credentials,
    fetch: (request) =>
      fetch(request, {
        redirect: 'manual',
        signal: AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]),
      }),
  });
}

/** What a failed call means for the command line: its exit and one line saying why. */
export function failure(
  e: unknown,
): { unavailable: boolean; line: string; error?: ApiError } | undefined {
  if (e instanceof NetworkError) return { unavailable: true, line: e.message };
  if (!(e instanceof ApiError)) return undefined;
  const where = e.request ? `${e.request.method} ${e.request.path}: ` : '';
  return {
    unavailable: UNAVAILABLE.has(e.status),
    line: `${where}${e.status} ${e.message}`,
    error: e,
  };
}
