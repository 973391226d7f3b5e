import { Pool } from 'undici';

/** What an {@link openLoad} run saw; latencies in ms. */
export interface OpenLoadResult {
  /** Requests sent (every one that was due within the run). */
  sent: number;
  '2xx': number;
  non2xx: number;
  errors: number;
  /** Seconds from the first request's due time to the last answer. */
  duration: number;
  latency: { p50: number; p99: number; p99_9: number; max: number };
}

/**
 * A fixed offered load: `rate` requests a second for `seconds`, the i-th due at start + i/rate
 * whatever the answers before it did (an open loop, as clients at large behave), on at most
 * `connections` keep-alive connections. Each latency runs from the request's due time to its
 * answer, so time a request spent waiting for a free connection (the server fell behind) counts:
 * a stall shows in the percentiles instead of slowing the load that would have seen it (no
 * coordinated omission). autocannon's `overallRate` is no such load: each connection sends its
 * share of the second back to back as each answer comes, then waits for the next second, so
 * every second starts with a burst at full concurrency.
 */
export async function openLoad(
  url: string,
  seconds: number,
  rate: number,
  body: string,
  headers: Record<string, string>,
  connections: number,
): Promise<OpenLoadResult> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections, pipelining: 1 });
  const total = Math.round(seconds * rate);
  const intervalMs = 1000 / rate;
  const latencies: number[] = [];
  const result = { sent: 0, '2xx': 0, non2xx: 0, errors: 0 };
  const path = target.pathname + target.search;
  const requestHeaders = { 'content-type': 'application/json', ...headers };
  let lastAnswer = 0;

  const send = async (dueAt: number): Promise<void> => {
    try {
      const answer = await pool.request({ path, method: 'POST', headers: requestHeaders, body });
      await answer.body.dump();
      if (answer.statusCode >= 200 && answer.statusCode < 300) result['2xx'] += 1;
      else result.non2xx += 1;
    } catch {
      result.errors += 1;
    }
    lastAnswer = performance.now();
    latencies.push(lastAnswer - dueAt);
  };

  const start = performance.now();
  const inFlight: Array<Promise<void>> = [];
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      while (result.sent < due) {
        inFlight.push(send(start + result.sent * intervalMs));
        result.sent += 1;
      }
      if (result.sent < total)
        setTimeout(tick, Math.max(0, start + result.sent * intervalMs - performance.now()));
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies.length === 0
      ? 0
      : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
  return {
    ...result,
    duration: (lastAnswer - start) / 1000,
    latency: {
      p50: micros(at(0.5)),
      p99: micros(at(0.99)),
      p99_9: micros(at(0.999)),
      max: micros(latencies.at(-1) ?? 0),
    },
  };
}

/** A latency to the microsecond (autocannon's histogram keeps whole milliseconds). */
const micros = (ms: number): number => Math.round(ms * 1000) / 1000;
