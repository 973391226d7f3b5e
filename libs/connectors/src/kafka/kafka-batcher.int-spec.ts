/**
 * The batcher's sends against the real broker (KAFKA_BROKERS, default scripts/kafka.sh's
 * 127.0.0.1:19092): a request the broker refuses for its size fails only the record too large.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { pinningPartitioner, producerBatchSend } from './kafka-batcher';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const RUN = randomUUID().slice(0, 8);
const kafka = new Kafka({ clientId: `batch-${RUN}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
const topic = `junction.batch.${RUN}`;

let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] },
    ],
    waitForLeaders: true,
  });
  producer = kafka.producer({
    idempotent: true,
    createPartitioner: pinningPartitioner(Partitioners.DefaultPartitioner),
  });
  await producer.connect();
}, 30_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}, 30_000);

describe('kafka batch sends', () => {
  it('a batch too large for the topic is sent again record by record: only the large one fails', async () => {
    const send = producerBatchSend(() => Promise.resolve(producer));
    const results = await send(
      ['a', 'x'.repeat(2500), 'b', 'c'].map((value) => ({ topic, message: { value } })),
    );
    expect(
      results.map((r) => (r instanceof Error ? (r as { type?: string }).type : 'sent')),
    ).toEqual(['sent', 'MESSAGE_TOO_LARGE', 'sent', 'sent']);
    const [{ high }] = await admin.fetchTopicOffsets(topic);
    expect(Number(high)).toBeGreaterThanOrEqual(3);
  });
});
