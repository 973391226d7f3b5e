/**
 * npm run bench:amqp — a route on real RabbitMQ next to a raw amqplib pass-through measured in
 * the same run: consume with prefetch, publish with a confirm, then ack.
 *
 * Flags (after `--` with npm run): `--json` prints one JSON document; `--delivery` runs only the
 * raw baselines and the delivery-feature rows (a pass-through route with and without batched
 * confirms, with and without a priority expression onto a priority queue); `--audit` runs only the
 * raw baselines, the route without and with the audit trail, the audited route without bodies
 * (`audit: { payload: none }`), and again with one group commit at a time (pipelineDepth 1, where
 * the default sends a batch behind the one committing), all in one run; every audited row runs
 * twice (A B C C B A), the faster kept. The default run has the first two audited rows. BENCH_MESSAGES sets
 * the message count of every row (default 100000), BENCH_PREFETCH the messages in flight per
 * consumer (default 100). Each row also counts the bytes on the wire of
 * its broker connections (sent and received per message); the raw and route rows, with RabbitMQ
 * on this machine, the broker's CPU per message too (its Erlang VM's, from /proc; the drain's
 * reads count in it). An audited row's broker figure is in its cost line, over its whole run.
 *
 * Every output queue has a consumer, as a production destination queue does: a process of its
 * own (bench/drain.ts) takes and drops what lands there. RabbitMQ confirms a persistent message
 * once it is on disk or once the queue's consumers took it, whichever is first, so a queue nobody
 * reads makes every confirm wait for the disk, slower as the queue grows (to 100k deep here).
 * `--unconsumed` leaves the output queues unread, as this bench did before.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import { DataSource } from 'typeorm';
import { createAuditTrail } from '@junction/audit';
import { createTestDatabase } from '@junction/database';
import { MIGRATIONS } from '../migrations';
import {
  ConnectorPool,
  type ConnectorConnection,
  type OutboundMessage,
  type RouteSpec,
} from '@junction/connectors';
import type { Socket } from 'node:net';
import { costLine, measureAudit, onThisMachine, rabbitmqPid } from './costs';
import { processCpuSeconds } from './process-stats';
import { countWireBytes, socketBytes } from './wire-bytes';
import { startDrain, type Drain } from './drain';
import { parseRouteText } from '@junction/pipeline';
import {
  fastest,
  order,
  perMessage,
  renamingPipeline,
  report,
  runWorker,
  withBrokerCpu,
  timed,
  type Timed,
} from './route-bench';
import { rerunWithGatewayFlags } from './gateway-node';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const COUNT = Number(process.env.BENCH_MESSAGES ?? 100_000);
/** In flight per consumer, for the raw baseline and every route alike (BENCH_PREFETCH). */
const PREFETCH = Number(process.env.BENCH_PREFETCH ?? 100);
const DELIVERY_ONLY = process.argv.includes('--delivery');
const AUDIT_ONLY = process.argv.includes('--audit');
const UNCONSUMED = process.argv.includes('--unconsumed');
const RUN = `bench.${Date.now().toString(36)}`;
/** The local RabbitMQ, whose CPU per message the rows report (none when it runs elsewhere). */
const BROKER_PID = onThisMachine(new globalThis.URL(URL).hostname) ? rabbitmqPid() : null;

async function preload(channel: amqp.ConfirmChannel, queue: string): Promise<void> {
  await channel.assertQueue(queue, { durable: true });
  for (let i = 0; i < COUNT; i++) {
    const ok = channel.sendToQueue(queue, Buffer.from(JSON.stringify(order(i))), {
      messageId: `m-${i}`,
      persistent: true,
      contentType: 'application/json',
    });
    if (!ok) await new Promise((r) => channel.once('drain', r));
    if (i % 5000 === 4999) await channel.waitForConfirms();
  }
  await channel.waitForConfirms();
}

/**
 * The routes' stored connection to the broker of AMQP_URL (the one the raw rows and the drain
 * use): its password in secrets, as the gateway keeps it.
 */
function rabbitConnection(url: string): ConnectorConnection {
  const u = new globalThis.URL(url);
  const user = decodeURIComponent(u.username || 'guest');
  const path = decodeURIComponent(u.pathname.slice(1));
  return {
    name: 'rabbit',
    config: { url: `${u.protocol}//${encodeURIComponent(user)}@${u.host}`, vhost: path || '/' },
    secrets: { password: decodeURIComponent(u.password || 'guest') },
  };
}

/** The floor: what plain amqplib does for the same at-least-once pass-through (TCP_NODELAY on, as the gateway). */
async function raw(
  connection: amqp.ChannelModel,
  input: string,
  output: string,
  name: string,
): Promise<Timed> {
  const socket = (connection as unknown as { connection: { stream: Socket } }).connection.stream;
  const before = socketBytes([socket]);
  const consume = await connection.createChannel();
  const publish = await connection.createConfirmChannel();
  await publish.assertQueue(output, { durable: true });
  await consume.prefetch(PREFETCH);
  let n = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const brokerFrom = BROKER_PID === null ? null : processCpuSeconds(BROKER_PID);
  const started = process.hrtime.bigint();
  const cpuFrom = process.cpuUsage();
  await consume.consume(input, (msg) => {
    if (!msg) return;
    publish.sendToQueue(
      output,
      msg.content,
      { messageId: msg.properties.messageId, persistent: true, contentType: 'application/json' },
      (err) => {
        if (err) throw err;
        consume.ack(msg);
        if (++n === COUNT) done();
      },
    );
  });
  await finished;
  const result = withBrokerCpu(timed(name, COUNT, started, cpuFrom), BROKER_PID, brokerFrom);
  await consume.close();
  await publish.close();
  const after = socketBytes([socket]);
  return {
    ...result,
    wire: perMessage(
      { read: after.read - before.read, written: after.written - before.written },
      COUNT,
    ),
  };
}

/**
 * The delivery features, each on the same pass-through route (no stages: the connectors' cost is
 * not drowned by JSONata's): confirms one by one against batched (the default), and a priority
 * expression onto a priority queue against none. Each variant runs twice (see below).
 */
async function deliveryRows(
  channel: amqp.ConfirmChannel,
  rabbit: ConnectorConnection,
  q: (name: string) => string,
  out: (name: string, options?: amqp.Options.AssertQueue) => Promise<string>,
): Promise<Timed[]> {
  const rows: Timed[] = [];
  const variants: Array<{ tag: string; name: string; destination: Record<string, unknown> }> = [
    {
      tag: 'single',
      name: 'pass-through, confirms one by one (batch size 1)',
      destination: { batch: { size: 1 } },
    },
    { tag: 'batched', name: 'pass-through, batched confirms (default)', destination: {} },
    {
      tag: 'prio-single',
      name: 'pass-through + priority, one by one',
      destination: { maxPriority: 10, priority: 'total > 400 ? 9 : 1', batch: { size: 1 } },
    },
    {
      tag: 'prio',
      name: 'pass-through + priority, batched',
      destination: { maxPriority: 10, priority: 'total > 400 ? 9 : 1' },
    },
  ];
  // Twice, the second time in reverse order, keeping each variant's cheaper run (CPU per
  // message): a row run later gets a warmer JIT and broker, which would flatter it.
  const best = new Map<string, Timed>();
  for (const round of [variants, [...variants].reverse()]) {
    for (const variant of round) {
      const input = q(`${variant.tag}.${best.has(variant.tag) ? 2 : 1}.in`);
      await preload(channel, input);
      const row = await runWorker(
        `route: ${variant.name}`,
        {
          id: `bench-${variant.tag}`,
          source: { type: 'amqp', connection: 'rabbit', queue: input, prefetch: PREFETCH },
          destinations: [
            {
              type: 'amqp',
              connection: 'rabbit',
              queue: await out(
                `${variant.tag}.${best.has(variant.tag) ? 2 : 1}.out`,
                // Declared as the destination will (a priority queue with its maxPriority).
                { durable: true, ...pick(variant.destination, 'maxPriority') },
              ),
              ...variant.destination,
            },
          ],
        } as RouteSpec,
        rabbit,
        COUNT,
        { brokerPid: BROKER_PID },
      );
      const before = best.get(variant.tag);
      if (!before || (row.cpuUsPerMessage ?? 0) < (before.cpuUsPerMessage ?? 0))
        best.set(variant.tag, row);
    }
  }
  for (const variant of variants) rows.push(best.get(variant.tag)!);
  // The destination alone, where batching acts: in a route its share of the CPU is small.
  for (const size of [1, 100])
    rows.push(await destinationAlone(await out(`dest.${size}`), rabbit, size));
  return rows;
}

/** `{ [key]: value }` when `from` has that key, else `{}`. */
function pick(from: Record<string, unknown>, key: string): Record<string, unknown> {
  return key in from ? { [key]: from[key] } : {};
}

/** COUNT sends through an AMQP destination, PREFETCH of them in flight, as a route keeps them. */
async function destinationAlone(
  queue: string,
  rabbit: ConnectorConnection,
  size: number,
): Promise<Timed> {
  const wire = countWireBytes();
  const pool = new ConnectorPool();
  const destination = pool.destination(
    { type: 'amqp', connection: 'rabbit', queue, batch: { size } },
    rabbit,
  );
  const message = (i: number): OutboundMessage => ({
    id: `m-${i}`,
    headers: {},
    body: Buffer.from(JSON.stringify(order(i))),
  });
  await destination.send(message(-1)); // connected and declared before the clock starts
  const started = process.hrtime.bigint();
  const cpuFrom = process.cpuUsage();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < COUNT) await destination.send(message(next++));
  };
  await Promise.all(Array.from({ length: PREFETCH }, lane));
  const result = timed(
    `amqp destination alone, ${size === 1 ? 'confirms one by one' : `batched (size ${size})`}`,
    COUNT,
    started,
    cpuFrom,
  );
  await destination.close();
  await pool.close();
  return { ...result, wire: perMessage(wire.stop(), COUNT) };
}

async function main(): Promise<void> {
  // The raw baseline's connection: the best plain amqplib does, so with TCP_NODELAY as the
  // gateway's connections have (amqplib's default leaves Nagle on, which slows the baseline).
  const connection = await amqp.connect(URL, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  const rabbit = rabbitConnection(URL);
  const example = parseRouteText(
    readFileSync(join(__dirname, '..', '..', 'examples/orders-eu.route.yaml'), 'utf8'),
  ) as RouteSpec;
  const queues: string[] = [];
  const q = (name: string) => {
    queues.push(`${RUN}.${name}`);
    return `${RUN}.${name}`;
  };
  const drain: Drain | undefined = UNCONSUMED ? undefined : await startDrain(URL);
  /** An output queue, consumed by the drain process unless `--unconsumed`. */
  const out = async (name: string, options?: amqp.Options.AssertQueue) => {
    const queue = q(name);
    await drain?.consume(queue, options);
    return queue;
  };
  const rows: Timed[] = [];
  try {
    const rawIn = q('raw.in');
    await preload(channel, rawIn);
    rows.push(
      await raw(
        connection,
        rawIn,
        await out('raw.out'),
        'raw amqplib: consume, publish with confirm, ack',
      ),
    );

    if (!DELIVERY_ONLY) {
      const renameIn = q('rename.in');
      await preload(channel, renameIn);
      rows.push(
        await runWorker(
          'route: validate + filter + renaming transform + mask',
          {
            id: 'bench-rename',
            source: { type: 'amqp', connection: 'rabbit', queue: renameIn, prefetch: PREFETCH },
            pipeline: renamingPipeline(),
            destinations: [{ type: 'amqp', connection: 'rabbit', queue: await out('rename.out') }],
          },
          rabbit,
          COUNT,
          { brokerPid: BROKER_PID },
        ),
      );

      // The same route with the audit trail on: every record committed (group commit) before the ack.
      const db = await createTestDatabase('amqp_bench');
      const migrations = new DataSource({
        type: 'postgres',
        url: db.url,
        migrations: MIGRATIONS,
        migrationsTransactionMode: 'each',
      });
      try {
        await migrations.initialize();
        await migrations.runMigrations();
        // --audit: the writer's two modes in one run (the same machine load for both).
        // And the audit trail without the message bodies (route option audit.payload: none, for
        // compliance that needs only who, when, where and the body's hash): what the body costs.
        const modes: Array<{ name: string; pipelineDepth?: number; payload?: 'none' }> = [
          { name: 'route: the same, with the audit trail on' },
          { name: 'route: the same, audit trail without bodies (payload: none)', payload: 'none' },
          ...(AUDIT_ONLY
            ? [
                {
                  name: 'route: the same, audit trail with pipelineDepth 1 (one batch at a time)',
                  pipelineDepth: 1,
                },
              ]
            : []),
        ];
        // Each mode runs twice in the order A B C C B A and keeps its faster run: the audited row
        // that runs later is faster (a warmer JIT and database), which would flatter whichever
        // mode came later.
        const order = [...modes.keys(), ...[...modes.keys()].reverse()];
        const best = new Map<number, Timed>();
        for (const [run, i] of order.entries()) {
          const mode = modes[i];
          const audit = createAuditTrail({
            databaseUrl: db.url,
            pipelineDepth: mode.pipelineDepth,
          });
          await audit.ensurePartitions();
          const auditedIn = q(`audited.${run}.in`);
          await preload(channel, auditedIn);
          const meter = await measureAudit((sql) => migrations.query(sql));
          const audited = await runWorker(
            mode.name,
            {
              id: `bench-audited-${run}`,
              source: { type: 'amqp', connection: 'rabbit', queue: auditedIn, prefetch: PREFETCH },
              pipeline: renamingPipeline(),
              destinations: [
                { type: 'amqp', connection: 'rabbit', queue: await out(`audited.${run}.out`) },
              ],
              ...(mode.payload ? { audit: { payload: mode.payload } } : {}),
            },
            rabbit,
            COUNT,
            { audit: audit.messages },
          );
          audited.note = costLine(await meter.stop(audit, COUNT));
          await audit.close();
          const before = best.get(i);
          if (!before || audited.perSecond > before.perSecond) best.set(i, audited);
        }
        for (const i of modes.keys()) rows.push(best.get(i)!);
      } finally {
        await migrations.destroy().catch(() => undefined);
        await db.drop();
      }
    }
    if (!DELIVERY_ONLY && !AUDIT_ONLY) {
      const exampleIn = q('example.in');
      await preload(channel, exampleIn);
      rows.push(
        await runWorker(
          'route: examples/orders-eu (realistic mapping), one destination',
          {
            ...example,
            source: { type: 'amqp', connection: 'rabbit', queue: exampleIn, prefetch: PREFETCH },
            destinations: [{ type: 'amqp', connection: 'rabbit', queue: await out('example.out') }],
            errors: undefined,
          } as RouteSpec,
          rabbit,
          COUNT,
          { brokerPid: BROKER_PID },
        ),
      );
    }
    if (!AUDIT_ONLY) rows.push(...(await deliveryRows(channel, rabbit, q, out)));
    // Again at the end: the broker and the JIT are warm by now, and the faster raw run is the
    // baseline, so warming up cannot flatter the routes.
    const raw2In = q('raw2.in');
    await preload(channel, raw2In);
    rows.push(
      await raw(connection, raw2In, await out('raw2.out'), 'raw amqplib again, after the routes'),
    );
  } finally {
    for (const queue of queues) await channel.deleteQueue(queue).catch(() => undefined);
    await channel.close();
    await connection.close();
    await drain?.close();
  }
  report(
    `Junction AMQP bench: ${COUNT} messages of ~1 KB, prefetch ${PREFETCH}, RabbitMQ at ${URL.replace(/\/\/.*@/, '//')}, ` +
      `output queues ${UNCONSUMED ? 'not consumed (--unconsumed)' : 'consumed (a drain process takes and drops)'}`,
    rows,
    fastest(rows[0], rows[rows.length - 1]),
  );
  if (process.argv.includes('--json')) return;
  const row = (prefix: string) => rows.find((r) => r.name.startsWith(`route: ${prefix}`));
  const ratio = (a?: Timed, b?: Timed) =>
    a && b ? `${((a.perSecond / b.perSecond) * 100).toFixed(0)}%` : '-';
  const cpu = (a?: Timed, b?: Timed) =>
    a?.cpuUsPerMessage !== undefined && b?.cpuUsPerMessage !== undefined
      ? `${((a.cpuUsPerMessage / b.cpuUsPerMessage) * 100).toFixed(0)}%`
      : '-';
  console.log('\nsame run, msg/s and CPU/msg as a share of the other row:');
  if (!DELIVERY_ONLY)
    console.log(
      `audit on / audit off: ${ratio(row('the same, with the audit'), row('validate'))} msg/s`,
    );
  if (!DELIVERY_ONLY)
    console.log(
      `audit on without bodies (payload: none) / audit off: ${ratio(row('the same, audit trail without bodies'), row('validate'))} msg/s`,
    );
  if (AUDIT_ONLY) {
    console.log(
      `audit on, pipelineDepth 1 / audit off: ${ratio(row('the same, audit trail with pipelineDepth 1'), row('validate'))} msg/s`,
    );
    return;
  }
  const single = row('pass-through, confirms one');
  const batched = row('pass-through, batched');
  const prioSingle = row('pass-through + priority, one');
  const prio = row('pass-through + priority, batched');
  console.log(
    `batched / one by one: ${ratio(batched, single)} msg/s, ${cpu(batched, single)} CPU/msg (with priority: ${ratio(prio, prioSingle)}, ${cpu(prio, prioSingle)})`,
  );
  console.log(
    `priority / none: ${ratio(prio, batched)} msg/s, ${cpu(prio, batched)} CPU/msg (one by one: ${ratio(prioSingle, single)}, ${cpu(prioSingle, single)})`,
  );
  const alone = (prefix: string) =>
    rows.find((r) => r.name.startsWith(`amqp destination alone, ${prefix}`));
  console.log(
    `destination alone, batched / one by one: ${ratio(alone('batched'), alone('confirms'))} msg/s, ${cpu(alone('batched'), alone('confirms'))} CPU/msg`,
  );
}

// Under the gateway's node flags (see gateway-node.ts), or again as a child that has them.
if (!rerunWithGatewayFlags())
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
