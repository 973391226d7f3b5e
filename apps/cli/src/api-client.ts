import {
  ApiError,
  createJunctionClient,
  NetworkError,
  type JunctionClient,
} from '@junction/client';
import type { Connection } from './cli-config';

/**
 * The largest answer read into memory (a route's source is at most 128 Ki characters; a page of
 * dead letters far less). A server that answered without end (4 GiB to `route export`) grew the
 * CLI to 7 GB before a timeout killed it. The audit export streams to its file: not bounded.
 */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** The gateway's answer was larger than MAX_ANSWER_BYTES: not read further. */
export class AnswerTooLarge extends Error {
  override readonly name = 'AnswerTooLarge';
}

const STREAMED = /\/api\/v1\/audit\/export$/;

/** The answer with its body cut off, as an error, past `maxBytes`. */
function bounded(response: Response, path: string, maxBytes: number): Response {
  if (!response.body || STREAMED.test(path)) return response;
  let seen = 0;
  const limit = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > maxBytes)
        controller.error(
          new AnswerTooLarge(
            `the gateway's answer to ${path} is over ${maxBytes} bytes; not read further`,
          ),
        );
      else controller.enqueue(chunk);
    },
  });
  return new Response(response.body.pipeThrough(limit), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** Statuses that mean the gateway is not there to decide (a proxy in front of it said so). */
const UNAVAILABLE = new Set([502, 503, 504]);

/**
 * The gateway's API (@junction/client) with the credentials of a Connection. Each request has a
 * deadline, and a redirect is an answer (the credential is never replayed to another address).
 */
export function connect(
  connection: Pick<Connection, 'url'> & Partial<Pick<Connection, 'credentials'>>,
  timeoutMs = 30_000,
  maxAnswerBytes = MAX_ANSWER_BYTES,
): JunctionClient {
  return createJunctionClient({
    baseUrl: connection.url,
    ...connection.credentials,
    fetch: async (request) =>
      bounded(
        await fetch(request, {
          redirect: 'manual',
          signal: AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]),
        }),
        new URL(request.url).pathname,
        maxAnswerBytes,
      ),
  });
}

/** What a failed call means for the command line: its exit and one line saying why. */
export function failure(
  e: unknown,
): { unavailable: boolean; line: string; error?: ApiError } | undefined {
  if (e instanceof NetworkError || e instanceof AnswerTooLarge)
    return { unavailable: true, line: e.message };
  if (!(e instanceof ApiError)) return undefined;
  const where = e.request ? `${e.request.method} ${e.request.path}: ` : '';
  return {
    unavailable: UNAVAILABLE.has(e.status),
    line: `${where}${e.status} ${e.message}`,
    error: e,
  };
}
