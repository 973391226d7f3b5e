/**
 * npm run bench:http — HTTP ingest against its baselines, each server its own process, loaded
 * by autocannon from this one (50 connections, the ~1 KB example order as body):
 *
 *   1. bare Fastify: parses the JSON body and answers 202;
 *   2. Fastify + one INSERT of the body into Postgres (a pool of 10, a scratch database);
 *   3. Junction async ingest: validate + filter + transform + mask, one AMQP destination on the
 *      local RabbitMQ, the audit trail on (the built gateway, `npm run build`, on a scratch database);
 *      the destination queue has a consumer (this process takes and drops what comes);
 *   4. the same route in sync mode (200 with the result);
 *   5. the async route with `auth: apiKey` (the default of an HTTP source), posted with an X-API-Key;
 *   6. the async route again, its destination queue not consumed (it fills up during a row).
 *
 * Each at max load (autocannon, a closed loop on every connection) and at fixed offered loads
 * (open-load.ts: evenly spaced arrivals, latency from each request's due time), after a warm-up. Per row:
 * req/s, the server process's CPU ms per request (from /proc), the CPU of the Postgres backends
 * of its database per request, latency p50/p99/p99.9 and the non-2xx answers.
 *
 * BENCH_DURATION (s, default 20), BENCH_RATES (default 1000,3000), BENCH_WARMUP (s, default 3),
 * AMQP_URL. `--json`: one JSON document instead of the table.
 *
 * BENCH_GATEWAY_NODE_OPTIONS: the gateway's NODE_OPTIONS, by default the flags `npm start` and the
 * image pass to node (gateway-node.ts: `--max-semi-space-size=32`); empty for V8's defaults.
 *
 * BENCH_COMPARE_ROOT: a second checkout's root (its bin/ and a built dist/, e.g. main's build) whose
 * gateway runs the Junction rows too, first, named with BENCH_COMPARE_LABEL (default "before"):
 * a change's before and after from one run, on one machine's load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import * as amqp from 'amqplib';
import { Pool } from 'pg';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import type { RouteSpec } from '@junction/connectors';
import { freePort, GatewayProcess } from '../test/gateway-process';
import { openLoad } from './open-load';
import { GATEWAY_NODE_FLAGS } from './gateway-node';
import { cpuMs, cpuSince, postgresCpu } from './process-stats';
import { order, renamingPipeline } from './route-bench';

const DURATION = Number(process.env.BENCH_DURATION ?? 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const RATES = (process.env.BENCH_RATES ?? '1000,3000').split(',').map(Number);
const CONNECTIONS = 50;
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const ADMIN_URL =
  process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUN = `bench-http-${Date.now().toString(36)}`;
const BODY = JSON.stringify(order(1));
const COMPARE_ROOT = process.env.BENCH_COMPARE_ROOT;
const COMPARE_LABEL = process.env.BENCH_COMPARE_LABEL ?? 'before';
const GATEWAY_NODE_OPTIONS = process.env.BENCH_GATEWAY_NODE_OPTIONS ?? GATEWAY_NODE_FLAGS.join(' ');

interface Target {
  name: string;
  url: string;
  pid: number;
  /** The scratch database whose backends' CPU is counted, if the server writes to Postgres. */
  database?: string;
  /** Sent with every request (an X-API-Key). */
  headers?: Record<string, string>;
  /** Run before each measured row: empties what the rows before it left (the destination queue). */
  reset?: () => Promise<unknown>;
}

export interface HttpRow {
  name: string;
  load: string;
  requests: number;
  perSecond: number;
  cpuMsPerRequest: number;
  /** The server's CPU over the run's wall time: near 1 is one saturated main thread. */
  serverCores: number;
  postgresCpuMsPerRequest: number | null;
  p50: number;
  p99: number;
  p999: number;
  non2xx: number;
  errors: number;
}

/** One autocannon run against `url`: 50 connections, as fast as it answers (or at autocannon's bursty `rate`). */
export function load(
  url: string,
  seconds: number,
  rate?: number,
  body = BODY,
  headers: Record<string, string> = {},
): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    connections: CONNECTIONS,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
  });
}

async function measure(admin: Pool, target: Target, rate?: number): Promise<HttpRow> {
  const pg = () =>
    target.database ? postgresCpu(admin, target.database) : Promise.resolve(new Map());
  const cpu0 = cpuMs(target.pid);
  const pg0 = await pg();
  // Max load: autocannon's closed loop at full concurrency. A fixed load: evenly spaced arrivals.
  const r = rate
    ? await openLoad(target.url, DURATION, rate, BODY, target.headers ?? {}, CONNECTIONS)
    : await load(target.url, DURATION, undefined, BODY, target.headers).then((a) => ({
        ...a,
        errors: a.errors + a.timeouts,
      }));
  const cpu = cpuMs(target.pid) - cpu0;
  const pgCpu = cpuSince(pg0, await pg());
  const ok = r['2xx'];
  return {
    name: target.name,
    load: rate ? `${rate}/s` : 'max',
    requests: ok,
    perSecond: ok / r.duration,
    cpuMsPerRequest: cpu / Math.max(ok, 1),
    serverCores: cpu / (r.duration * 1000),
    postgresCpuMsPerRequest: target.database ? pgCpu / Math.max(ok, 1) : null,
    p50: r.latency.p50,
    p99: r.latency.p99,
    p999: r.latency.p99_9,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

/** A baseline server (http-baseline-server.ts) as a child process, once it listens. */
async function baselineServer(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(__dirname, 'http-baseline-server.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`baseline server ${args[0]} exited (${code})`)));
  });
  return { child, port };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function route(
  id: string,
  mode: 'async' | 'sync',
  queue: string,
  auth: 'none' | 'apiKey' = 'none',
): RouteSpec {
  return {
    id,
    source: { type: 'http', path: `bench/${id}`, mode, auth },
    pipeline: renamingPipeline(),
    destinations: [{ type: 'amqp', connection: 'rabbit', queue }],
  };
}

async function runTarget(admin: Pool, target: Target, rows: HttpRow[]): Promise<void> {
  if (WARMUP > 0) await load(target.url, WARMUP, undefined, BODY, target.headers);
  await target.reset?.();
  rows.push(await measure(admin, target));
  for (const rate of RATES) {
    await target.reset?.();
    rows.push(await measure(admin, target, rate));
  }
}

function print(rows: HttpRow[]): void {
  const bare = rows.find((r) => r.load === 'max')!;
  if (process.argv.includes('--json')) {
    console.log(
      JSON.stringify({
        title: 'bench:http',
        node: process.version,
        durationSeconds: DURATION,
        gatewayNodeOptions: GATEWAY_NODE_OPTIONS,
        connections: CONNECTIONS,
        baseline: bare.name,
        rows: rows.map((r) => ({
          ...r,
          ratioToBaseline:
            r.load === 'max' ? Number((r.perSecond / bare.perSecond).toFixed(4)) : undefined,
        })),
      }),
    );
    return;
  }
  console.log(
    `bench:http — node ${process.version}; ${CONNECTIONS} connections, ${DURATION} s per row; baseline: ${bare.name}; gateway NODE_OPTIONS: ${GATEWAY_NODE_OPTIONS || '(none)'}\n`,
  );
  console.log(
    `${'server'.padEnd(50)} ${'load'.padStart(7)} ${'req/s'.padStart(8)} ${'vs bare'.padStart(7)} ${'cpu ms/req'.padStart(10)} ${'cores'.padStart(5)} ${'pg ms/req'.padStart(9)} ${'p50'.padStart(6)} ${'p99'.padStart(6)} ${'p99.9'.padStart(6)} ${'non2xx'.padStart(6)}`,
  );
  for (const r of rows)
    console.log(
      `${r.name.padEnd(50)} ${r.load.padStart(7)} ${r.perSecond.toFixed(0).padStart(8)} ${
        r.load === 'max'
          ? `${((r.perSecond / bare.perSecond) * 100).toFixed(0)}%`.padStart(7)
          : ''.padStart(7)
      } ${r.cpuMsPerRequest.toFixed(3).padStart(10)} ${r.serverCores.toFixed(2).padStart(5)} ${(r.postgresCpuMsPerRequest === null ? '-' : r.postgresCpuMsPerRequest.toFixed(3)).padStart(9)} ${r.p50.toFixed(1).padStart(6)} ${r.p99.toFixed(1).padStart(6)} ${r.p999.toFixed(1).padStart(6)} ${String(r.non2xx + r.errors).padStart(6)}`,
    );
  console.log(
    "\nlatencies in ms; cpu: the server process (cores: its CPU over wall time); pg: its database's backends",
  );
  // This build's rows (a compared build's are named with its label in brackets).
  const junction = (what: string, load: string, compared = false) =>
    rows.find(
      (r) =>
        r.name.startsWith(`Junction ${what} (`) &&
        r.name.includes(' [') === compared &&
        r.load === load,
    );
  const asyncMax = junction('async ingest', 'max');
  const insertMax = rows.find((r) => r.name.includes('INSERT') && r.load === 'max');
  const async1k = junction('async ingest', '1000/s');
  for (const mode of [
    'async ingest',
    'sync ingest',
    'async ingest, X-API-Key',
    'async ingest, queue not consumed',
  ])
    for (const load of ['max', ...RATES.map((rate) => `${rate}/s`)]) {
      const before = junction(mode, load, true);
      const after = junction(mode, load);
      if (before && after)
        console.log(
          `${mode} ${load}: cpu ms/req ${before.cpuMsPerRequest.toFixed(3)} -> ${after.cpuMsPerRequest.toFixed(3)} (${((after.cpuMsPerRequest / before.cpuMsPerRequest) * 100).toFixed(0)}%), req/s ${before.perSecond.toFixed(0)} -> ${after.perSecond.toFixed(0)}, p99 ${before.p99} -> ${after.p99} ms`,
        );
    }
  if (asyncMax && insertMax)
    console.log(
      `aim, async ingest >= Fastify + INSERT: ${((asyncMax.perSecond / insertMax.perSecond) * 100).toFixed(0)}% (${asyncMax.perSecond >= insertMax.perSecond ? 'met' : 'not met'})`,
    );
  if (async1k)
    console.log(
      `aim, async ingest p99 under 20 ms at 1,000 req/s: ${async1k.p99.toFixed(1)} ms (${async1k.p99 < 20 ? 'met' : 'not met'})`,
    );
}

async function main(): Promise<void> {
  const admin = new Pool({ connectionString: ADMIN_URL, max: 2 });
  const rows: HttpRow[] = [];
  let db: TestDatabase | undefined;
  let gateway: GatewayProcess | undefined;
  const amqpConnection = await amqp.connect(AMQP_URL);
  const channel = await amqpConnection.createChannel();
  const queues: string[] = [];
  try {
    db = await createTestDatabase('http_bench');

    const bare = await baselineServer(['bare']);
    await runTarget(
      admin,
      {
        name: 'bare Fastify (parse JSON, answer)',
        url: `http://127.0.0.1:${bare.port}/ingest`,
        pid: bare.child.pid!,
      },
      rows,
    );
    await stopChild(bare.child);

    const insert = await baselineServer(['insert', db.url]);
    await runTarget(
      admin,
      {
        name: 'Fastify + one INSERT of the body',
        url: `http://127.0.0.1:${insert.port}/ingest`,
        pid: insert.child.pid!,
        database: db.name,
      },
      rows,
    );
    await stopChild(insert.child);

    const builds: Array<{ root?: string; label: string }> = [
      ...(COMPARE_ROOT ? [{ root: COMPARE_ROOT, label: ` [${COMPARE_LABEL}]` }] : []),
      { label: '' },
    ];
    for (const build of builds) {
      gateway = new GatewayProcess(
        await freePort(),
        db.url,
        GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: GATEWAY_NODE_OPTIONS } : {},
        build.root,
      );
      await gateway.start();
      await benchGateway(admin, gateway, db.name, build.label, channel, queues, rows);
      await gateway.stop();
      gateway = undefined;
    }
  } finally {
    await gateway?.stop().catch(() => undefined);
    for (const q of queues) await channel.deleteQueue(q).catch(() => undefined);
    await amqpConnection.close().catch(() => undefined);
    await db?.drop();
    await admin.end();
  }
  print(rows);
}

/** The Junction rows on one running gateway: its AMQP connection, an async and a sync route. */
async function benchGateway(
  admin: Pool,
  gateway: GatewayProcess,
  database: string,
  label: string,
  channel: amqp.Channel,
  queues: string[],
  rows: HttpRow[],
): Promise<void> {
  const created = await gateway.api('POST', '/connections', {
    name: 'rabbit',
    type: 'amqp',
    config: { url: AMQP_URL.replace(/:[^:@/]*@/, '@'), vhost: '/' },
    secrets: { password: new URL(AMQP_URL).password || 'guest' },
  });
  // A second build on the same database finds the connection stored already.
  if (created.status !== 201 && created.status !== 409)
    throw new Error(`connection: ${JSON.stringify(created.body)}`);
  const key = await gateway.api('POST', '/api-keys', { name: `bench${label}`, roles: ['ingest'] });
  if (key.status !== 201) throw new Error(`api key: ${JSON.stringify(key.body)}`);
  const apiKey = { 'x-api-key': (key.body as { key: string }).key };
  // The destination queue has a consumer, as a production queue does (here one that takes and
  // drops): RabbitMQ confirms a persistent message once it is on disk or once its consumer has
  // taken it, whichever comes first. The last variant leaves the queue unconsumed: every confirm
  // waits for the disk, and a queue grown tens of thousands deep confirms slower (a raw amqplib
  // publisher at 1,000/s: p99 19 ms on a 40k-deep queue against 6 ms on an empty one).
  const variants = [
    { mode: 'async', auth: 'none', what: 'async ingest', consumed: true },
    { mode: 'sync', auth: 'none', what: 'sync ingest', consumed: true },
    { mode: 'async', auth: 'apiKey', what: 'async ingest, X-API-Key', consumed: true },
    { mode: 'async', auth: 'none', what: 'async ingest, queue not consumed', consumed: false },
  ] as const;
  for (const { mode, auth, what, consumed } of variants) {
    const id = `${RUN}-${mode}-${auth.toLowerCase()}${consumed ? '' : '-unconsumed'}${label ? `-${queues.length}` : ''}`;
    const queue = `${id}.q`;
    queues.push(queue);
    const res = await gateway.api('POST', '/routes', route(id, mode, queue, auth));
    if (res.status !== 201) throw new Error(`route ${id}: ${JSON.stringify(res.body)}`);
    const url = `${gateway.base}/ingest/bench/${id}`;
    const headers = auth === 'apiKey' ? apiKey : {};
    await waitAccepted(url, headers);
    const consumer = consumed
      ? await channel.consume(queue, () => undefined, { noAck: true })
      : undefined;
    await runTarget(
      admin,
      {
        name: `Junction ${what} (4 stages, AMQP, audit on)${label}`,
        url,
        pid: gateway.process!.child.pid!,
        database,
        headers,
        // Each row starts on an empty queue (what an unconsumed queue kept is not its concern).
        reset: () => channel.purgeQueue(queue),
      },
      rows,
    );
    if (consumer) await channel.cancel(consumer.consumerTag);
    await channel.purgeQueue(queue);
  }
}

/** Polls until the route takes a request (its worker runs). */
async function waitAccepted(url: string, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: BODY,
    });
    await res.arrayBuffer();
    if (res.ok) return;
    if (Date.now() > deadline) throw new Error(`${url} answers ${res.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (require.main === module)
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
