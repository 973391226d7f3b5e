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

/** Row g's message id (a UUIDv7-shaped text), in SQL over a column `h` = md5('m' || g). */
const MESSAGE_ID = `substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(h, 14, 3) || '-8' || substr(h, 18, 3) || '-' || substr(h, 21, 12)`;
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
 * them), spread evenly over the DAYS days before today (each load: so every size fills them). Their
 * message ids are derived from the row number (see idOf), so queries can look them up. Their
 * `seq` follows the chain head, which moves past them (the writer goes on after them, as it
 * would after a real backlog), and the per-minute and per-hour counters count them, as the
 * stats rollup would have: it is moved past them too (writer records it had not yet counted
 * are skipped). Run it with no gateway on the database.
 */
export async function insertAuditRows(raw: Pool, first: number, last: number): Promise<void> {
  for (let day = DAYS; day >= 1; day--) {
    await raw.query(`SELECT audit_ensure_partition((now() AT TIME ZONE 'UTC')::date - $1::int)`, [
      day,
    ]);
  }
  const head = Number(
    (
      await raw.query<{ seq: string }>(
        `SELECT seq FROM audit_chain_heads WHERE table_name = 'audit_messages'`,
      )
    ).rows[0]!.seq,
  );
  const seqOf = head - first + 1; // row g gets seq g + seqOf
  // What the stats rollup adds for the rows just inserted (see StatsRepository.rollup).
  const countInto = (table: string, unit: 'minute' | 'hour') =>
    `INSERT INTO ${table} (bucket, route_id, outcome, count)
       SELECT date_trunc('${unit}', recorded_at), route_id, outcome, count(*) FROM loaded GROUP BY 1, 2, 3
       ON CONFLICT (bucket, route_id, outcome) DO UPDATE SET count = ${table}.count + EXCLUDED.count`;
  // Secondary indexes are built once after the load, not kept up row by row during it (a
  // random message id per row makes that the slowest part): the same definitions, on the parent.
  const { rows: indexes } = await raw.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
      WHERE schemaname = current_schema() AND tablename = 'audit_messages' AND indexname <> 'audit_messages_pkey'`,
  );
  for (const index of indexes) await raw.query(`DROP INDEX ${index.name}`);
  const chunk = 100_000;
  for (let from = first; from <= last; from += chunk) {
    const to = Math.min(last, from + chunk - 1);
    await raw.query(
      `WITH loaded AS (INSERT INTO audit_messages (seq, recorded_at, message_id, route_id, route_version, source, outcome,
         destinations, targets, attempts, received_at, done_at, error_code, error_message, error_where, body,
         payload_sha256, prev_hash, hash)
       SELECT ${seqOf} + g, t, m, r, 1, '{"type":"amqp","name":"orders.in"}', o,
         CASE WHEN o = 'delivered' THEN '[{"destination":0,"receipt":{"kind":"kafka","topic":"orders.eu","partition":0,"offset":"1"}}]'::jsonb ELSE '[]' END,
         CASE WHEN o = 'delivered' THEN '{kafka:orders.eu}'::text[] ELSE '{}' END,
         1, t, t,
         CASE WHEN o = 'dead-lettered' THEN 'DELIVERY_FAILED' END,
         CASE WHEN o = 'dead-lettered' THEN 'destinations/0: broker unreachable' END,
         CASE WHEN o = 'dead-lettered' THEN 'destinations/0' END,
         jsonb_build_object('orderId', 'o-' || g, 'amount', g % 1000, 'email', h, 'items', jsonb_build_array(jsonb_build_object('sku', 'A-' || g % 97, 'qty', 1))),
         decode(h || h, 'hex'), '\\x00', '\\x00'
       FROM (
         SELECT g, h,
           date_trunc('milliseconds', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '${DAYS} days'
             + ((g - ${first})::float8 / ${last - first + 1}) * interval '${DAYS} days') AS t,
           ${MESSAGE_ID} AS m,
           'route-' || ((g + g / 100) % ${ROUTES}) AS r,
           CASE WHEN g % 100 < 90 THEN 'delivered' WHEN g % 100 < 94 THEN 'filtered' WHEN g % 100 < 96 THEN 'unroutable'
                WHEN g % 100 < 97 THEN 'dead-lettered' ELSE 'replayed' END AS o
         FROM generate_series(${from}, ${to}) AS g, md5('m' || g) AS h -- r: every route has every outcome
       ) AS x
       RETURNING recorded_at, route_id, outcome),
       minutes AS (${countInto('audit_message_counts', 'minute')})
       ${countInto('audit_message_counts_hourly', 'hour')}`,
    );
  }
  await raw.query(`SET maintenance_work_mem = '256MB'`);
  // pg_indexes shows a partitioned index as made ON ONLY the parent: made so, no partition would get it.
  for (const index of indexes) await raw.query(index.def.replace(' ON ONLY ', ' ON '));
  const end = seqOf + last;
  await raw.query(
    `UPDATE audit_chain_heads SET seq = $1, recorded_at = date_trunc('milliseconds', now()) WHERE table_name = 'audit_messages'`,
    [end],
  );
  await raw.query(`UPDATE audit_rollup_state SET last_seq = $1 WHERE name = 'messages'`, [end]);
}

/** The size of audit_messages with its indexes. */
export async function auditSize(raw: Pool): Promise<string> {
  return (
    await raw.query<{ s: string }>(
      `SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) AS s FROM pg_inherits WHERE inhparent = 'audit_messages'::regclass`,
    )
  ).rows[0]!.s;
}

/** 1..n, uniformly. */
export const rnd = (n: number): number => 1 + Math.floor(Math.random() * n);

/** The message ids of `count` rows taken at random among rows 1..`records` (see insertAuditRows). */
export async function randomMessageIds(
  raw: Pool,
  records: number,
  count: number,
): Promise<string[]> {
  const { rows } = await raw.query<{ m: string }>(
    `SELECT ${MESSAGE_ID} AS m
       FROM unnest($1::int[]) AS g, md5('m' || g) AS h`,
    [Array.from({ length: count }, () => rnd(records))],
  );
  return rows.map((r) => r.m);
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
  const ids = await randomMessageIds(raw, records, queries);
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
