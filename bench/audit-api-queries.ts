/**
 * The audit queries the console and the REST API make, timed through a running gateway's HTTP
 * API as a client makes them (sign-in token, JSON or a streamed export), on rows loaded by
 * insertAuditRows. Used by bench:scale at 1M and 10M rows.
 */
import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';
import { DAYS, dayStart, load, QueryTimes, randomMessageIds, rnd, ROUTES } from './audit-load';

export interface ApiClient {
  base: string;
  token: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function get(client: ApiClient, path: string, query: Record<string, string | number>) {
  const qs = new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
  );
  const res = await fetch(`${client.base}/api/v1${path}?${qs}`, {
    headers: { authorization: `Bearer ${client.token}` },
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text;
}

/** A random span of `ms` within the loaded days. */
function span(ms: number): { from: string; to: string } {
  const from = new Date(dayStart(DAYS).getTime() + Math.random() * (DAYS * DAY - ms));
  return { from: from.toISOString(), to: new Date(from.getTime() + ms).toISOString() };
}

/** A random whole loaded day. */
function day(): { from: string; to: string } {
  const from = dayStart(rnd(DAYS));
  return { from: from.toISOString(), to: new Date(from.getTime() + DAY).toISOString() };
}

const route = () => `route-${rnd(ROUTES) - 1}`;

/**
 * Each query `queries` times, one at a time (an export: a tenth as many, at least 3): one
 * message's trail by id; a route's page (50) of an hour, and a page after one by cursor (after
 * a route's hour, or where an hour has no second page, as in small runs, a route's day); the
 * newest page of a status (dead-lettered) over the whole trail and in one day; one route's
 * failures in a day; the dashboard's counts per hour over a day; a route's day exported as
 * NDJSON (with the rows it streamed).
 */
export async function auditApiQueries(
  client: ApiClient,
  raw: Pool,
  records: number,
  queries: number,
): Promise<QueryTimes[]> {
  const ids = await randomMessageIds(raw, records, queries);
  let found = 0;
  const byId = await load(queries, 1, async (i) => {
    const trail = JSON.parse(await get(client, `/audit/messages/${ids[i]}`, {})) as {
      records: unknown[];
    };
    found += trail.records.length;
  });
  const cursors: string[] = [];
  const routeHour = await load(queries, 1, async () => {
    const page = JSON.parse(
      await get(client, '/audit/messages', { routeId: route(), ...span(HOUR), limit: 50 }),
    ) as { nextCursor: string | null };
    if (page.nextCursor) cursors.push(page.nextCursor);
  });
  // A route's hour of a small run fits one page: the cursors of the rest from a route's whole day
  // (not timed), so that the next page is asked as often as the others at every size.
  for (let tries = 0; cursors.length < queries && tries < queries; tries++) {
    const page = JSON.parse(
      await get(client, '/audit/messages', { routeId: route(), ...day(), limit: 50 }),
    ) as { nextCursor: string | null };
    if (page.nextCursor) cursors.push(page.nextCursor);
  }
  const next = await load(cursors.length, 1, (i) =>
    get(client, '/audit/messages', { limit: 50, cursor: cursors[i]! }),
  );
  const status = await load(queries, 1, () =>
    get(client, '/audit/messages', { outcome: 'dead-lettered', limit: 50 }),
  );
  const statusDay = await load(queries, 1, () =>
    get(client, '/audit/messages', { outcome: 'dead-lettered', ...day(), limit: 50 }),
  );
  let failures = 0;
  const routeFailures = await load(queries, 1, async () => {
    const page = JSON.parse(
      await get(client, '/audit/messages', {
        routeId: route(),
        outcome: 'dead-lettered',
        ...day(),
        limit: 500,
      }),
    ) as { items: unknown[] };
    failures += page.items.length;
  });
  const stats = await load(queries, 1, () => get(client, '/stats', { ...day(), bucket: 'hour' }));
  const exports = Math.max(3, Math.floor(queries / 10));
  let exported = 0;
  let exportSeconds = 0;
  const exportDay = await load(exports, 1, async () => {
    const t0 = performance.now();
    const text = await get(client, '/audit/export', {
      format: 'ndjson',
      routeId: route(),
      ...day(),
    });
    exportSeconds += (performance.now() - t0) / 1000;
    exported += text.split('\n').filter(Boolean).length;
  });
  return [
    {
      name: 'one message by id (its trail)',
      latencies: byId.latencies,
      extra: `(${found} records found)`,
    },
    { name: "a route's hour, page of 50", latencies: routeHour.latencies, extra: '' },
    {
      name: 'the next page, by cursor',
      latencies: next.latencies,
      extra: `(${cursors.length} pages)`,
    },
    { name: 'by status (dead-lettered), newest 50', latencies: status.latencies, extra: '' },
    { name: 'by status in a day, page of 50', latencies: statusDay.latencies, extra: '' },
    {
      name: "a route's failures in a day",
      latencies: routeFailures.latencies,
      extra: `(${(failures / queries).toFixed(0)} per answer)`,
    },
    { name: 'stats: counts per hour over a day', latencies: stats.latencies, extra: '' },
    {
      name: "export: a route's day as NDJSON",
      latencies: exportDay.latencies,
      extra: `(${(exported / exports).toFixed(0)} rows each, ${(exported / Math.max(exportSeconds, 1e-9)).toFixed(0)} rows/s)`,
    },
  ];
}
