import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { countKafkaIds } from '../libs/connectors/src/conformance/kafka-reader';
import { createTestDatabase } from '@junction/database';
import { duplicates } from './broker-readers';
import {
  eventually,
  freePort,
  GatewayProcess as Gateway,
  KAFKA_FAILOVER_ENV,
} from './gateway-process';
import { printFigure } from './figures';

/**
 * delivery: exactly-once through kill -9: a Kafka -> Kafka route is killed hard mid-stream (once
 * a read_committed reader of its output has seen K messages) and started again. The reader must
 * then see every id exactly once; the same run at-least-once loses none either, and its
 * duplicates are counted.
 */
const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const RUN = `eos${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const N = 6000;
const K = 1000;
const PARTITIONS = 2;

describe('exactly-once from Kafka to Kafka through kill -9', () => {
  let db: { url: string; drop(): Promise<void> };
  let gateway: Gateway;
  const kafka = new Kafka({ clientId: RUN, brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

  beforeAll(async () => {
    db = await createTestDatabase('eos');
    await admin.connect();
    await producer.connect();
    gateway = new Gateway(await freePort(), db.url, KAFKA_FAILOVER_ENV);
    await gateway.start();
    const created = await gateway.api('POST', '/connections', {
      name: 'kafka',
      type: 'kafka',
      config: { brokers: KAFKA_BROKERS, clientId: 'junction-eos' },
    });
    expect(created.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await gateway?.kill('SIGTERM').catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await db?.drop();
  }, 60_000);

  async function committed(groupId: string, topic: string): Promise<number> {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return offsets.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  }

  /** Runs the scenario; returns how often the reader saw each id. */
  async function killMidStream(delivery: 'exactly-once' | 'at-least-once') {
    const input = `${RUN}.${delivery}.in`;
    const output = `${RUN}.${delivery}.out`;
    await admin.createTopics({
      topics: [input, output].map((topic) => ({ topic, numPartitions: PARTITIONS })),
      waitForLeaders: true,
    });
    const ids = Array.from({ length: N }, (_, i) => `${RUN}-${delivery}-${i}`);
    for (let i = 0; i < N; i += 500)
      await producer.send({
        topic: input,
        acks: -1,
        messages: ids.slice(i, i + 500).map((id) => ({
          key: id,
          value: JSON.stringify({ id, total: 10 }),
          headers: { 'junction-id': id },
        })),
      });
    const route = {
      id: `${RUN}-${delivery === 'exactly-once' ? 'eos' : 'alo'}`,
      delivery,
      source: { type: 'kafka', connection: 'kafka', topic: input, fromBeginning: true },
      pipeline: [{ transform: '{ "id": id, "total": total }' }],
      destinations: [{ type: 'kafka', connection: 'kafka', topic: output, key: 'id' }],
    };
    const { seen, stop } = await countKafkaIds(kafka, output, { groupId: `reader-${output}` });
    try {
      expect((await gateway.api('POST', '/routes', route)).status).toBe(201);
      await eventually(
        () => {
          if (seen.size < K) throw new Error(`${seen.size} seen`);
        },
        90_000,
        `${K} committed messages on ${output}`,
      );
      await gateway.kill('SIGKILL');
      const atKill = seen.size;
      await gateway.start();
      // Every input offset committed: nothing more will be written to the output...
      await eventually(
        async () => {
          const n = await committed(`junction.${route.id}`, input);
          if (n < N) throw new Error(`${n} committed`);
        },
        180_000,
        `all ${N} input offsets committed`,
      );
      // ...and a marker behind everything on each partition shows the reader has read it all.
      await producer.send({
        topic: output,
        acks: -1,
        messages: Array.from({ length: PARTITIONS }, (_, partition) => ({
          partition,
          value: '{}',
          headers: { 'junction-id': `end-${partition}` },
        })),
      });
      await eventually(
        () => {
          for (let p = 0; p < PARTITIONS; p++)
            if (!seen.has(`end-${p}`)) throw new Error(`end-${p} not seen yet`);
        },
        60_000,
        'the end markers',
      );
      for (let p = 0; p < PARTITIONS; p++) seen.delete(`end-${p}`);
      return { seen, ids, atKill };
    } finally {
      await stop();
    }
  }

  it('exactly-once: a read_committed reader sees every id once', async () => {
    const { seen, ids, atKill } = await killMidStream('exactly-once');
    const lost = ids.filter((id) => !seen.has(id)).length;
    printFigure(
      `exactly-once after kill -9 (${atKill} committed at the kill): ${ids.length} ids, ${lost} lost, ${duplicates(seen)} duplicates`,
    );
    expect(lost).toBe(0);
    expect(duplicates(seen)).toBe(0);
    expect(seen.size).toBe(ids.length);
  }, 400_000);

  it('at-least-once, the same run: none lost, duplicates counted', async () => {
    const { seen, ids, atKill } = await killMidStream('at-least-once');
    const lost = ids.filter((id) => !seen.has(id)).length;
    printFigure(
      `at-least-once after kill -9 (${atKill} seen at the kill): ${ids.length} ids, ${lost} lost, ${duplicates(seen)} duplicates`,
    );
    expect(lost).toBe(0);
    expect(duplicates(seen)).toBeGreaterThanOrEqual(0);
  }, 400_000);
});
