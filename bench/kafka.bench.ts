/**
 * npm run bench:kafka — a route on real Kafka next to a raw kafkajs pass-through measured in the
 * same run: consume, produce with acks from all replicas, then commit the offset.
 *
 * `--compression all` (or a list: `--compression none,zstd`) runs the route once per codec
 * instead, its input preloaded and its destination producing in that codec, and adds the bytes
 * per message the broker stored for the input (what the source fetched) and the output (what the
 * destination produced), read from the local broker's segment files.
 *
 * `--exactly-once` runs the route a second time with `delivery: exactly-once` (each batch's
 * outputs and offsets in one transaction), for its msg/s and CPU per message beside the
 * at-least-once run's.
 *
 * `--batching` adds the route with its connection's produce batching at lingerMs 5 (the default
 * until lingerMs 0 measured faster) and off (maxMessages 1: a request per message). Every route
 * row reports what its output topic holds on the broker (bytes per message and messages per
 * record batch, read from the local broker's segment files): the record batches as they were
 * produced, so the bytes of records on the wire. Every row reports the local broker's CPU per
 * message too (its JVM's, from /proc).
 * `--json` prints one JSON document instead, as every bench.
 *
 * Without `--compression`, the route runs once more after the other rows, warm, as the raw
 * baseline's better run is (the JIT and the broker warmed by what ran before).
 *
 * The raw baseline is plain kafkajs as npm ships it (the `kafkajs-plain` alias of the same
 * version, which patch-package leaves alone): what a hand-written consumer would run. Raw
 * kafkajs as Junction ships it (patches/kafkajs+2.2.4.patch, with its cheaper encoder) runs before
 * the routes and again after them, and the warm route against the faster of those two is printed
 * too: Junction's own cost over its client.
 */
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { Kafka as PlainKafka } from 'kafkajs-plain';
import {
  KAFKA_COMPRESSIONS,
  type KafkaCompression,
} from '../libs/connectors/src/kafka/kafka.protocol';
import {
  kafkaCompressionType,
  registerKafkaCodecs,
} from '../libs/connectors/src/kafka/kafka-codecs';
import { storedBatches } from '../libs/connectors/src/kafka/interop/kafka-broker-files';
import { kafkaPid, onThisMachine } from './costs';
import { processCpuSeconds } from './process-stats';
import {
  fastest,
  order,
  renamingPipeline,
  report,
  runWorker,
  withBrokerCpu,
  timed,
  type Timed,
} from './route-bench';
import { rerunWithGatewayFlags } from './gateway-node';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const COUNT = Number(process.env.BENCH_MESSAGES ?? 100_000);
const PARTITIONS = 4;
const RUN = `bench-${Date.now().toString(36)}`;
const EXACTLY_ONCE = process.argv.includes('--exactly-once');
const BATCHING = process.argv.includes('--batching');

const kafka = new Kafka({ clientId: RUN, brokers: BROKERS, logLevel: logLevel.NOTHING });
/** The raw rows on kafkajs as Junction ships it, against which the route's own cost is read. */
const SHIPPED = 'raw kafkajs as Junction ships it (patched)';
/** kafkajs as npm ships it, for the raw baseline (Junction's patches are in `kafka`). */
const plain = new PlainKafka({
  clientId: `${RUN}-plain`,
  brokers: BROKERS,
  logLevel: logLevel.NOTHING,
}) as unknown as Kafka;

/** The codecs of `--compression`, or none without it. */
function compressions(): KafkaCompression[] {
  const at = process.argv.indexOf('--compression');
  if (at < 0) return [];
  const value = process.argv[at + 1] ?? '';
  const list = value === 'all' ? [...KAFKA_COMPRESSIONS] : value.split(',');
  for (const c of list)
    if (!(KAFKA_COMPRESSIONS as readonly string[]).includes(c))
      throw new Error(
        `--compression: '${c}' is not one of ${KAFKA_COMPRESSIONS.join(', ')} (or all)`,
      );
  return list as KafkaCompression[];
}

/**
 * The local broker's JVM, whose CPU per message each row reports (what its fetches, produce
 * requests and commits cost the broker); none when the brokers are not on this machine.
 */
const BROKER_PID = BROKERS.every((b) => onThisMachine(b.slice(0, b.lastIndexOf(':'))))
  ? kafkaPid()
  : null;

/** Bytes per message the broker stored for a topic (record batches in its segment files). */
function storedPerMessage(topic: string): number {
  return storedBatches(topic).reduce((sum, b) => sum + b.bytes, 0) / COUNT;
}

async function preload(topic: string, compression = CompressionTypes.None): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (let i = 0; i < COUNT; i += 1000) {
    const messages = [];
    for (let j = i; j < Math.min(COUNT, i + 1000); j++) {
      messages.push({
        key: `k-${j}`,
        value: JSON.stringify(order(j)),
        headers: { 'junction-id': `m-${j}` },
      });
    }
    await producer.send({ topic, acks: -1, compression, messages });
  }
  await producer.disconnect();
}

/**
 * The floor: the best plain kafkajs does for the same at-least-once pass-through, on `client`
 * (plain kafkajs, or kafkajs as Junction ships it). Partitions are
 * consumed concurrently; each fetched batch is produced in one request with acks from all
 * replicas (idempotent producer), and only then are its offsets resolved and committed. A loop
 * that produces one message at a time is not a fair floor: it made the route look faster than
 * raw (131%).
 */
async function raw(
  input: string,
  output: string,
  name: string,
  compression = CompressionTypes.None,
  client = kafka,
): Promise<Timed> {
  const producer = client.producer({ idempotent: true });
  const consumer = client.consumer({ groupId: `${output}-raw`, maxWaitTimeInMs: 100 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let n = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const brokerFrom = BROKER_PID === null ? null : processCpuSeconds(BROKER_PID);
  const started = process.hrtime.bigint();
  const cpuFrom = process.cpuUsage();
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 100,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
      if (batch.messages.length === 0) return;
      await producer.send({
        topic: output,
        acks: -1,
        compression,
        messages: batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
      resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary();
      await heartbeat();
      n += batch.messages.length;
      if (n >= COUNT) done();
    },
  });
  await finished;
  const result = withBrokerCpu(timed(name, COUNT, started, cpuFrom), BROKER_PID, brokerFrom);
  await consumer.disconnect();
  await producer.disconnect();
  return result;
}

const CONNECTION = {
  name: 'kafka',
  config: { brokers: BROKERS, clientId: 'junction-bench' },
  secrets: {},
};

/**
 * The renaming route from `input` to `output`, its destination producing in `compression`, run in
 * this process until COUNT are delivered.
 */
function route(
  name: string,
  input: string,
  output: string,
  options: {
    compression?: KafkaCompression;
    delivery?: 'exactly-once';
    batch?: Record<string, number>;
  } = {},
) {
  const { compression, delivery, batch } = options;
  return runWorker(
    name,
    {
      id: `bench-${delivery ?? 'rename'}`,
      ...(delivery ? { delivery } : {}),
      source: {
        type: 'kafka',
        connection: 'kafka',
        topic: input,
        groupId: `${RUN}-route-${input}`,
        fromBeginning: true,
      },
      pipeline: renamingPipeline(),
      destinations: [
        { type: 'kafka', connection: 'kafka', topic: output, key: 'orderId', compression },
      ],
    },
    batch ? { ...CONNECTION, config: { ...CONNECTION.config, batch } } : CONNECTION,
    COUNT,
    { brokerPid: BROKER_PID },
  );
}

/** A route row with what its output topic holds on the broker: bytes and records per batch. */
function withBroker(row: Timed, output: string): Timed {
  let batches: { bytes: number }[];
  try {
    batches = storedBatches(output);
  } catch {
    return row; // the broker's data folder is not on this machine
  }
  if (batches.length === 0) return row;
  const bytes = batches.reduce((sum, b) => sum + b.bytes, 0);
  const broker = {
    bytesPerMessage: Math.round(bytes / row.messages),
    messagesPerBatch: Math.round((row.messages / batches.length) * 10) / 10,
  };
  const note = `on the broker: ${broker.bytesPerMessage} B/msg, ${broker.messagesPerBatch} msgs per record batch`;
  return { ...row, broker, note: row.note ? `${row.note}; ${note}` : note } as Timed;
}

/** The broker's bytes per message of a run's input and output topics, in its row. */
function withBytes(row: Timed, input: string, output: string, none?: number): Timed {
  const bytesIn = storedPerMessage(input);
  const bytesOut = storedPerMessage(output);
  return {
    ...row,
    brokerBytesInPerMessage: Math.round(bytesIn),
    brokerBytesOutPerMessage: Math.round(bytesOut),
    note:
      `broker bytes/msg: input ${bytesIn.toFixed(0)}, output ${bytesOut.toFixed(0)}` +
      (none === undefined ? '' : ` (${((bytesOut / none) * 100).toFixed(0)}% of none)`),
  } as Timed;
}

/**
 * Per codec, input preloaded in it (1000 a batch) and output produced in it: the raw kafkajs
 * pass-through (a fetched batch produced in one request: what compression gives batches), then
 * the route (one record per produce request today).
 */
async function compressionRows(codecs: KafkaCompression[], topics: string[]): Promise<Timed[]> {
  const rows: Timed[] = [];
  const none: { raw?: number; route?: number } = {};
  for (const [i, codec] of codecs.entries()) {
    const [rawIn, rawOut, routeIn, routeOut] = topics.slice(4 * i, 4 * i + 4);
    const type = kafkaCompressionType(codec);
    await preload(rawIn, type);
    const rawRow = await raw(rawIn, rawOut, `raw kafkajs, compression ${codec}`, type);
    rows.push(withBytes(rawRow, rawIn, rawOut, none.raw));
    await preload(routeIn, type);
    const routeRow = await route(`route, compression ${codec}`, routeIn, routeOut, {
      compression: codec,
    });
    rows.push(withBytes(routeRow, routeIn, routeOut, none.route));
    if (codec === 'none') {
      none.raw = storedPerMessage(rawOut);
      none.route = storedPerMessage(routeOut);
    }
  }
  return rows;
}

async function main(): Promise<void> {
  registerKafkaCodecs(); // for the preloads; the routes' clients register them too
  const codecs = compressions();
  if (codecs.length > 0) storedBatches(RUN); // fails now, not after the first run, without a local broker
  const admin = kafka.admin();
  await admin.connect();
  const topics = [
    'raw-in',
    'raw-out',
    'raw2-in',
    'raw2-out',
    ...(codecs.length === 0
      ? [
          'shipped-in',
          'shipped-out',
          'rename-in',
          'rename-out',
          ...(EXACTLY_ONCE ? ['eos-in', 'eos-out'] : []),
          ...(BATCHING ? ['linger5-in', 'linger5-out', 'unbatched-in', 'unbatched-out'] : []),
          'rename2-in',
          'rename2-out',
          'shipped2-in',
          'shipped2-out',
        ]
      : codecs.flatMap((c) => [`${c}-raw-in`, `${c}-raw-out`, `${c}-in`, `${c}-out`])),
  ].map((t) => `${RUN}.${t}`);
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
  const [rawIn, rawOut, raw2In, raw2Out] = topics;
  const rows: Timed[] = [];
  try {
    const rawClient = codecs.length === 0 ? plain : kafka;
    const rawName = codecs.length === 0 ? 'raw kafkajs from npm' : 'raw kafkajs';
    await preload(rawIn);
    rows.push(
      await raw(
        rawIn,
        rawOut,
        `${rawName}: partition batches, acks -1, commit`,
        undefined,
        rawClient,
      ),
    );
    if (codecs.length === 0) {
      const named = (name: string) => `${RUN}.${name}`;
      const shipped = async (name: string, at: string) => {
        await preload(named(`${at}-in`));
        rows.push(await raw(named(`${at}-in`), named(`${at}-out`), name));
      };
      await shipped(SHIPPED, 'shipped');
      const [renameIn, renameOut, ...more] = topics.slice(6, -4);
      const [rename2In, rename2Out] = [named('rename2-in'), named('rename2-out')];
      const routeRow = async (name: string, input: string, output: string, options = {}) => {
        await preload(input);
        rows.push(withBroker(await route(name, input, output, options), output));
      };
      await routeRow('route: validate + filter + renaming transform + mask', renameIn, renameOut);
      if (EXACTLY_ONCE) {
        const [eosIn, eosOut] = more.splice(0, 2);
        await routeRow('the same route, delivery: exactly-once', eosIn, eosOut, {
          delivery: 'exactly-once',
        });
      }
      if (BATCHING) {
        const [linger5In, linger5Out, unbatchedIn, unbatchedOut] = more;
        await routeRow('route, batching lingerMs 5', linger5In, linger5Out, {
          batch: { lingerMs: 5 },
        });
        await routeRow('route, batching off (maxMessages 1)', unbatchedIn, unbatchedOut, {
          batch: { maxMessages: 1 },
        });
      }
      // The first route row ran on a cold JIT, the raw baseline is the faster of a cold and a
      // warm run: the route again, warm, is the like-for-like figure.
      await routeRow('the same route again, warm (after the other rows)', rename2In, rename2Out);
      // Warm too, as the route's row and the baseline's better run are.
      await shipped(`${SHIPPED} again`, 'shipped2');
    } else {
      rows.push(...(await compressionRows(codecs, topics.slice(4))));
    }
    // Again at the end: the broker and the JIT are warm by now, and the faster raw run is the
    // baseline, so warming up cannot flatter the route.
    await preload(raw2In);
    rows.push(
      await raw(raw2In, raw2Out, `${rawName} again, after the routes`, undefined, rawClient),
    );
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
  report(
    `Junction Kafka bench: ${COUNT} messages of ~1 KB, ${PARTITIONS} partitions, brokers ${BROKERS.join(',')}`,
    rows,
    fastest(rows[0], rows[rows.length - 1]),
  );
  const [shipped1, shipped2] = rows.filter((r) => r.name.startsWith(SHIPPED));
  const shipped = shipped1 && shipped2 ? fastest(shipped1, shipped2) : undefined;
  const warm = rows.find((r) => r.name.startsWith('the same route again, warm'));
  if (shipped && warm && !process.argv.includes('--json'))
    console.log(
      `\nthe warm route / raw kafkajs as Junction ships it, the faster run (its own cost over its client): ${((warm.perSecond / shipped.perSecond) * 100).toFixed(0)}%`,
    );
}

// Under the gateway's node flags (see gateway-node.ts), or again as a child that has them.
if (!rerunWithGatewayFlags())
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
