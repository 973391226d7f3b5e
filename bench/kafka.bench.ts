/**
 * npm run bench:kafka — a route on real Kafka next to a raw kafkajs pass-through measured in the
 * same run: consume, produce with acks from all replicas, then commit the offset.
 */
import { Kafka, logLevel } from 'kafkajs';
import { order, renamingPipeline, report, runWorker, timed, type Timed } from './route-bench';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const COUNT = Number(process.env.BENCH_MESSAGES ?? 100_000);
const PARTITIONS = 4;
const RUN = `bench-${Date.now().toString(36)}`;

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
 * The floor: plain kafkajs doing the same at-least-once pass-through, partitions in parallel,
 * committing handled offsets every 100 ms (kafkajs autoCommit commits only offsets whose
 * eachMessage resolved), as the route's source does. A commit per message would cost a
 * coordinator round trip each and make a far slower, unfair baseline.
 */
async function raw(input: string, output: string): Promise<Timed> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `${RUN}-raw`, maxWaitTimeInMs: 100 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let n = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const started = process.hrtime.bigint();
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 100,
    partitionsConsumedConcurrently: PARTITIONS,
    eachMessage: async ({ message }) => {
      await producer.send({
        topic: output,
        acks: -1,
        messages: [{ key: message.key, value: message.value, headers: message.headers }],
      });
      if (++n === COUNT) done();
    },
  });
  await finished;
  const result = timed('raw kafkajs: consume, produce acks -1, commit (100 ms)', COUNT, started);
  await consumer.disconnect();
  await producer.disconnect();
  return result;
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const topics = ['raw-in', 'raw-out', 'rename-in', 'rename-out'].map((t) => `${RUN}.${t}`);
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
  const [rawIn, rawOut, renameIn, renameOut] = topics;
  const rows: Timed[] = [];
  try {
    await preload(rawIn);
    rows.push(await raw(rawIn, rawOut));
    await preload(renameIn);
    rows.push(
      await runWorker(
        'route: validate + filter + renaming transform + mask',
        {
          id: 'bench-rename',
          source: {
            type: 'kafka',
            connection: 'kafka',
            topic: renameIn,
            groupId: `${RUN}-route`,
            fromBeginning: true,
          },
          pipeline: renamingPipeline(),
          destinations: [{ type: 'kafka', connection: 'kafka', topic: renameOut, key: 'orderId' }],
        },
        { name: 'kafka', config: { brokers: BROKERS, clientId: 'junction-bench' }, secrets: {} },
        COUNT,
      ),
    );
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
  report(
    `Junction Kafka bench: ${COUNT} messages of ~1 KB, ${PARTITIONS} partitions, brokers ${BROKERS.join(',')}`,
    rows,
    rows[0],
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
