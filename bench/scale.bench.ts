/**
 * npm run bench:scale — how the gateway's cost grows, on this machine (the built gateway,
 * `npm run build`, as a process on scratch databases):
 *
 *   1. Routes: for each count in BENCH_ROUTES, that many HTTP-ingest routes (async, no stages,
 *      a log destination: the cheapest that runs) are stored straight into the routes tables,
 *      then the gateway starts: time from spawn to GET /health/ready = 200 (every stored route
 *      has had its first start), RSS and V8 heap once ready, ingest req/s on one route among
 *      them (autocannon, 50 connections, BENCH_DURATION s), and the time from `activate` of a
 *      new version (over the API) to its first answer on the ingest path.
 *   2. The audit trail at each size in BENCH_AUDIT_ROWS: message rows bulk-loaded up to that
 *      size on the Postgres side (generate_series into the day partitions, counters included),
 *      then the group-commit writer's records/s (BENCH_WRITES records, 1,000 in flight), then a
 *      gateway is started on it and the console's and REST clients' queries are timed through
 *      its HTTP API (p50, p95): by id, by route and time range, by status, stats, export.
 *   3. Scale-out: BENCH_MESSAGES messages preloaded on one AMQP queue, consumed by a route
 *      (validate + filter + transform + mask, AMQP destination, audit on) on one and then two
 *      gateway processes: msg/s and CPU seconds per message of the gateways and of Postgres.
 *
 * Sizes are small by default (a validation run, never part of npm test); each is a flag or the
 * environment variable in brackets. The figures the issue asks for:
 *   npm run bench:scale -- --routes=1,100,1000,10000 --audit-rows=1000000,10000000 --messages=100000
 *   (BENCH_ROUTES, BENCH_AUDIT_ROWS, BENCH_MESSAGES; also --duration= s of ingest load,
 *   --writes= audit records, --queries= per audit query, --only=routes,audit,amqp).
 * 10M audit rows take about 8 GB of disk while they last (the scratch database is dropped after).
 * Then a line names each figure that grows faster than the work (per-route cost rising with the
 * route count, or a per-request figure that changes with it). `--json`: one JSON document.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as amqp from 'amqplib';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { createAuditTrail } from '@junction/audit';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import type { RouteSpec } from '@junction/connectors';
import { checksumOf } from '@junction/registry';
import { MIGRATIONS } from '../migrations';
import { eventually, freePort, GatewayProcess } from '../test/gateway-process';
import { auditApiQueries } from './audit-api-queries';
import { auditSize, insertAuditRows, load as runOps, QueryTimes, record } from './audit-load';
import { load as httpLoad } from './http.bench';
import { cpuMs, cpuSince, mb, percentile, postgresCpu, rssBytes } from './process-stats';
import { order, renamingPipeline } from './route-bench';
import { GATEWAY_NODE_FLAGS } from './gateway-node';

/** A size from `--name=value` on the command line, else BENCH_NAME in the environment. */
function setting(name: string, fallback: string): string {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (flag) return flag.slice(name.length + 3);
  return process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] ?? fallback;
}
const list = (name: string, d: string) => setting(name, d).split(',').map(Number);
const ROUTE_COUNTS = list('routes', '1,100');
const AUDIT_ROWS = list('audit-rows', '100000');
const MESSAGES = Number(setting('messages', '5000'));
const DURATION = Number(setting('duration', '5'));
const WRITES = Number(setting('writes', '20000'));
const QUERIES = Number(setting('queries', '100'));
const ONLY = new Set(setting('only', 'routes,audit,amqp').split(','));
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const ADMIN_URL =
  process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const JSON_OUT = process.argv.includes('--json');
/** The gateways run under the node flags `npm start` gives them (gateway-node.ts). */
const GATEWAY_ENV = { NODE_OPTIONS: GATEWAY_NODE_FLAGS.join(' ') };
const RUN = `bench-scale-${Date.now().toString(36)}`;

function say(line: string): void {
  if (!JSON_OUT) console.log(line);
}

async function migrated(label: string): Promise<{ db: TestDatabase; ds: DataSource }> {
  const db = await createTestDatabase(label);
  const ds = new DataSource({
    type: 'postgres',
    url: db.url,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
  });
  await ds.initialize();
  await ds.runMigrations();
  return { db, ds };
}

// ---------------------------------------------------------------------------------------------
// 1. Routes

export interface RoutesRow {
  routes: number;
  /** From the gateway's spawn to GET /health/ready = 200, every stored route running. */
  readyMs: number;
  /** CPU the gateway used from its spawn to ready (less noisy than readyMs on a shared machine). */
  startCpuMs: number;
  rssBytes: number;
  heapBytes: number;
  ingestPerSecond: number;
  ingestCpuMsPerRequest: number;
  ingestP99: number;
  activateMs: number;
  /** The machine's 1-minute load average once measured (2 cores, shared). */
  machineLoad: number;
}

function scaleRoute(i: number): RouteSpec {
  return {
    id: `scale-${i}`,
    source: { type: 'http', path: `scale/r-${i}`, mode: 'async', auth: 'none' },
    pipeline: [],
    destinations: [{ type: 'log', level: 'debug' }],
  };
}

/** Stores `count` routes, version 1 active and running, as RoutesService.create leaves them. */
async function storeRoutes(ds: DataSource, count: number): Promise<void> {
  const docs = Array.from({ length: count }, (_, i) => scaleRoute(i));
  const chunk = 2_000;
  await ds.transaction(async (m) => {
    for (let from = 0; from < count; from += chunk) {
      const part = docs.slice(from, from + chunk);
      const ids = part.map((d) => d.id);
      await m.query(
        `INSERT INTO routes (id, incarnation, latest_version, active_version, desired_state)
           SELECT id, 1, 1, 1, 'running' FROM unnest($1::text[]) AS id`,
        [ids],
      );
      await m.query(
        `INSERT INTO route_versions (route_id, incarnation, version, document, checksum, author, comment)
           SELECT id, 1, 1, doc, sum, 'bench', 'bench:scale'
             FROM unnest($1::text[], $2::jsonb[], $3::text[]) AS x(id, doc, sum)`,
        [ids, part.map((d) => JSON.stringify(d)), part.map((d) => checksumOf(d))],
      );
      await m.query(
        `INSERT INTO ingest_paths (path, route_id) SELECT * FROM unnest($1::text[], $2::text[])`,
        [part.map((d) => (d.source as { path: string }).path), ids],
      );
    }
  });
}

/** From GET /metrics: the V8 heap in use, and how many routes run in this process. */
async function gatewayMetrics(gateway: GatewayProcess): Promise<{ heap: number; running: number }> {
  const text = await (await fetch(`${gateway.base}/metrics`)).text();
  const m = /^junction_nodejs_heap_size_used_bytes (\S+)/m.exec(text);
  const running = text.match(/^junction_route_running\{[^}]*\} 1$/gm)?.length ?? 0;
  return { heap: m ? Number(m[1]) : NaN, running };
}

async function post(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Time from POST .../activate to the first ingest answer from the new version (sync mode). */
async function activateTime(gateway: GatewayProcess): Promise<number> {
  const id = `${RUN}-activate`;
  const doc = (v: number): RouteSpec => ({
    id,
    source: { type: 'http', path: `scale/${id}`, mode: 'sync', auth: 'none' },
    pipeline: [{ transform: `{ "v": ${v} }` }],
    destinations: [{ type: 'log', level: 'debug' }],
  });
  const url = `${gateway.base}/ingest/scale/${id}`;
  const answered = async (v: number) => {
    const res = await post(url, { n: 1 });
    if (res.status !== 200 || (res.body as { v?: number }).v !== v)
      throw new Error(`answered ${res.status} ${JSON.stringify(res.body)}`);
  };
  const created = await gateway.api('POST', '/routes', doc(1));
  if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
  await eventually(() => answered(1), 60_000, 'version 1 answers');
  const stored = await gateway.api('PUT', `/routes/${id}`, doc(2));
  if (stored.status !== 200)
    throw new Error(`PUT: ${stored.status} ${JSON.stringify(stored.body)}`);
  const t0 = performance.now();
  const activated = await gateway.api('POST', `/routes/${id}/versions/2/activate`, {});
  if (activated.status >= 300) throw new Error(`activate: ${JSON.stringify(activated.body)}`);
  for (;;) {
    const res = await post(url, { n: 1 });
    if (res.status === 200 && (res.body as { v?: number }).v === 2) break;
    if (performance.now() - t0 > 60_000) throw new Error('version 2 did not answer in 60 s');
  }
  return performance.now() - t0;
}

async function routesAt(count: number): Promise<RoutesRow> {
  const { db, ds } = await migrated('scale_bench');
  let gateway: GatewayProcess | undefined;
  try {
    await storeRoutes(ds, count);
    await ds.destroy();
    gateway = new GatewayProcess(await freePort(), db.url, GATEWAY_ENV);
    const t0 = performance.now();
    await gateway.start();
    await eventually(
      async () => {
        const res = await fetch(`${gateway!.base}/health/ready`);
        if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
      },
      600_000,
      'ready',
    );
    const readyMs = performance.now() - t0;
    const pid = gateway.process!.child.pid!;
    const startCpuMs = cpuMs(pid);
    const rss = rssBytes(pid);
    const { heap, running } = await gatewayMetrics(gateway);
    if (running < count) throw new Error(`ready with ${running} of ${count} routes running`);
    const url = `${gateway.base}/ingest/scale/r-${Math.floor(count / 2)}`;
    const probe = await post(url, order(1));
    if (probe.status !== 202) throw new Error(`ingest probe: ${probe.status}`);
    await httpLoad(url, 1); // warm-up: the route's first requests compile its code paths
    const cpu0 = cpuMs(pid);
    const r = await httpLoad(url, DURATION);
    const cpu = cpuMs(pid) - cpu0;
    const activateMs = await activateTime(gateway);
    const row: RoutesRow = {
      routes: count,
      readyMs,
      startCpuMs,
      rssBytes: rss,
      heapBytes: heap,
      ingestPerSecond: r['2xx'] / r.duration,
      ingestCpuMsPerRequest: cpu / Math.max(1, r['2xx']),
      ingestP99: r.latency.p99,
      activateMs,
      machineLoad: loadavg()[0]!,
    };
    say(
      `${String(count).padStart(6)} routes: ready in ${(readyMs / 1000).toFixed(2).padStart(6)} s (CPU ${(startCpuMs / 1000).toFixed(2)} s), RSS ${mb(rss).padStart(7)}, heap ${mb(heap).padStart(7)}; ingest on one route ${row.ingestPerSecond.toFixed(0).padStart(6)} req/s at ${row.ingestCpuMsPerRequest.toFixed(3)} CPU ms/req (p99 ${row.ingestP99} ms, non-2xx ${r.non2xx}); activate to traffic ${activateMs.toFixed(0)} ms; load ${row.machineLoad.toFixed(1)}`,
    );
    return row;
  } finally {
    await gateway?.stop().catch(() => undefined);
    if (ds.isInitialized) await ds.destroy();
    await db.drop();
  }
}

/**
 * Figures that grow faster than the work: a per-route cost (memory, start-up) whose increment per
 * added route rises with the count, or a per-request figure (ingest, activation) that worsens as
 * routes are added although a request's work is the same.
 */
export function fasterThanWork(rows: RoutesRow[]): string[] {
  const out: string[] = [];
  const sorted = [...rows].sort((a, b) => a.routes - b.routes);
  const perRoute: Array<[string, (r: RoutesRow) => number, (v: number) => string]> = [
    ['start-up time', (r) => r.readyMs, (v) => `${v.toFixed(2)} ms`],
    ['start-up CPU', (r) => r.startCpuMs, (v) => `${v.toFixed(2)} ms`],
    ['RSS', (r) => r.rssBytes, (v) => `${(v / 1024).toFixed(1)} KB`],
    ['heap', (r) => r.heapBytes, (v) => `${(v / 1024).toFixed(1)} KB`],
  ];
  // Each count's cost per route over the smallest count's (the process's own), against the
  // count before it: measured from one base, one noisy middle figure cannot flag the next.
  const base = sorted[0];
  for (const [name, fig, fmt] of perRoute) {
    if (!base) break;
    const perAdded = (r: RoutesRow) => (fig(r) - fig(base)) / (r.routes - base.routes);
    for (let i = 2; i < sorted.length; i++) {
      const [b, c] = [sorted[i - 1]!, sorted[i]!];
      // Noise floor: growth under 5% of the figure itself says nothing.
      if (perAdded(c) > 1.5 * Math.max(perAdded(b), 0) && fig(c) - fig(base) > 0.05 * fig(c))
        out.push(
          `${name} per route: ${fmt(perAdded(c))} with ${c.routes} routes against ${fmt(perAdded(b))} with ${b.routes} (over ${base.routes})`,
        );
    }
  }
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (first && last && last !== first) {
    if (last.ingestPerSecond < 0.8 * first.ingestPerSecond)
      out.push(
        `ingest req/s on one route: ${last.ingestPerSecond.toFixed(0)} with ${last.routes} routes against ${first.ingestPerSecond.toFixed(0)} with ${first.routes}`,
      );
    if (last.ingestCpuMsPerRequest > 1.25 * first.ingestCpuMsPerRequest)
      out.push(
        `CPU per ingest request: ${last.ingestCpuMsPerRequest.toFixed(3)} ms with ${last.routes} routes against ${first.ingestCpuMsPerRequest.toFixed(3)} with ${first.routes}`,
      );
    if (last.activateMs > 2 * first.activateMs && last.activateMs - first.activateMs > 100)
      out.push(
        `activate to traffic: ${last.activateMs.toFixed(0)} ms with ${last.routes} routes against ${first.activateMs.toFixed(0)} with ${first.routes}`,
      );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 2. Audit

export interface AuditRow {
  rows: number;
  /** Seconds to bulk-load the rows added for this size (and ANALYZE). */
  loadSeconds: number;
  /** audit_messages with its indexes, as pg_size_pretty says. */
  tableSize: string;
  writesPerSecond: number;
  machineLoad: number;
  /** Through the gateway's HTTP API, one at a time. */
  queries: Array<{ name: string; p50: number; p95: number; count: number; note: string }>;
}

async function audit(sizes: number[]): Promise<AuditRow[]> {
  const { db, ds } = await migrated('scale_audit_bench');
  await ds.destroy();
  const raw = new Pool({ connectionString: db.url, max: 4 });
  const out: AuditRow[] = [];
  try {
    let loaded = 0;
    for (const size of [...sizes].sort((a, b) => a - b)) {
      const t0 = performance.now();
      if (size > loaded) await insertAuditRows(raw, loaded + 1, size);
      loaded = Math.max(loaded, size);
      await raw.query(`ANALYZE audit_messages`);
      const loadSeconds = (performance.now() - t0) / 1000;
      const tableSize = await auditSize(raw);
      const trail = createAuditTrail({ databaseUrl: db.url });
      const written = await runOps(WRITES, 1_000, (i) => trail.recordMessage(record(i)));
      await trail.close();
      // A gateway on the loaded trail, asked as the console and REST clients ask it.
      const gateway = new GatewayProcess(await freePort(), db.url, GATEWAY_ENV);
      let times: QueryTimes[];
      try {
        await gateway.start();
        times = await auditApiQueries(gateway, raw, loaded, QUERIES);
      } finally {
        await gateway.stop().catch(() => undefined);
      }
      const row: AuditRow = {
        rows: size,
        loadSeconds,
        tableSize,
        writesPerSecond: written.perSecond,
        machineLoad: loadavg()[0]!,
        queries: times.map((q) => {
          const s = [...q.latencies].sort((a, b) => a - b);
          // None when nothing was asked (no next page on a route's hour of few rows).
          const [p50, p95] = s.length > 0 ? [percentile(s, 50), percentile(s, 95)] : [NaN, NaN];
          return { name: q.name, p50, p95, count: s.length, note: q.extra };
        }),
      };
      out.push(row);
      say(
        `audit at ${size} rows (${tableSize}, loaded in ${loadSeconds.toFixed(1)} s): group-commit writer ${written.perSecond.toFixed(0)} records/s (${WRITES}, 1000 in flight); load ${row.machineLoad.toFixed(1)}; through the HTTP API:`,
      );
      // A query never asked (no page after the first in the whole trail) shows a dash, not NaN.
      const ms = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(1)).padStart(8);
      for (const q of row.queries)
        say(
          `  ${q.name.padEnd(40)} p50 ${ms(q.p50)} ms  p95 ${ms(q.p95)} ms  (${q.count}) ${q.note}`,
        );
    }
  } finally {
    await raw.end();
    await db.drop();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 3. Scale-out on one AMQP queue

export interface AmqpRow {
  processes: number;
  messages: number;
  perSecond: number;
  gatewayCpuSecondsPerMessage: number;
  postgresCpuSecondsPerMessage: number;
  machineLoad: number;
}

async function scaleOut(): Promise<AmqpRow[]> {
  const { db, ds } = await migrated('scale_amqp_bench');
  await ds.destroy();
  const admin = new Pool({ connectionString: ADMIN_URL, max: 2 });
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createConfirmChannel();
  const input = `${RUN}.in`;
  const output = `${RUN}.out`;
  const id = `${RUN}-amqp`;
  const gateways: GatewayProcess[] = [];
  const out: AmqpRow[] = [];
  try {
    await channel.assertQueue(input, { durable: true });
    await channel.assertQueue(output, { durable: true });
    for (const processes of [1, 2]) {
      while (gateways.length < processes) {
        const g = new GatewayProcess(await freePort(), db.url, GATEWAY_ENV);
        await g.start();
        gateways.push(g);
      }
      const first = gateways[0]!;
      if (processes === 1) {
        const c = await first.api('POST', '/connections', {
          name: 'rabbit',
          type: 'amqp',
          config: { url: AMQP_URL.replace(/:[^:@/]*@/, '@'), vhost: '/' },
          secrets: { password: new URL(AMQP_URL).password || 'guest' },
        });
        if (c.status !== 201) throw new Error(`connection: ${JSON.stringify(c.body)}`);
        const r = await first.api('POST', '/routes', {
          id,
          source: { type: 'amqp', connection: 'rabbit', queue: input },
          pipeline: renamingPipeline(),
          destinations: [{ type: 'amqp', connection: 'rabbit', queue: output }],
        });
        if (r.status !== 201) throw new Error(`route: ${JSON.stringify(r.body)}`);
      }
      // Stopped everywhere while the queue fills, so every message is taken under measurement.
      const stopped = await first.api('POST', `/routes/${id}/stop`, {});
      if (stopped.status >= 300) throw new Error(`stop: ${JSON.stringify(stopped.body)}`);
      for (const g of gateways)
        await eventually(
          async () => {
            const s = (await g.api('GET', `/routes/${id}/status`)).body as { state: string };
            if (s.state === 'running') throw new Error('still running');
          },
          60_000,
          'route stopped',
        );
      await channel.purgeQueue(output);
      for (let i = 0; i < MESSAGES; i++) {
        const body = Buffer.from(JSON.stringify(order(i)));
        if (
          !channel.sendToQueue(input, body, {
            messageId: `${RUN}-${processes}-${i}`,
            persistent: true,
          })
        )
          await new Promise((r) => channel.once('drain', r));
        if (i % 5000 === 4999) await channel.waitForConfirms();
      }
      await channel.waitForConfirms();
      const cpu = () => gateways.reduce((s, g) => s + cpuMs(g.process!.child.pid!), 0);
      const cpu0 = cpu();
      const pg0 = await postgresCpu(admin, db.name);
      const t0 = performance.now();
      const started = await first.api('POST', `/routes/${id}/start`, {});
      if (started.status >= 300) throw new Error(`start: ${JSON.stringify(started.body)}`);
      await eventually(
        async () => {
          const { messageCount } = await channel.checkQueue(output);
          if (messageCount < MESSAGES) throw new Error(`${messageCount} delivered`);
        },
        600_000,
        `${MESSAGES} messages delivered`,
      );
      const seconds = (performance.now() - t0) / 1000;
      const row: AmqpRow = {
        processes,
        messages: MESSAGES,
        perSecond: MESSAGES / seconds,
        gatewayCpuSecondsPerMessage: (cpu() - cpu0) / 1000 / MESSAGES,
        postgresCpuSecondsPerMessage:
          cpuSince(pg0, await postgresCpu(admin, db.name)) / 1000 / MESSAGES,
        machineLoad: loadavg()[0]!,
      };
      out.push(row);
      say(
        `${processes} gateway process${processes > 1 ? 'es' : ''} on one queue: ${row.perSecond.toFixed(0)} msg/s; CPU per message: gateways ${(row.gatewayCpuSecondsPerMessage * 1e6).toFixed(0)} us, Postgres ${(row.postgresCpuSecondsPerMessage * 1e6).toFixed(0)} us (${MESSAGES} messages); load ${row.machineLoad.toFixed(1)}`,
      );
    }
  } finally {
    for (const g of gateways) await g.stop().catch(() => undefined);
    await channel.deleteQueue(input).catch(() => undefined);
    await channel.deleteQueue(output).catch(() => undefined);
    await connection.close().catch(() => undefined);
    await admin.end();
    await db.drop();
  }
  return out;
}

async function main(): Promise<void> {
  const result: {
    routes: RoutesRow[];
    fasterThanWork: string[];
    audit: AuditRow[];
    amqp: AmqpRow[];
  } = { routes: [], fasterThanWork: [], audit: [], amqp: [] };
  say(
    `bench:scale — node ${process.version}; gateways with ${GATEWAY_ENV.NODE_OPTIONS || '(V8 defaults)'}\n`,
  );
  if (ONLY.has('routes')) {
    for (const count of ROUTE_COUNTS) result.routes.push(await routesAt(count));
    result.fasterThanWork = fasterThanWork(result.routes);
    say(
      result.fasterThanWork.length === 0
        ? 'grows faster than the work: nothing'
        : `grows faster than the work: ${result.fasterThanWork.join('; ')}`,
    );
    const largest = result.routes.find((r) => r.routes === 10_000);
    if (largest)
      say(
        `aim, 10,000 routes ready in under 15 s and under 1 GB: ${largest.readyMs < 15_000 && largest.rssBytes < 1024 ** 3 ? 'met' : 'not met'}`,
      );
    say('');
  }
  if (ONLY.has('audit')) {
    result.audit = await audit(AUDIT_ROWS);
    say('');
  }
  if (ONLY.has('amqp')) {
    result.amqp = await scaleOut();
    const [one, two] = result.amqp;
    if (one && two) {
      const ratio = two.gatewayCpuSecondsPerMessage / one.gatewayCpuSecondsPerMessage;
      const line = `gateway CPU per message with two processes on one queue: ${(ratio * 100).toFixed(0)}% of one process's`;
      say(ratio > 1.15 ? `grows faster than the work: ${line}` : line);
      if (ratio > 1.15) result.fasterThanWork.push(line);
    }
  }
  if (JSON_OUT)
    console.log(JSON.stringify({ title: 'bench:scale', node: process.version, ...result }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
