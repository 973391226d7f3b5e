/**
 * delivery: exactly-once against the real broker (KAFKA_BROKERS, default scripts/kafka.sh's
 * 127.0.0.1:19092): outputs and offsets commit together, an aborted transaction is invisible to
 * read_committed readers and moves no offset, and a partition's new producer fences the old one.
 */
import { randomUUID } from 'node:crypto';
import { CompressionTypes, Kafka, logLevel, type Admin } from 'kafkajs';
import { until } from '../conformance/eventually';
import { countKafkaIds } from '../conformance/kafka-reader';
import { withWideWindowZstd } from '../conformance/kafka-wide-window';
import { testLogger } from '../conformance/test-logger';
import type { ConnectorConnection, InboundMessage, Source } from '../connector';
import { ConnectorPool } from '../connector-pool';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const RUN = randomUUID().slice(0, 8);
const kafka = new Kafka({ clientId: `eos-${RUN}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
const name = `kafka-eos-${RUN}`;
const connection: ConnectorConnection = {
  name,
  config: { brokers: BROKERS, clientId: `junction-eos-${RUN}` },
  secrets: {},
};

let admin: Admin;
let pool: ConnectorPool;
let count = 0;
const topics: string[] = [];

async function freshTopic(
  partitions = 1,
  configEntries: Array<{ name: string; value: string }> = [],
): Promise<string> {
  const topic = `junction.eos.${RUN}.${++count}`;
  topics.push(topic);
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, configEntries }],
    waitForLeaders: true,
  });
  return topic;
}

async function produce(topic: string, ids: string[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: ids.map((id) => ({
      key: id,
      value: JSON.stringify({ id }),
      headers: { 'junction-id': id },
    })),
  });
  await producer.disconnect();
}

/** Reads `topic` from the start until `done` holds; how often each id came. */
async function read(
  topic: string,
  done: (seen: Map<string, number>) => boolean,
  readUncommitted = false,
): Promise<Map<string, number>> {
  const groupId = `reader-${RUN}-${randomUUID()}`;
  const { seen, stop } = await countKafkaIds(kafka, topic, { groupId, readUncommitted });
  try {
    await until(() => done(seen), `readers of ${topic}`, 30_000);
  } finally {
    await stop();
  }
  return seen;
}

async function committed(groupId: string, topic: string): Promise<string[]> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return offsets.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset);
}

/** A source of an exactly-once route whose handler relays each message to `output`. */
function relay(
  input: string,
  output: string,
  groupId: string,
  refuse: (message: InboundMessage) => boolean = () => false,
  /** The id each output goes with: the input's own, unless told otherwise. */
  idOf: (message: InboundMessage) => string = (message) => message.id!,
): { source: Source; close: () => Promise<void> } {
  const source = pool.source(
    { type: 'kafka', connection: name, topic: input, groupId, fromBeginning: true },
    connection,
    { routeId: `eos-${RUN}`, delivery: 'exactly-once' },
  );
  const destination = pool.destination(
    { type: 'kafka', connection: name, topic: output },
    connection,
  );
  void source.start(async (message) => {
    const id = idOf(message);
    await destination.send({
      id,
      headers: {},
      body: message.payload,
      key: id,
      transaction: message.transaction,
    });
    if (refuse(message)) throw new Error(`refused ${message.id}`);
  });
  return {
    source,
    close: async () => {
      await source.stop();
      await destination.close();
    },
  };
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  pool = new ConnectorPool({
    logger: testLogger(),
    kafka: { maxWaitTimeInMs: 100, heartbeatInterval: 1_000, sessionTimeout: 10_000 },
  });
}, 30_000);

afterAll(async () => {
  await pool.close();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}, 30_000);

describe('kafka exactly-once', () => {
  it('commits the outputs and the offsets together: read_committed sees each once', async () => {
    const [input, output] = [await freshTopic(2), await freshTopic(2)];
    const groupId = `${input}.group`;
    const ids = Array.from({ length: 40 }, (_, i) => `c-${i}`);
    await produce(input, ids);
    const route = relay(input, output, groupId);
    try {
      await until(
        async () => (await committed(groupId, input)).reduce((n, o) => n + Number(o), 0) === 40,
        'offsets of all 40 committed',
      );
      const seen = await read(output, (s) => ids.every((id) => s.has(id)));
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(seen.size).toBe(40);
    } finally {
      await route.close();
    }
  });

  it('a batch it cannot decode comes as one unreadable message; its dead letter and offsets commit together', async () => {
    const [input, output] = [await freshTopic(), await freshTopic()];
    const groupId = `${input}.group`;
    await produce(input, ['u-1']);
    const producer = kafka.producer();
    await producer.connect();
    try {
      await withWideWindowZstd(() =>
        producer.send({
          topic: input,
          compression: CompressionTypes.ZSTD,
          messages: [{ value: 'wide-1' }, { value: 'wide-2' }],
        }),
      );
    } finally {
      await producer.disconnect();
    }
    await produce(input, ['u-4']);
    const reasons: string[] = [];
    // As the runtime does: an unreadable message goes to the dead letters, in its transaction.
    const route = relay(input, output, groupId, undefined, (message) => {
      if (message.unreadable === undefined) return message.id!;
      reasons.push(message.unreadable);
      return `dead-${message.source.offset}`;
    });
    try {
      await until(
        async () => (await committed(groupId, input))[0] === '4',
        'offsets committed past the batch',
      );
      const seen = await read(output, (s) => s.has('u-4'));
      expect(Object.fromEntries(seen)).toEqual({ 'u-1': 1, 'dead-2': 1, 'u-4': 1 });
      expect(reasons).toEqual([
        expect.stringMatching(/^the record batch at offsets 1-2 of \S+ partition 0 \(2 records\)/),
      ]);
    } finally {
      await route.close();
    }
  });

  it('a record its destination refuses for good is marked undeliverable on the redo, not sent again', async () => {
    const input = await freshTopic();
    const output = await freshTopic(1, [{ name: 'max.message.bytes', value: '2000' }]);
    const groupId = `${input}.group`;
    await produce(input, ['t-0']);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: input,
      messages: [
        { value: JSON.stringify({ pad: 'x'.repeat(3000) }), headers: { 'junction-id': 't-1' } },
      ],
    });
    await producer.disconnect();
    await produce(input, ['t-2']);
    const source = pool.source(
      { type: 'kafka', connection: name, topic: input, groupId, fromBeginning: true },
      connection,
      { routeId: `eos-${RUN}`, delivery: 'exactly-once' },
    );
    const destination = pool.destination(
      { type: 'kafka', connection: name, topic: output },
      connection,
    );
    const sent: string[] = [];
    const undeliverable: string[] = [];
    // As the runtime does: an undeliverable message goes to the dead letters (here: the output), unsent.
    void source.start(async (message) => {
      sent.push(message.id!);
      const dead = message.undeliverable !== undefined;
      if (dead) undeliverable.push(message.undeliverable!);
      await destination.send({
        id: dead ? `dead-${message.id}` : message.id!,
        headers: {},
        body: dead ? Buffer.from('{}') : message.payload,
        transaction: message.transaction,
      });
    });
    try {
      await until(async () => (await committed(groupId, input))[0] === '3', 'offset 3');
      const seen = await read(output, (s) => s.has('t-2'));
      expect(Object.fromEntries(seen)).toEqual({ 't-0': 1, 'dead-t-1': 1, 't-2': 1 });
      // One try sent t-1 and was aborted; the redo dead-lettered it.
      expect(sent).toEqual(['t-0', 't-1', 't-0', 't-1', 't-2']);
      expect(undeliverable).toEqual([
        expect.stringMatching(/^refused by its destination .*larger than the max message size/),
      ]);
    } finally {
      await source.stop();
      await destination.close();
    }
  });

  it('a record whose dead letter is refused for good too is kept from the dead-letter destination on the next redo', async () => {
    const input = await freshTopic();
    const output = await freshTopic(1, [{ name: 'max.message.bytes', value: '2000' }]);
    const groupId = `${input}.group`;
    await produce(input, ['r-0']);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: input,
      messages: [
        { value: JSON.stringify({ pad: 'x'.repeat(3000) }), headers: { 'junction-id': 'r-1' } },
      ],
    });
    await producer.disconnect();
    await produce(input, ['r-2']);
    const source = pool.source(
      { type: 'kafka', connection: name, topic: input, groupId, fromBeginning: true },
      connection,
      { routeId: `eos-dl-${RUN}`, delivery: 'exactly-once' },
    );
    const destination = pool.destination(
      { type: 'kafka', connection: name, topic: output },
      connection,
    );
    const tries: string[] = [];
    // As the runtime does: an undeliverable message's dead letter carries its payload, here to a
    // dead-letter topic (the output) that takes no larger records; unless that was refused too.
    void source.start(async (message) => {
      tries.push(
        `${message.id}${message.undeliverable ? ' undeliverable' : ''}${message.deadLetterRefused ? ' kept' : ''}`,
      );
      if (message.deadLetterRefused !== undefined) return;
      await destination.send({
        id: message.undeliverable ? `dead-${message.id}` : message.id!,
        headers: {},
        body: message.payload,
        transaction: message.transaction,
      });
    });
    try {
      // Without the second mark, every try aborts on r-1 and offset 3 is never committed.
      await until(async () => (await committed(groupId, input))[0] === '3', 'offset 3');
      const seen = await read(output, (s) => s.has('r-2'));
      expect(Object.fromEntries(seen)).toEqual({ 'r-0': 1, 'r-2': 1 });
      expect(tries).toEqual([
        'r-0',
        'r-1',
        'r-0',
        'r-1 undeliverable',
        'r-0',
        'r-1 undeliverable kept',
        'r-2',
      ]);
    } finally {
      await source.stop();
      await destination.close();
    }
  });

  it('an aborted transaction moves no offset and its outputs stay invisible to read_committed', async () => {
    const [input, output] = [await freshTopic(), await freshTopic()];
    const groupId = `${input}.group`;
    const ids = Array.from({ length: 10 }, (_, i) => `a-${i}`);
    await produce(input, ids); // one record batch: one fetch, one transaction
    let refusals = 0;
    let refusing = true;
    const route = relay(input, output, groupId, (m) => {
      if (m.id !== 'a-5' || !refusing) return false;
      refusals += 1;
      return true;
    });
    try {
      // Two aborts, each after a-0 .. a-5 went out in the transaction.
      await until(() => refusals >= 2, 'two refusals of a-5');
      expect(await committed(groupId, input)).toEqual(['-1']);
      // A read_uncommitted reader does see the aborted copies.
      const dirty = await read(output, (s) => (s.get('a-0') ?? 0) >= 2, true);
      expect(dirty.get('a-5')).toBeGreaterThanOrEqual(2);
      refusing = false;
      await until(async () => (await committed(groupId, input))[0] === '10', 'offset 10');
      // Aborted records come before the committed ones: seeing all ten means all were read.
      const seen = await read(output, (s) => ids.every((id) => s.has(id)));
      expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
    } finally {
      await route.close();
    }
  });

  it("a partition's new producer fences the one before and aborts what it left open", async () => {
    const [input, output] = [await freshTopic(), await freshTopic()];
    const groupId = `${input}.group`;
    // A process killed mid-transaction: same transactional id, a send, no commit.
    const zombie = kafka.producer({
      transactionalId: `${groupId}.${input}.0`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await zombie.connect();
    const open = await zombie.transaction();
    await open.send({
      topic: output,
      messages: [{ value: '{}', headers: { 'junction-id': 'zombie' } }],
    });
    await produce(input, ['z-0', 'z-1']);
    const route = relay(input, output, groupId);
    try {
      // Not held back by the open transaction: it was aborted when the route's producer began.
      const seen = await read(output, (s) => s.has('z-0') && s.has('z-1'));
      expect(seen.has('zombie')).toBe(false);
      await expect(open.commit()).rejects.toThrow();
    } finally {
      await route.close();
      await zombie.disconnect();
    }
  });
});
