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
 *   3. Verifies the writer's chain (before step 2's rows come): rows/s.
 *
 * The bulk rows of step 2 are inserted with SQL, not chained (only queries are measured on
 * them); the chain is checked before they come, over the rows the writer made. BENCH_KEEP_DB=1 keeps
 * the database. BENCH_BASELINE=0 skips the baseline, BENCH_RECORDS=0 steps 2 and 3 (to profile
 * the write path alone: node --max-semi-space-size=32 --cpu-prof dist/bench/audit.bench.js; with
 * --cpu-prof alone it runs without the gateway's flags, see gateway-node.ts). `--json` prints the
 * write path's figures as one JSON document.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import {
  AuditRepository,
  AuditService,
  chainHash,
  chainHashOf,
  createAuditTrail,
  GENESIS_HASH,
  messageRow,
  messageRowText,
  MESSAGES,
} from '@junction/audit';
import { createTestDatabase } from '@junction/database';
import type { MessageRecord } from '@junction/runtime';
import { MIGRATIONS } from '../migrations';
import {
  auditQueries,
  auditSize,
  DAYS,
  insertAuditRows,
  load,
  record,
  summary,
} from './audit-load';
import { costLine, measureAudit } from './costs';
import { nodeFlagsLine, rerunWithGatewayFlags } from './gateway-node';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const WRITES = Number(process.env.BENCH_WRITES ?? 100_000);
const BASELINE = Number(process.env.BENCH_BASELINE ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);

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
    console.log(`${nodeFlagsLine()}; scratch database ${db.name}\n`);

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
    // One batch at a time, then pipelined (two on the wire, the default): same run.
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
    const prepared = Array.from({ length: 20_000 }, (_, i) => record(i));
    const prep = preparation(prepared);
    console.log(
      `record preparation and chaining, no database (${prepared.length} records, CPU us/record): ` +
        `two-pass (messageRow, canonicalJson) ${prep.twoPass.toFixed(1)}, one-pass (messageRowText) ${prep.onePass.toFixed(1)}\n`,
    );
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
    if (RECORDS === 0) return;

    // 3. Verify the writer's chain, before the bulk rows (not chained, numbered after it) come.
    const t0 = performance.now();
    const service = new AuditService(new AuditRepository(ds));
    const verified = await service.verify({}, 'messages');
    const seconds = (performance.now() - t0) / 1000;
    const broken = verified.ok ? '' : ` (${verified.tables[0]?.reason ?? 'anchors'})`;
    console.log(
      `verify (the writer's ${verified.checked} chained records): ok=${verified.ok}${broken}, ${Math.round(verified.checked / seconds)} records/s\n`,
    );

    // 2. A million records over ten days, and the auditor's queries.
    const loadStarted = performance.now();
    await insertAuditRows(raw, 1, RECORDS);
    await raw.query(`ANALYZE audit_messages`);
    const size = await auditSize(raw);
    console.log(
      `loaded ${RECORDS} records over ${DAYS} days in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s (audit_messages with indexes: ${size})\n`,
    );

    console.log(
      `queries on ${RECORDS} records (${QUERIES} each, one at a time, through AuditService):`,
    );
    for (const q of await auditQueries(ds, raw, RECORDS, QUERIES))
      summary(`  ${q.name}`, q.latencies, q.extra);
  } finally {
    await raw.end();
    await ds.destroy().catch(() => undefined);
    if (process.env.BENCH_KEEP_DB !== '1') await db.drop();
  }
}

/**
 * CPU per record of making a message row's hashed texts and chaining them, the way the writer
 * did before (a value copy through safeJson, then canonicalJson) and the way it does now
 * (messageRowText), alternated in this process so that both see the same machine.
 */
function preparation(records: MessageRecord[]): { twoPass: number; onePass: number } {
  const at = new Date().toISOString();
  const twoPass = (r: MessageRecord, prev: Buffer, seq: string) =>
    chainHash('audit_messages', prev, seq, at, MESSAGES.content(messageRow(r)));
  const onePass = (r: MessageRecord, prev: Buffer, seq: string) =>
    chainHashOf('audit_messages', prev, seq, at, messageRowText(r).content);
  const run = (chain: typeof twoPass) => {
    const from = process.cpuUsage();
    let prev: Buffer = GENESIS_HASH;
    for (let i = 0; i < records.length; i++) prev = chain(records[i], prev, String(i + 1));
    const cpu = process.cpuUsage(from);
    return (cpu.user + cpu.system) / records.length;
  };
  const best = { twoPass: Infinity, onePass: Infinity };
  for (let round = 0; round < 3; round++) {
    best.twoPass = Math.min(best.twoPass, run(twoPass));
    best.onePass = Math.min(best.onePass, run(onePass));
  }
  return best;
}

// Under the gateway's node flags (see gateway-node.ts), or again as a child that has them.
if (!rerunWithGatewayFlags())
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
