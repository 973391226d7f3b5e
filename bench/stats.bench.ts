/**
 * node dist/bench/stats.bench.js — GET /stats's cost on a scratch database on the Postgres of
 * TEST_DATABASE_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres):
 *
 *   1. Loads BENCH_RECORDS (default 200,000) message rows into audit_messages, spread evenly
 *      over BENCH_DAYS (default 10) days before now, 50 routes, five outcomes (bulk SQL, not
 *      chained: only the rollup and the queries are measured).
 *   2. The rollup from nothing (rows/s), then an incremental one after 1,000 more rows (what a
 *      poll pays when the counters were current a moment ago).
 *   3. p50/p95 of the dashboard's queries through StatsService (each includes its catch-up
 *      check): the last hour by minute, the last day by hour, all days by day, one route by hour.
 *   4. The same day-by-day numbers by scanning audit_messages directly (what the counters avoid).
 *
 * The counters grow with buckets x routes x outcomes, not with messages: a query reads at most
 * (its range in minutes) x (routes) x (outcomes) counter rows. BENCH_KEEP_DB=1 keeps the database.
 */
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { StatsRepository, StatsService } from '@junction/audit';
import { createTestDatabase } from '@junction/database';
import { MIGRATIONS } from '../migrations';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const DAYS = Number(process.env.BENCH_DAYS ?? 10);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 50);
const ROUTES = 50;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timedRuns(n: number, op: () => Promise<unknown>): Promise<string> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return `p50 ${percentile(ms, 50).toFixed(2).padStart(8)} ms   p95 ${percentile(ms, 95).toFixed(2).padStart(8)} ms`;
}

async function insertRows(ds: DataSource, firstSeq: number, count: number, spanDays: number) {
  const chunk = 100_000;
  for (let from = 0; from < count; from += chunk) {
    const to = Math.min(count, from + chunk) - 1;
    await ds.query(
      `INSERT INTO audit_messages (seq, recorded_at, message_id, route_id, route_version, source, outcome,
         destinations, targets, attempts, received_at, done_at, body, payload_sha256, prev_hash, hash)
       SELECT ${firstSeq} + g, t, 'm-' || (${firstSeq} + g), 'route-' || (g % ${ROUTES}), 1,
         '{"type":"amqp","name":"orders.in"}',
         CASE WHEN g % 100 < 90 THEN 'delivered' WHEN g % 100 < 94 THEN 'filtered'
              WHEN g % 100 < 96 THEN 'unroutable' WHEN g % 100 < 97 THEN 'dead-lettered' ELSE 'replayed' END,
         '[]', '{}', 1, t, t, NULL, decode(md5(g::text) || md5(g::text), 'hex'), '\\x00', '\\x00'
       FROM (
         SELECT g, date_trunc('milliseconds', now() - interval '${spanDays} days'
                  + (g::float8 / ${Math.max(count, 1)}) * interval '${spanDays} days') AS t
           FROM generate_series(${from}, ${to}) AS g) AS x`,
    );
  }
}

async function main(): Promise<void> {
  const db = await createTestDatabase('stats_bench');
  const ds = new DataSource({
    type: 'postgres',
    url: db.url,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
  });
  try {
    await ds.initialize();
    await ds.runMigrations();
    for (let day = DAYS + 1; day >= 0; day--)
      await ds.query(`SELECT audit_ensure_partition((now() AT TIME ZONE 'UTC')::date - $1::int)`, [
        day,
      ]);
    console.log(`scratch database ${db.name}`);

    let t0 = performance.now();
    await insertRows(ds, 1, RECORDS, DAYS);
    await ds.query(`ANALYZE audit_messages`);
    console.log(
      `loaded ${RECORDS} rows over ${DAYS} days in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const repo = new StatsRepository(ds);
    t0 = performance.now();
    let counted = 0;
    for (let n = 50_000; n === 50_000; counted += n) n = await repo.rollup(50_000, true);
    const full = performance.now() - t0;
    const [{ n: counterRows }] = (await ds.query(
      `SELECT count(*)::int AS n FROM audit_message_counts`,
    )) as Array<{ n: number }>;
    console.log(
      `rollup from nothing: ${counted} rows in ${(full / 1000).toFixed(2)} s (${Math.round(counted / (full / 1000))} rows/s); ${counterRows} counter rows`,
    );
    await insertRows(ds, RECORDS + 1, 1_000, 0.001);
    t0 = performance.now();
    const more = await repo.rollup(50_000, true);
    console.log(
      `incremental rollup of ${more} new rows: ${(performance.now() - t0).toFixed(2)} ms\n`,
    );

    const service = new StatsService(repo, new Logger('Stats'));
    const now = Date.now();
    const iso = (msAgo: number) => new Date(now - msAgo).toISOString();
    const queries: Array<[string, Parameters<StatsService['stats']>[0]]> = [
      ['last hour by minute', { from: iso(3_600_000), bucket: 'minute' }],
      ['last day by hour', { from: iso(86_400_000), bucket: 'hour' }],
      [`${DAYS} days by day`, { from: iso((DAYS + 1) * 86_400_000), bucket: 'day' }],
      [
        'one route, last day by hour',
        { from: iso(86_400_000), bucket: 'hour', routeId: 'route-7' },
      ],
    ];
    for (const [name, q] of queries)
      console.log(
        `GET /stats ${name.padEnd(32)} ${await timedRuns(QUERIES, () => service.stats(q))}`,
      );
    const scan = await timedRuns(Math.min(QUERIES, 5), () =>
      ds.query(
        `SELECT date_trunc('day', recorded_at, 'UTC'), route_id, outcome, count(*)
           FROM audit_messages WHERE recorded_at >= $1 GROUP BY 1, 2, 3`,
        [iso((DAYS + 1) * 86_400_000)],
      ),
    );
    console.log(`scan of audit_messages, ${DAYS} days by day  ${scan}`);
  } finally {
    await ds.destroy();
    if (process.env.BENCH_KEEP_DB !== '1') await db.drop();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
