/**
 * node dist/bench/audit.bench.js — the audit trail in a scratch database on the Postgres of
 * TEST_DATABASE_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres):
 *
 *   1. Write path: records/s through the group-commit writer and the p50/p95 of `record()`
 *      (until durable), next to a raw baseline measured in the same run: one INSERT per record,
 *      each its own transaction, on a pool of 10 connections (an audit without group commit).
 *   2. Loads BENCH_RECORDS (default 1,000,000) message records spread over the 10 days before
 *      today (50 routes, 1% dead-lettered), then prints the p50/p95 of the three queries an
 *      auditor runs, through the same service code as the API: one message by id; one route's
 *      failures in a day; a page (50) of a one-hour time range, and the page after it by cursor.
 *   3. Verifies the writer's chain (today's rows): rows/s.
 *
 * The bulk rows of step 2 are inserted with SQL, not chained (only queries are measured on
 * them); the chain is checked over today's rows, which the writer made. BENCH_KEEP_DB=1 keeps
 * the database. BENCH_BASELINE=0 skips the baseline, BENCH_RECORDS=0 steps 2 and 3 (to profile
 * the write path alone: node --cpu-prof dist/bench/audit.bench.js). `--json` prints the write
 * path's figures as one JSON document.
 */
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { AuditRepository, AuditService, createAuditTrail, messageRow } from '@junction/audit';
import { createTestDatabase } from '@junction/database';
import type { MessageRecord } from '@junction/runtime';
import { MIGRATIONS } from '../migrations';
import { costLine, measureAudit } from './costs';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const WRITES = Number(process.env.BENCH_WRITES ?? 100_000);
const BASELINE = Number(process.env.BENCH_BASELINE ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const DAYS = 10;
const ROUTES = 50;

function record(i: number): MessageRecord {
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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(name: string, ms: number[], extra = ''): void {
  const s = [...ms].sort((a, b) => a - b);
  console.log(
    `${name.padEnd(46)} p50 ${percentile(s, 50).toFixed(2).padStart(8)} ms   p95 ${percentile(s, 95).toFixed(2).padStart(8)} ms   max ${s[s.length - 1].toFixed(2).padStart(8)} ms ${extra}`,
  );
}

/** Runs `total` operations with `concurrency` in flight; returns per-operation latencies and ops/s. */
async function load(total: number, concurrency: number, op: (i: number) => Promise<unknown>) {
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

async function main(): Promise<void> {
  const db = await createTestDatabase('audit_bench');
  const ds = new DataSource({
    type: 'postgres',
    url: db.url,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
  });
  const raw = new Pool({ connectionString: db.url, max: 10 });
  try {
    await ds.initialize();
    await ds.runMigrations();
    console.log(`scratch database ${db.name}\n`);

    // 1. Write path.
    await raw.query(`CREATE TABLE baseline (LIKE audit_messages INCLUDING ALL)`);
    const records = Array.from({ length: BASELINE }, (_, i) => record(i));
    // The same row, redacted and hashed the same way, but one INSERT and COMMIT per record.
    const base = await load(BASELINE, CONCURRENCY, (i) => {
      const row = messageRow(records[i]);
      const hash = createHash('sha256').update(JSON.stringify(row)).digest();
      return raw.query(
        `INSERT INTO baseline (seq, recorded_at, message_id, route_id, route_version, source, outcome, destinations,
           targets, attempts, received_at, done_at, body, payload_sha256, prev_hash, hash)
         VALUES ($1, date_trunc('milliseconds', now()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
           decode($13, 'hex'), $14, $14)`,
        [
          i,
          row.messageId,
          row.routeId,
          row.routeVersion,
          JSON.stringify(row.source),
          row.outcome,
          JSON.stringify(row.destinations),
          row.targets,
          row.attempts,
          row.receivedAt,
          row.doneAt,
          JSON.stringify(row.body),
          row.payloadSha256,
          hash,
        ],
      );
    });
    // The writer as it is (one batch at a time), then with batches pipelined: same run.
    const write = async (pipelineDepth: number) => {
      const trail = createAuditTrail({ databaseUrl: db.url, pipelineDepth });
      const meter = await measureAudit(async (sql) => (await raw.query(sql)).rows);
      const written = await load(WRITES, CONCURRENCY, (i) => trail.recordMessage(record(i)));
      const costs = await meter.stop(trail, WRITES);
      await trail.close();
      return { written, costs };
    };
    const runs = [
      { name: 'group commit (one batch at a time)', ...(await write(1)) },
      { name: 'group commit, pipelineDepth 2', ...(await write(2)) },
    ];
    if (process.argv.includes('--json')) {
      console.log(
        JSON.stringify({
          writes: WRITES,
          concurrency: CONCURRENCY,
          baselinePerSecond: BASELINE > 0 ? base.perSecond : null,
          runs: runs.map((r) => ({
            name: r.name,
            recordsPerSecond: r.written.perSecond,
            ...r.costs,
          })),
        }),
      );
    }
    console.log(`write path, ${CONCURRENCY} records in flight:`);
    if (BASELINE > 0) {
      summary(
        `  baseline: INSERT + COMMIT per record (${BASELINE})`,
        base.latencies,
        `  ${Math.round(base.perSecond)} records/s`,
      );
    }
    for (const { name, written, costs } of runs) {
      summary(
        `  ${name}: record() until durable (${WRITES})`,
        written.latencies,
        `  ${Math.round(written.perSecond)} records/s` +
          (BASELINE > 0
            ? `, ${(written.perSecond / base.perSecond).toFixed(1)}x the baseline`
            : ''),
      );
      console.log(`    ${costLine(costs)}`);
    }
    console.log('');
    if (RECORDS === 0) return;

    // 2. A million records over ten days, and the auditor's queries.
    const loadStarted = performance.now();
    for (let day = DAYS; day >= 1; day--) {
      await raw.query(`SELECT audit_ensure_partition((now() AT TIME ZONE 'UTC')::date - $1::int)`, [
        day,
      ]);
    }
    const chunk = 100_000;
    for (let from = 1; from <= RECORDS; from += chunk) {
      const to = Math.min(RECORDS, from + chunk - 1);
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
               + ((g - 1)::float8 / ${RECORDS}) * interval '${DAYS} days') AS t,
             substr(md5('m' || g), 1, 8) || '-' || substr(md5('m' || g), 9, 4) || '-7' || substr(md5('m' || g), 14, 3) || '-8' || substr(md5('m' || g), 18, 3) || '-' || substr(md5('m' || g), 21, 12) AS m,
             'route-' || (g % ${ROUTES}) AS r,
             CASE WHEN g % 100 < 90 THEN 'delivered' WHEN g % 100 < 94 THEN 'filtered' WHEN g % 100 < 96 THEN 'unroutable'
                  WHEN g % 100 < 97 THEN 'dead-lettered' ELSE 'replayed' END AS o
           FROM generate_series(${from}, ${to}) AS g
         ) AS x`,
      );
    }
    await raw.query(`ANALYZE audit_messages`);
    const size = (
      await raw.query(
        `SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) AS s FROM pg_inherits WHERE inhparent = 'audit_messages'::regclass`,
      )
    ).rows[0].s;
    console.log(
      `loaded ${RECORDS} records over ${DAYS} days in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s (audit_messages with indexes: ${size})\n`,
    );

    const service = new AuditService(new AuditRepository(ds));
    const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
    const idOf = async (g: number) =>
      (
        await raw.query(
          `SELECT substr(md5('m' || $1), 1, 8) || '-' || substr(md5('m' || $1), 9, 4) || '-7' || substr(md5('m' || $1), 14, 3) || '-8' || substr(md5('m' || $1), 18, 3) || '-' || substr(md5('m' || $1), 21, 12) AS m`,
          [g],
        )
      ).rows[0].m as string;
    const ids = await Promise.all(Array.from({ length: QUERIES }, () => idOf(rnd(RECORDS))));
    const dayStart = (d: number) => {
      const today = new Date();
      return new Date(
        Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - d * 86_400_000,
      );
    };
    let found = 0;
    const byId = await load(
      QUERIES,
      1,
      async (i) => (found += (await service.message(ids[i])).records.length),
    );
    let failures = 0;
    const routeDay = await load(QUERIES, 1, async () => {
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
    const range = await load(QUERIES, 1, async () => {
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
    console.log(
      `queries on ${RECORDS} records (${QUERIES} each, one at a time, through AuditService):`,
    );
    summary('  one message by id', byId.latencies, `  (${found} records found)`);
    summary(
      "  one route's failures in a day",
      routeDay.latencies,
      `  (${(failures / QUERIES).toFixed(0)} records per answer)`,
    );
    summary('  a page (50) of a one-hour time range', range.latencies);
    summary('  the next page, by cursor', next.latencies);

    // 3. Verify the writer's chain.
    const t0 = performance.now();
    const verified = await service.verify({ from: dayStart(0).toISOString() }, 'messages');
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `\nverify (today's ${verified.checked} chained records): ok=${verified.ok}, ${Math.round(verified.checked / seconds)} records/s`,
    );
  } finally {
    await raw.end();
    await ds.destroy().catch(() => undefined);
    if (process.env.BENCH_KEEP_DB !== '1') await db.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
