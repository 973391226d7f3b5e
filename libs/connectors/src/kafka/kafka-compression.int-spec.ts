/**
 * Kafka compression against the real broker and Kafka's own Java client: a Junction destination
 * produces each codec, which the broker stores as such and both a Junction source and the Java
 * consumer read back; and a Junction source reads what the Java producer compressed with each.
 * The Java side runs from the broker's jars (scripts/kafka.sh jars), found as that script finds
 * them: JUNCTION_KAFKA_HOME, default <repo>/.cache/kafka.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CompressionTypes, Kafka, logLevel, type Admin } from 'kafkajs';
import type { KafkaCompression } from './kafka.protocol';
import { kafkaClassPath, storedBatches } from './interop/kafka-broker-files';
import { until } from '../conformance/eventually';
import { withWideWindowZstd } from '../conformance/kafka-wide-window';
import { connectKafkaAdmin } from '../conformance/kafka-admin';
import { testLogger } from '../conformance/test-logger';
import type { ConnectorConnection, InboundMessage } from '../connector';
import { ConnectorPool } from '../connector-pool';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const RUN = randomUUID().slice(0, 8);
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
const COUNT = 20;
const execFileAsync = promisify(execFile);

/** Runs interop/KafkaInterop.java with Kafka's Java client; its stdout. */
async function java(...args: string[]): Promise<string> {
  const program = join(__dirname, 'interop', 'KafkaInterop.java');
  const { stdout } = await execFileAsync('java', ['-cp', kafkaClassPath(), program, ...args], {
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** The Java consumer's "<topic>\t<value>" lines, by topic. */
function byTopic(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const topic = line.slice(0, tab);
    out.set(topic, [...(out.get(topic) ?? []), line.slice(tab + 1)]);
  }
  return out;
}

let admin: Admin;
let pool: ConnectorPool;
const topics: string[] = [];
const groups: string[] = [];
const connection: ConnectorConnection = {
  name: `kafka-compression-${RUN}`,
  config: { brokers: BROKERS, clientId: `junction-test-${RUN}` },
  secrets: {},
};

async function freshTopics(count: number): Promise<string[]> {
  const created = Array.from(
    { length: count },
    (_, i) => `junction.test.${RUN}.compression.${topics.length + i}`,
  );
  topics.push(...created);
  await admin.createTopics({
    topics: created.map((topic) => ({ topic, numPartitions: 1 })),
    waitForLeaders: true,
  });
  return created;
}

/**
 * What a Junction source (which has no compression setting of its own) reads from a topic: its
 * first `count` messages, read until `alsoWait` (given the source's group) holds too.
 */
async function readWithSource(
  topic: string,
  count: number,
  alsoWait?: { what: string; holds: (groupId: string) => Promise<boolean> },
): Promise<InboundMessage[]> {
  const groupId = `${topic}.read`;
  groups.push(groupId);
  const source = pool.source(
    { type: 'kafka', connection: connection.name, topic, groupId, fromBeginning: true },
    connection,
    { routeId: 'compression' },
  );
  const seen: InboundMessage[] = [];
  await source.start(async (message) => {
    seen.push(message);
  });
  try {
    await until(() => seen.length >= count, `${count} messages from ${topic}`, 30_000);
    if (alsoWait) await until(() => alsoWait.holds(groupId), alsoWait.what, 30_000);
  } finally {
    await source.stop();
  }
  return seen;
}

/** The payloads, as text, of {@link readWithSource}. */
async function readPayloads(topic: string, count: number): Promise<string[]> {
  return (await readWithSource(topic, count)).map((m) => m.payload.toString());
}

/** The group's committed offset of partition 0. */
async function committedOffset(groupId: string, topic: string): Promise<string | undefined> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return entry?.partitions.find((p) => p.partition === 0)?.offset;
}

beforeAll(async () => {
  admin = await connectKafkaAdmin(BROKERS, RUN);
  pool = new ConnectorPool({
    logger: testLogger(),
    kafka: { maxWaitTimeInMs: 100, heartbeatInterval: 1_000, sessionTimeout: 10_000 },
  });
}, 30_000);

afterAll(async () => {
  await pool.close();
  await admin.deleteGroups(groups).catch(() => undefined);
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}, 30_000);

describe('kafka compression', () => {
  it('a destination compresses with each codec; the broker stores it so; a Junction source and the Java consumer read it', async () => {
    const settings: (KafkaCompression | undefined)[] = [undefined, 'none', ...CODECS];
    const made = await freshTopics(settings.length);
    const sent = new Map<string, string[]>();
    for (const [i, compression] of settings.entries()) {
      const topic = made[i];
      const destination = pool.destination(
        { type: 'kafka', connection: connection.name, topic, compression },
        connection,
      );
      // The first one large, so that the codecs write several blocks (lz4: 64 KiB each).
      const bodies = Array.from({ length: COUNT }, (_, n) =>
        JSON.stringify({
          n,
          compression,
          text: 'the same words again and again '.repeat(n === 0 ? 6000 : 8),
        }),
      );
      for (const [n, body] of bodies.entries())
        await destination.send({ id: `${topic}-${n}`, headers: {}, body: Buffer.from(body) });
      await destination.close();
      sent.set(topic, bodies);

      const batches = storedBatches(topic);
      expect(batches).toHaveLength(COUNT);
      expect(new Set(batches.map((b) => b.codec))).toEqual(new Set([compression ?? 'none']));
      expect(await readPayloads(topic, COUNT)).toEqual(bodies);
    }
    // Compression pays: each codec's batches are smaller than the uncompressed ones.
    const bytes = (topic: string) => storedBatches(topic).reduce((sum, b) => sum + b.bytes, 0);
    for (const topic of made.slice(2)) expect(bytes(topic)).toBeLessThan(bytes(made[1]) * 0.6);

    const read = byTopic(await java('consume', BROKERS[0], String(COUNT), '60000', ...made));
    for (const topic of made) expect(read.get(topic)).toEqual(sent.get(topic));
  }, 240_000);

  it("a Junction source reads what Kafka's Java producer compressed with each codec", async () => {
    const made = await freshTopics(CODECS.length);
    await java(
      'produce',
      BROKERS[0],
      String(COUNT),
      ...made.map((topic, i) => `${topic}=${CODECS[i]}`),
    );
    for (const [i, topic] of made.entries()) {
      expect(new Set(storedBatches(topic).map((b) => b.codec))).toEqual(new Set([CODECS[i]]));
      const expected = Array.from(
        { length: COUNT },
        (_, n) => `${topic}:${n}${n === 0 ? 'junction '.repeat(20000) : ''}`,
      );
      expect(await readPayloads(topic, COUNT)).toEqual(expected);
    }
  }, 240_000);

  it('a batch the source cannot decode comes as one unreadable message at its last offset, and the partition goes on past it', async () => {
    // A batch in a zstd frame with a 64 MiB window, which the broker takes. Before, every fetch
    // of the partition failed on it and the consumer crash-looped at that offset for good.
    const [topic] = await freshTopics(1);
    const producer = new Kafka({
      clientId: `junction-test-${RUN}-wide-window`,
      brokers: BROKERS,
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ value: 'before' }] });
      await withWideWindowZstd(() =>
        producer.send({
          topic,
          compression: CompressionTypes.ZSTD,
          messages: [{ value: 'wide-1' }, { value: 'wide-2' }, { value: 'wide-3' }],
        }),
      );
      await producer.send({ topic, messages: [{ value: 'after' }] });
    } finally {
      await producer.disconnect();
    }
    expect(storedBatches(topic).map((b) => b.codec)).toEqual(['none', 'zstd', 'none']);

    const seen = await readWithSource(topic, 3, {
      what: 'the offsets committed past the batch',
      holds: async (groupId) => (await committedOffset(groupId, topic)) === '5',
    });
    expect(seen.map((m) => [m.source.offset, m.payload.toString(), m.unreadable])).toEqual([
      ['0', 'before', undefined],
      [
        '3',
        '',
        expect.stringMatching(
          /^the record batch at offsets 1-3 of \S+ partition 0 \(3 records\) could not be decoded, so it was skipped: zstd: a frame's window of 67108864 bytes is over/,
        ),
      ],
      ['4', 'after', undefined],
    ]);
  }, 60_000);
});
