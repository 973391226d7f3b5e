/**
 * Kafka record keys through a route, on the real Kafka (scripts/kafka.sh, 127.0.0.1:19092) and the
 * whole gateway: a destination that names no key sends the source record's on (records of one key
 * stay in one partition, in order, downstream), expressions read it as `$meta.key`, a dead letter
 * keeps it (to its topic and, sealed, for a replay), and a key that holds a card number is not
 * carried on.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type KafkaMessage, type Producer } from 'kafkajs';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

jest.setTimeout(90_000);

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const RUN = randomUUID().slice(0, 8);
const topic = (name: string) => `junction.keys.${RUN}.${name}`;
const INPUT = topic('in');
const OUTPUT = topic('out');
const DEAD = topic('dlq');
const EOS_INPUT = topic('eos-in');
const EOS_OUTPUT = topic('eos-out');
const BINARY_KEY = Buffer.from([0xff, 0x00, 0x9c, 0x01]);

let gw: TestGateway;
let token: string;
let admin: Admin;
let producer: Producer;
const groups: string[] = [];
const kafka = new Kafka({ clientId: `keys-${RUN}`, brokers: BROKERS, logLevel: logLevel.NOTHING });

const api = (method: string, url: string, body?: unknown): Promise<TestResponse> =>
  gw.request(method, url, { token, body });

/** Reads `topic` from the start until `count` records came (or the time is up). */
async function read(name: string, count: number): Promise<KafkaMessage[]> {
  // A group of its own each time: every read starts at the beginning.
  const groupId = `keys-reader-${randomUUID()}`;
  groups.push(groupId);
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: name, fromBeginning: true });
  const records: KafkaMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${records.length} of ${count} records on ${name}`)),
        60_000,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          records.push(message);
          if (records.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

const bodyOf = (m: KafkaMessage) => JSON.parse(m.value!.toString()) as Record<string, unknown>;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [INPUT, OUTPUT, DEAD, EOS_INPUT, EOS_OUTPUT].map((t) => ({
      topic: t,
      numPartitions: 4,
    })),
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
});

afterAll(async () => {
  await gw?.close();
  await producer?.disconnect();
  await admin
    ?.deleteGroups([...groups, `junction.keys-${RUN}`, `junction.eos-keys-${RUN}`])
    .catch(() => undefined);
  await admin
    ?.deleteTopics({ topics: [INPUT, OUTPUT, DEAD, EOS_INPUT, EOS_OUTPUT] })
    .catch(() => undefined);
  await admin?.disconnect();
});

it('sends the source key on where the destination names none, and keeps it on dead letters', async () => {
  const document = (validate: boolean) => ({
    id: `keys-${RUN}`,
    source: { type: 'kafka', connection: 'kafka', topic: INPUT, fromBeginning: true },
    pipeline: [
      ...(validate ? [{ validate: { schema: { type: 'object', required: ['id'] } } }] : []),
      // The key as expressions see it: the first six characters are enough to tell.
      { transform: '{ "id": id, "k": $substring($meta.key, 0, 6) }' },
    ],
    destinations: [{ type: 'kafka', connection: 'kafka', topic: OUTPUT }],
    errors: { deadLetter: { type: 'kafka', connection: 'kafka', topic: DEAD } },
  });
  await gw.create(token, '/api/v1/routes', document(true));
  await producer.send({
    topic: INPUT,
    acks: -1,
    messages: [
      { key: 'order-42', value: JSON.stringify({ id: 1 }) },
      { key: BINARY_KEY, value: JSON.stringify({ id: 2 }) },
      // A topic keyed by card number: the route masks bodies, the key is not carried on.
      { key: '4111111111111111', value: JSON.stringify({ id: 3 }) },
      { value: JSON.stringify({ id: 4 }) },
      { key: 'order-43', value: JSON.stringify({ no: 'id' }) },
    ],
  });
  const out = await read(OUTPUT, 4);
  const byId = new Map(out.map((m) => [bodyOf(m).id, m]));
  expect(byId.get(1)!.key!.toString()).toBe('order-42');
  expect(bodyOf(byId.get(1)!)).toEqual({ id: 1, k: 'order-' });
  expect(byId.get(2)!.key).toEqual(BINARY_KEY);
  expect(bodyOf(byId.get(2)!)).toEqual({ id: 2 }); // not UTF-8: no $meta.key
  expect(byId.get(3)!.key).toBeNull();
  // Nor do expressions see it: $meta.key is the key with the card number redacted.
  expect(bodyOf(byId.get(3)!)).toEqual({ id: 3, k: '[PAN R' });
  expect(byId.get(4)!.key).toBeNull();
  const [dead] = await read(DEAD, 1);
  expect(dead.key!.toString()).toBe('order-43');
  expect(bodyOf(dead)).toEqual({ no: 'id' });

  // The sealed copy keeps the key too: replayed through a version that takes the record, it
  // leaves with its key.
  const letters = (await api('GET', `/api/v1/dead-letters?routeId=keys-${RUN}`)).body as {
    id: string;
  }[];
  expect(letters).toHaveLength(1);
  const next = await api('PUT', `/api/v1/routes/keys-${RUN}?activate=true`, document(false));
  expect(next.status).toBe(200);
  const replayed = await api('POST', `/api/v1/dead-letters/${letters[0].id}/replay`);
  expect({ status: replayed.status, body: replayed.body }).toMatchObject({
    status: 200,
    body: { outcome: 'replayed' },
  });
  const again = await read(OUTPUT, 5);
  const replay = again.filter((m) => bodyOf(m).id === undefined);
  expect(replay.map((m) => [m.key?.toString(), bodyOf(m)])).toEqual([
    ['order-43', { k: 'order-' }],
  ]);
});

it('a dry run takes the key as a run does: $meta.key, and the key a keyless destination sends', async () => {
  const dry = async (key: string) => {
    const res = await api('POST', `/api/v1/routes/keys-${RUN}/test`, {
      message: { body: { id: 9 }, key },
    });
    expect(res.status).toBe(200);
    return (res.body as { deliveries: { key: string | null; body: unknown }[] }).deliveries[0];
  };
  expect(await dry('order-9')).toMatchObject({ key: 'order-9', body: { id: 9, k: 'order-' } });
  expect(await dry('4111111111111111')).toMatchObject({ key: null, body: { id: 9, k: '[PAN R' } });
});

it('sends the key on in an exactly-once route too', async () => {
  await gw.create(token, '/api/v1/routes', {
    id: `eos-keys-${RUN}`,
    delivery: 'exactly-once',
    source: { type: 'kafka', connection: 'kafka', topic: EOS_INPUT, fromBeginning: true },
    pipeline: [{ transform: '{ "id": id, "k": $meta.key }' }],
    destinations: [{ type: 'kafka', connection: 'kafka', topic: EOS_OUTPUT }],
  });
  await producer.send({
    topic: EOS_INPUT,
    acks: -1,
    messages: [{ key: 'order-77', value: JSON.stringify({ id: 77 }) }],
  });
  const [out] = await read(EOS_OUTPUT, 1);
  expect(out.key!.toString()).toBe('order-77');
  expect(bodyOf(out)).toEqual({ id: 77, k: 'order-77' });
});
