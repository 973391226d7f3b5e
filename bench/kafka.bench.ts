/**
 * npm run bench:kafka — a route on real Kafka next to a raw kafkajs pass-through measured in the
 * same run: consume, produce with acks from all replicas, then commit the offset.
 *
 * `--batching` adds the route with its connection's produce batching at lingerMs 0 and off
 * (maxMessages 1: a request per message). Each row also reports what its output topic holds on
 * the broker (bytes per message and messages per record batch, read from the broker's log
 * segments under KAFKA_DATA_DIR, default $JUNCTION_KAFKA_HOME/data or .cache/kafka/data): the
 * record batches as they were produced, so the bytes of records on the wire.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  fastest,
  order,
  renamingPipeline,
  report,
  runWorker,
  timed,
  type Timed,
} from './route-bench';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const COUNT = Number(process.env.BENCH_MESSAGES ?? 100_000);
const PARTITIONS = 4;
const RUN = `bench-${Date.now().toString(36)}`;
const BATCHING = process.argv.includes('--batching');
const DATA_DIR =
  process.env.KAFKA_DATA_DIR ?? join(process.env.JUNCTION_KAFKA_HOME ?? '.cache/kafka', 'data');

const kafka = new Kafka({ clientId: RUN, brokers: BROKERS, logLevel: logLevel.NOTHING });

async function preload(topic: string): Promise<void> {
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
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}

/**
 * The floor: the best plain kafkajs does for the same at-least-once pass-through. Partitions are
 * consumed concurrently; each fetched batch is produced in one request with acks from all
 * replicas (idempotent producer), and only then are its offsets resolved and committed. A loop
 * that produces one message at a time is not a fair floor: it made the route look faster than
 * raw (131%).
 */
async function raw(input: string, output: string, name: string): Promise<Timed> {
  const producer = kafka.producer({ idempotent: true });
  const consumer = kafka.consumer({ groupId: `${output}-raw`, maxWaitTimeInMs: 100 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let n = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
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
  const result = timed(name, COUNT, started, cpuFrom);
  await consumer.disconnect();
  await producer.disconnect();
  return result;
}

/** A row with what its output topic holds on the broker. */
type Row = Timed & { broker?: { bytesPerMessage: number; messagesPerBatch: number } };

/**
 * What `topic` holds on the broker: the bytes of its log segments and the record batches in them
 * (each batch: an 8-byte base offset, a 4-byte length, then that many bytes). Undefined when the
 * broker's data folder is not on this machine.
 */
function onBroker(topic: string): { bytes: number; batches: number } | undefined {
  let bytes = 0;
  let batches = 0;
  try {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const dir = join(DATA_DIR, `${topic}-${partition}`);
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
        const log = readFileSync(join(dir, file));
        for (let at = 0; at + 12 <= log.length; at += 12 + log.readInt32BE(at + 8)) batches += 1;
        bytes += log.length;
      }
    }
  } catch {
    return undefined;
  }
  return { bytes, batches };
}

function withBroker(row: Timed, topic: string): Row {
  const held = onBroker(topic);
  if (!held || held.batches === 0) return row;
  const broker = {
    bytesPerMessage: Math.round(held.bytes / row.messages),
    messagesPerBatch: Math.round((row.messages / held.batches) * 10) / 10,
  };
  const note = `on the broker: ${broker.bytesPerMessage} B/msg, ${broker.messagesPerBatch} msgs per record batch`;
  return { ...row, broker, note: row.note ? `${row.note}; ${note}` : note };
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const outputs = ['raw', 'route', 'linger0', 'unbatched', 'raw2'];
  const topics = ['in', ...outputs].map((t) => `${RUN}.${t}`);
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
  const [input, rawOut, routeOut, linger0Out, unbatchedOut, raw2Out] = topics;
  const rows: Row[] = [];
  /** The renaming route, its connection's batching set by `batch`; each run reads `input` in its own group. */
  const route = async (name: string, output: string, batch?: Record<string, number>) =>
    withBroker(
      await runWorker(
        name,
        {
          id: 'bench-rename',
          source: {
            type: 'kafka',
            connection: 'kafka',
            topic: input,
            groupId: `${output}-route`,
            fromBeginning: true,
          },
          pipeline: renamingPipeline(),
          destinations: [{ type: 'kafka', connection: 'kafka', topic: output, key: 'orderId' }],
        },
        {
          name: 'kafka',
          config: { brokers: BROKERS, clientId: 'junction-bench', ...(batch ? { batch } : {}) },
          secrets: {},
        },
        COUNT,
      ),
      output,
    );
  try {
    // Every run reads the same input, each in its own consumer group.
    await preload(input);
    rows.push(
      withBroker(
        await raw(input, rawOut, 'raw kafkajs: batches per partition, produce acks -1, commit'),
        rawOut,
      ),
    );
    rows.push(await route('route: validate + filter + renaming transform + mask', routeOut));
    if (BATCHING) {
      rows.push(await route('route, batching lingerMs 0', linger0Out, { lingerMs: 0 }));
      rows.push(
        await route('route, batching off (maxMessages 1)', unbatchedOut, { maxMessages: 1 }),
      );
    }
    // Again at the end: the broker and the JIT are warm by now, and the faster raw run is the
    // baseline, so warming up cannot flatter the route.
    rows.push(
      withBroker(await raw(input, raw2Out, 'raw kafkajs again, after the routes'), raw2Out),
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
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
