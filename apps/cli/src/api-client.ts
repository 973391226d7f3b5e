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

/** The gateway took too long: to answer, or (audit export) to send the next part of it. */
export class AnswerTimedOut extends Error {
  override readonly name = 'AnswerTimedOut';
}

const STREAMED = /\/api\/v1\/audit\/export$/;

/**
 * One request with a deadline that holds: AbortSignal.timeout() inside AbortSignal.any() may be
 * collected before it fires (a server trickling a byte every 2 s held `route export` past 80 s,
 * though the deadline was 30 s; one run in three was cut off). The timer here lives as long as
 * the request. An answer read into memory must arrive whole within `timeoutMs` and be at most
 * `maxBytes`; the audit export, streamed to its file at any size, must only never pause longer
 * than `timeoutMs`.
 */
async function fetchWithDeadline(
  request: Request,
  timeoutMs: number,
  maxBytes: number,
): Promise<Response> {
  const path = new URL(request.url).pathname;
  const streamed = STREAMED.test(path);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = (what: string) => {
    clearTimeout(timer);
    timer = setTimeout(
      () =>
        controller.abort(
          new AnswerTimedOut(`the gateway did not ${what} within ${timeoutMs} ms (${path})`),
        ),
      timeoutMs,
    );
    // The open request keeps the process alive; the timer alone must not.
    timer.unref();
  };
  const disarm = () => clearTimeout(timer);
  if (request.signal.aborted) controller.abort(request.signal.reason);
  else
    request.signal.addEventListener('abort', () => controller.abort(request.signal.reason), {
      once: true,
    });
  arm('answer');
  let response: Response;
  try {
    response = await fetch(request, { redirect: 'manual', signal: controller.signal });
  } catch (err) {
    disarm();
    throw controller.signal.reason instanceof AnswerTimedOut ? controller.signal.reason : err;
  }
  if (!response.body || response.headers.get('content-length') === '0') {
    disarm();
    return response;
  }
  if (streamed) arm('send more of its answer');
  let seen = 0;
  const guard = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, stream) {
      if (streamed) arm('send more of its answer');
      else if ((seen += chunk.byteLength) > maxBytes) {
        disarm();
        stream.error(
          new AnswerTooLarge(
            `the gateway's answer to ${path} is over ${maxBytes} bytes; not read further`,
          ),
        );
        return;
      }
      stream.enqueue(chunk);
    },
    flush: disarm,
  });
  const body = response.body.pipeThrough(guard);
  return new Response(body, {
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
    fetch: (request) => fetchWithDeadline(request, timeoutMs, maxAnswerBytes),
  });
}

/** What a failed call means for the command line: its exit and one line saying why. */
export function failure(
  e: unknown,
): { unavailable: boolean; line: string; error?: ApiError } | undefined {
  if (e instanceof NetworkError || e instanceof AnswerTooLarge || e instanceof AnswerTimedOut)
    return { unavailable: true, line: e.message };
  if (!(e instanceof ApiError)) return undefined;
  const where = e.request ? `${e.request.method} ${e.request.path}: ` : '';
  return {
    unavailable: UNAVAILABLE.has(e.status),
    line: `${where}${e.status} ${e.message}`,
    error: e,
  };
}
