/**
 * npm run bench:kafka — a route on real Kafka next to a raw kafkajs pass-through measured in the
 * same run: consume, produce with acks from all replicas, then commit the offset.
 *
 * `npm run bench:kafka -- --exactly-once` runs the route a second time with `delivery:
 * exactly-once` (each batch's outputs and offsets in one transaction), for its msg/s and CPU per
 * message beside the at-least-once run's. `--json` prints one JSON document instead.
 */
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
const EXACTLY_ONCE = process.argv.includes('--exactly-once');
const CONNECTION = {
  name: 'kafka',
  config: { brokers: BROKERS, clientId: 'junction-bench' },
  secrets: {},
};

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
  const consumer = kafka.consumer({ groupId: `${RUN}-${input}`, maxWaitTimeInMs: 100 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let n = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const started = process.hrtime.bigint();
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
  const result = timed(name, COUNT, started);
  await consumer.disconnect();
  await producer.disconnect();
  return result;
}

/** The renaming route from `input` to `output`, run in this process until COUNT are delivered. */
function route(
  name: string,
  input: string,
  output: string,
  delivery?: 'exactly-once',
): Promise<Timed> {
  return runWorker(
    name,
    {
      id: `bench-${delivery ?? 'rename'}`,
      ...(delivery ? { delivery } : {}),
      source: {
        type: 'kafka',
        connection: 'kafka',
        topic: input,
        groupId: `${RUN}-${input}`,
        fromBeginning: true,
      },
      pipeline: renamingPipeline(),
      destinations: [{ type: 'kafka', connection: 'kafka', topic: output, key: 'orderId' }],
    },
    CONNECTION,
    COUNT,
  );
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const topics = [
    'raw-in',
    'raw-out',
    'rename-in',
    'rename-out',
    'raw2-in',
    'raw2-out',
    ...(EXACTLY_ONCE ? ['eos-in', 'eos-out'] : []),
  ].map((t) => `${RUN}.${t}`);
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
  const [rawIn, rawOut, renameIn, renameOut, raw2In, raw2Out, eosIn, eosOut] = topics;
  const rows: Timed[] = [];
  try {
    await preload(rawIn);
    rows.push(
      await raw(rawIn, rawOut, 'raw kafkajs: batches per partition, produce acks -1, commit'),
    );
    await preload(renameIn);
    rows.push(
      await route('route: validate + filter + renaming transform + mask', renameIn, renameOut),
    );
    if (EXACTLY_ONCE) {
      await preload(eosIn);
      rows.push(
        await route('the same route, delivery: exactly-once', eosIn, eosOut, 'exactly-once'),
      );
    }
    // Again at the end: the broker and the JIT are warm by now, and the faster raw run is the
    // baseline, so warming up cannot flatter the route.
    await preload(raw2In);
    rows.push(await raw(raw2In, raw2Out, 'raw kafkajs again, after the routes'));
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
