/**
 * The audit trail's bulk rows and its auditor queries, shared by bench:audit and bench:scale.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { AuditRepository, AuditService } from '@junction/audit';
import type { MessageRecord } from '@junction/runtime';
import { percentile } from './process-stats';

export const DAYS = 10;
export const ROUTES = 50;

/** A message record as the audit writer is given it, varied by `i`. */
export function record(i: number): MessageRecord {
  const now = new Date().toISOString();
  return {
    messageId: randomUUID(),
    routeId: `route-${i % ROUTES}`,
    routeVersion: 1,
    source: { type: 'amqp', name: 'orders.in' },
    outcome: i % 100 === 0 ? 'dead-lettered' : 'delivered',
    receipts: [
      {
        destination: 0,
        receipt: { kind: 'kafka', topic: 'orders.eu', partition: 0, offset: String(i) },
      },
    ],
    attempts: 1,
    receivedAt: now,
    doneAt: now,
    body: {
      orderId: `o-${i}`,
      amount: 120.5,
      email: 'a1b2c3d4e5f6',
      card: { pan: '411111******1111' },
      items: [{ sku: 'A-1', qty: 2 }],
    },
    payload: Buffer.from(`{"orderId":"o-${i}"}`),
    auditPayload: 'masked',
  };
}

export function summary(name: string, ms: number[], extra = ''): void {
  const s = [...ms].sort((a, b) => a - b);
  console.log(
    `${name.padEnd(46)} p50 ${percentile(s, 50).toFixed(2).padStart(8)} ms   p95 ${percentile(s, 95).toFixed(2).padStart(8)} ms   max ${s[s.length - 1].toFixed(2).padStart(8)} ms ${extra}`,
  );
}

/** Runs `total` operations with `concurrency` in flight; returns per-operation latencies and ops/s. */
export async function load(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
) {
  const latencies: number[] = new Array<number>(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t0 = performance.now();
        await op(i);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  return { latencies, perSecond: total / ((performance.now() - started) / 1000) };
}

/**
 * Inserts message rows `first`..`last` (bulk SQL, not chained: only queries are measured on
 * them), spread over the DAYS days before today as if `spread` rows were loaded in all. Their
 * message ids are derived from the row number (see idOf), so queries can look them up.
 */
export async function insertAuditRows(
  raw: Pool,
  first: number,
  last: number,
  spread: number,
): Promise<void> {
  for (let day = DAYS; day >= 1; day--) {
    await raw.query(`SELECT audit_ensure_partition((now() AT TIME ZONE 'UTC')::date - $1::int)`, [
      day,
    ]);
  }
  const chunk = 100_000;
  for (let from = first; from <= last; from += chunk) {
    const to = Math.min(last, from + chunk - 1);
    await raw.query(
      `INSERT INTO audit_messages (seq, recorded_at, message_id, route_id, route_version, source, outcome,
         destinations, targets, attempts, received_at, done_at, error_code, error_message, error_where, body,
         payload_sha256, prev_hash, hash)
       SELECT 10000000 + g, t, m, r, 1, '{"type":"amqp","name":"orders.in"}', o,
         CASE WHEN o = 'delivered' THEN '[{"destination":0,"receipt":{"kind":"kafka","topic":"orders.eu","partition":0,"offset":"1"}}]'::jsonb ELSE '[]' END,
         CASE WHEN o = 'delivered' THEN '{kafka:orders.eu}'::text[] ELSE '{}' END,
         1, t, t,
         CASE WHEN o = 'dead-lettered' THEN 'DELIVERY_FAILED' END,
         CASE WHEN o = 'dead-lettered' THEN 'destinations/0: broker unreachable' END,
         CASE WHEN o = 'dead-lettered' THEN 'destinations/0' END,
         jsonb_build_object('orderId', 'o-' || g, 'amount', g % 1000, 'email', md5(g::text), 'items', jsonb_build_array(jsonb_build_object('sku', 'A-' || g % 97, 'qty', 1))),
         decode(md5(g::text) || md5(g::text), 'hex'), '\\x00', '\\x00'
       FROM (
         SELECT g,
           date_trunc('milliseconds', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '${DAYS} days'
             + ((g - 1)::float8 / ${spread}) * interval '${DAYS} days') AS t,
           substr(md5('m' || g), 1, 8) || '-' || substr(md5('m' || g), 9, 4) || '-7' || substr(md5('m' || g), 14, 3) || '-8' || substr(md5('m' || g), 18, 3) || '-' || substr(md5('m' || g), 21, 12) AS m,
           'route-' || (g % ${ROUTES}) AS r,
           CASE WHEN g % 100 < 90 THEN 'delivered' WHEN g % 100 < 94 THEN 'filtered' WHEN g % 100 < 96 THEN 'unroutable'
                WHEN g % 100 < 97 THEN 'dead-lettered' ELSE 'replayed' END AS o
         FROM generate_series(${from}, ${to}) AS g
       ) AS x`,
    );
  }
}

/** The size of audit_messages with its indexes. */
export async function auditSize(raw: Pool): Promise<string> {
  return (
    await raw.query<{ s: string }>(
      `SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) AS s FROM pg_inherits WHERE inhparent = 'audit_messages'::regclass`,
    )
  ).rows[0]!.s;
}

/** Midnight (UTC) `d` days before today. */
export function dayStart(d: number): Date {
  const today = new Date();
  return new Date(
    Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - d * 86_400_000,
  );
}

export interface QueryTimes {
  name: string;
  latencies: number[];
  extra: string;
}

/**
 * The three queries an auditor runs, `queries` times each, one at a time, through the same
 * service code as the API, on `records` rows loaded by insertAuditRows: one message by id; one
 * route's failures in a day; a page (50) of a one-hour time range, and the page after it by cursor.
 */
export async function auditQueries(
  ds: DataSource,
  raw: Pool,
  records: number,
  queries: number,
): Promise<QueryTimes[]> {
  const service = new AuditService(new AuditRepository(ds));
  const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
  const idOf = async (g: number) =>
    (
      await raw.query(
        `SELECT substr(md5('m' || $1), 1, 8) || '-' || substr(md5('m' || $1), 9, 4) || '-7' || substr(md5('m' || $1), 14, 3) || '-8' || substr(md5('m' || $1), 18, 3) || '-' || substr(md5('m' || $1), 21, 12) AS m`,
        [g],
      )
    ).rows[0].m as string;
  const ids = await Promise.all(Array.from({ length: queries }, () => idOf(rnd(records))));
  let found = 0;
  const byId = await load(
    queries,
    1,
    async (i) => (found += (await service.message(ids[i])).records.length),
  );
  let failures = 0;
  const routeDay = await load(queries, 1, async () => {
    const from = dayStart(rnd(DAYS));
    const page = await service.messages(
      {
        routeId: `route-${rnd(ROUTES) - 1}`,
        outcome: 'dead-lettered',
        from: from.toISOString(),
        to: new Date(from.getTime() + 86_400_000).toISOString(),
      },
      { limit: 500 },
    );
    failures += page.items.length;
  });
  const cursors: string[] = [];
  const range = await load(queries, 1, async () => {
    const from = new Date(
      dayStart(DAYS).getTime() + Math.random() * (DAYS * 86_400_000 - 3_600_000),
    );
    const page = await service.messages(
      { from: from.toISOString(), to: new Date(from.getTime() + 3_600_000).toISOString() },
      { limit: 50 },
    );
    if (page.nextCursor) cursors.push(page.nextCursor);
  });
  const next = await load(cursors.length, 1, (i) =>
    service.messages({}, { limit: 50, cursor: cursors[i] }),
  );
  return [
    { name: 'one message by id', latencies: byId.latencies, extra: `  (${found} records found)` },
    {
      name: "one route's failures in a day",
      latencies: routeDay.latencies,
      extra: `  (${(failures / queries).toFixed(0)} records per answer)`,
    },
    { name: 'a page (50) of a one-hour time range', latencies: range.latencies, extra: '' },
    { name: 'the next page, by cursor', latencies: next.latencies, extra: '' },
  ];
}
