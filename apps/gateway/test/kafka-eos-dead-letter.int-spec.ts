/**
 * An exactly-once route whose dead-letter destination refuses for a reason that is not the record
 * (here a dead-letter topic that does not exist and cannot be made: its name collides with a
 * topic's that differs only by '.' for '_', so the broker will not create it), on the real Kafka
 * (scripts/kafka.sh, KAFKA_BROKERS, default 127.0.0.1:19092) and the whole gateway: nothing is
 * committed past the message (none lost), the dead-letter table does not fill with a row per try,
 * the route says it is degraded and why (no card number), a metric counts the refusals, and once
 * the topic can be made the dead letter goes there once and the route runs on by itself.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { countKafkaIds } from '../../../libs/connectors/src/conformance/kafka-reader';
import { until } from '../../../libs/connectors/src/conformance/eventually';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

jest.setTimeout(180_000);

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const RUN = randomUUID().slice(0, 8);
const ROUTE = `eos-dlq-${RUN}`;
const GROUP = `junction.${ROUTE}`;
const INPUT = `junction.eosdlq.${RUN}.in`;
const OUTPUT = `junction.eosdlq.${RUN}.out`;
const DEAD = `junction_eosdlq_${RUN}_dead`;
/** Kafka will not make DEAD while this one exists (topic names collide modulo '.' and '_'). */
const BLOCKER = `junction.eosdlq.${RUN}.dead`;
const PAN = '4111111111111111';

let gw: TestGateway;
let token: string;
let admin: Admin;
let producer: Producer;
const kafka = new Kafka({
  clientId: `eosdlq-${RUN}`,
  brokers: BROKERS,
  logLevel: logLevel.NOTHING,
});
const readers: string[] = [];

const api = (method: string, url: string, body?: unknown): Promise<TestResponse> =>
  gw.request(method, url, { token, body });

interface Status {
  state: string;
  reason: string | null;
  since: string | null;
}

async function status(): Promise<Status> {
  return (await api('GET', `/api/v1/routes/${ROUTE}/status`)).body as Status;
}

/** A metric's value for this route (0 when absent). */
async function metric(name: string): Promise<number> {
  const text = (await gw.request('GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{route="${ROUTE}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The group's committed offset of the input's one partition ('-1': none). */
async function committed(): Promise<string> {
  const [topic] = await admin.fetchOffsets({ groupId: GROUP, topics: [INPUT] });
  return topic?.partitions[0]?.offset ?? '-1';
}

async function deadLetterRows(): Promise<number> {
  const res = await api('GET', `/api/v1/dead-letters?routeId=${ROUTE}`);
  expect(res.status).toBe(200);
  return (res.body as unknown[]).length;
}

/** Reads `topic` read_committed from the start until `done`; how often each junction-id came. */
async function read(
  topic: string,
  done: (seen: Map<string, number>) => boolean,
): Promise<Map<string, number>> {
  const groupId = `eosdlq-reader-${randomUUID()}`;
  readers.push(groupId);
  const { seen, stop } = await countKafkaIds(kafka, topic, { groupId });
  try {
    await until(() => done(seen), `records on ${topic}`, 60_000);
  } finally {
    await stop();
  }
  return seen;
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [INPUT, OUTPUT, BLOCKER].map((topic) => ({ topic, numPartitions: 1 })),
    waitForLeaders: true,
  });
  producer = kafka.producer();
  await producer.connect();
  gw = await startTestGateway();
  token = await gw.login('admin', gw.adminPassword);
  await gw.create(token, '/api/v1/connections', {
    name: 'kafka',
    type: 'kafka',
    config: { brokers: BROKERS },
  });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await producer?.disconnect();
  await admin?.deleteGroups([...readers, GROUP]).catch(() => undefined);
  await admin?.deleteTopics({ topics: [INPUT, OUTPUT, DEAD, BLOCKER] }).catch(() => undefined);
  await admin?.disconnect();
}, 60_000);

it('holds the message, says so and counts it while the dead-letter topic cannot be made; goes on by itself once it can', async () => {
  await gw.create(token, '/api/v1/routes', {
    id: ROUTE,
    delivery: 'exactly-once',
    source: { type: 'kafka', connection: 'kafka', topic: INPUT, fromBeginning: true },
    pipeline: [{ validate: { schema: { type: 'object', required: ['id'] } } }],
    destinations: [{ type: 'kafka', connection: 'kafka', topic: OUTPUT }],
    errors: { deadLetter: { type: 'kafka', connection: 'kafka', topic: DEAD } },
  });
  await producer.send({
    topic: INPUT,
    acks: -1,
    messages: [
      { value: JSON.stringify({ id: 'ok-0' }), headers: { 'junction-id': 'ok-0' } },
      // No id: the route dead-letters it. The card number must reach no status or metric.
      { value: JSON.stringify({ card: PAN }), headers: { 'junction-id': 'bad-1' } },
      { value: JSON.stringify({ id: 'ok-2' }), headers: { 'junction-id': 'ok-2' } },
    ],
  });

  // Before: kafkajs retried the dead letter's send inside the transaction for ever, and the
  // route said it was running.
  await until(async () => (await status()).state === 'degraded', 'the route degraded', 90_000);
  const degraded = await status();
  expect(degraded.reason).toContain(DEAD);
  expect(degraded.reason).toMatch(/dead-letter destination refuses/);
  expect(degraded.reason).toMatch(
    new RegExp(`${INPUT.replace(/\./g, '\\.')} partition 0 offset 1`),
  );
  expect(JSON.stringify(degraded)).not.toContain(PAN);
  expect(await metric('junction_route_degraded')).toBe(1);
  expect(await metric('junction_route_running')).toBe(1);
  // Tried again, after a pause, and counted each time.
  await until(
    async () => (await metric('junction_dead_letter_failures_total')) >= 2,
    'a second refusal',
    90_000,
  );
  const listed = await api('GET', '/api/v1/routes');
  expect(JSON.stringify(listed.body)).not.toContain(PAN);
  // Nothing committed past the message: its whole transaction waits.
  expect(await committed()).toBe('-1');
  // No dead-letter row per try: at most the one of the try under way.
  expect(await deadLetterRows()).toBeLessThanOrEqual(1);
  expect((await status()).since).toBe(degraded.since);

  // The cause goes away: the dead-letter topic can be made now.
  await admin.deleteTopics({ topics: [BLOCKER] });
  await until(async () => (await committed()) === '3', 'offsets committed past all 3', 120_000);
  await until(async () => (await status()).state === 'running', 'the route running again');
  expect(await metric('junction_route_degraded')).toBe(0);
  expect(await deadLetterRows()).toBe(1);
  const out = await read(OUTPUT, (s) => s.has('ok-2'));
  expect(Object.fromEntries(out)).toEqual({ 'ok-0': 1, 'ok-2': 1 });
  const dead = await read(DEAD, (s) => s.size > 0);
  expect(Object.fromEntries(dead)).toEqual({ 'bad-1': 1 });
});
