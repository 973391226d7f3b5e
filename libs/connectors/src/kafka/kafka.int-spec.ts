/**
 * Kafka connectors against a real broker: KAFKA_BROKERS (comma-separated), default the one
 * `scripts/kafka.sh start` runs on 127.0.0.1:19092. Start it before running these tests.
 */
import { randomUUID } from 'node:crypto';
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Kafka, logLevel, type Admin, type ISocketFactory } from 'kafkajs';
import type { KafkaSourceSpec } from './kafka.protocol';
import { describeConformance, testMessages } from '../conformance/conformance';
import { deferred, sendWithRetry, until } from '../conformance/eventually';
import { connectKafkaAdmin } from '../conformance/kafka-admin';
import { TcpProxy } from '../conformance/tcp-proxy';
import { testLogger } from '../conformance/test-logger';
import type { ConnectorConnection, InboundMessage } from '../connector';
import { ConnectorPool } from '../connector-pool';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const RUN = randomUUID().slice(0, 8);

let admin: Admin;
let topicCount = 0;
const createdTopics = new Set<string>();
const createdGroups = new Set<string>();

async function freshTopic(partitions: number): Promise<string> {
  topicCount += 1;
  const topic = `junction.test.${RUN}.${topicCount}`;
  createdTopics.add(topic);
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions }],
    waitForLeaders: true,
  });
  return topic;
}

function connectionNamed(name: string): ConnectorConnection {
  return { name, config: { brokers: BROKERS, clientId: `junction-test-${RUN}` }, secrets: {} };
}

/** kafkajs's own socket factory, remembering every socket so that a test can cut them all. */
function trackingSocketFactory(sockets: Set<Socket>): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tlsConnect({ host, port, servername: host, ...ssl }, onConnect)
      : netConnect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };
}

beforeAll(async () => {
  admin = await connectKafkaAdmin(BROKERS, RUN);
}, 30_000);

afterAll(async () => {
  if (createdGroups.size > 0) await admin.deleteGroups([...createdGroups]).catch(() => undefined);
  if (createdTopics.size > 0)
    await admin.deleteTopics({ topics: [...createdTopics] }).catch(() => undefined);
  await admin.disconnect();
}, 30_000);

describeConformance(
  'kafka',
  async () => {
    const sockets = new Set<Socket>();
    const name = `conformance-${RUN}`;
    const connection = connectionNamed(name);
    const pool = new ConnectorPool({
      logger: testLogger(),
      kafka: {
        maxWaitTimeInMs: 100,
        heartbeatInterval: 1_000,
        sessionTimeout: 10_000,
        sendTimeoutMs: 20_000,
        socketFactory: trackingSocketFactory(sockets),
      },
    });
    return {
      ordering: 'per-key',
      concurrency: 'per-partition',
      disruptions: {
        'reset connections': async () => {
          expect(sockets.size).toBeGreaterThan(0);
          // As a network failure shows up (kafkajs listens for 'error' and 'end', not 'close').
          for (const socket of sockets)
            socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
        },
      },
      async fixture({ partitions }) {
        const topic = await freshTopic(partitions);
        const groupId = `${topic}.group`;
        createdGroups.add(groupId);
        const spec: KafkaSourceSpec = {
          type: 'kafka',
          connection: name,
          topic,
          groupId,
          fromBeginning: true,
        };
        return {
          source: ({ prefetch } = {}) =>
            pool.source({ ...spec, concurrency: prefetch ?? 1 }, connection, {
              routeId: 'conformance',
            }),
          destination: () =>
            pool.destination({ type: 'kafka', connection: name, topic }, connection),
          dispose: async () => undefined, // topics and groups go in afterAll, once nothing uses them
        };
      },
      close: () => pool.close(),
    };
  },
  { disruptions: ['reset connections'], waitMs: 30_000 },
);

describe('kafka connectors', () => {
  const name = `kafka-${RUN}`;
  const connection = connectionNamed(name);
  let pool: ConnectorPool;

  beforeAll(() => {
    pool = new ConnectorPool({
      logger: testLogger(),
      kafka: { maxWaitTimeInMs: 100, heartbeatInterval: 1_000, sessionTimeout: 10_000 },
    });
  });

  afterAll(async () => {
    await pool.close();
  });

  it('consumes as group junction.<route id> and commits the offset after the last handled message', async () => {
    const topic = await freshTopic(1);
    const routeId = `route-${RUN}`;
    const groupId = `junction.${routeId}`;
    createdGroups.add(groupId);
    const source = pool.source(
      { type: 'kafka', connection: name, topic, fromBeginning: true },
      connection,
      { routeId },
    );
    const destination = pool.destination({ type: 'kafka', connection: name, topic }, connection);
    const messages = testMessages('commit', 5);
    const handled: InboundMessage[] = [];
    await source.start(async (message) => {
      handled.push(message);
    });
    try {
      const receipts = [];
      for (const message of messages) receipts.push(await destination.send(message));
      await until(() => handled.length === 5, 'five messages');
      const last = receipts[4];
      expect(last).toMatchObject({ kind: 'kafka', topic, partition: 0 });
      const next = (BigInt(last.kind === 'kafka' ? last.offset : '0') + 1n).toString();
      await until(async () => {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return offsets.partitions[0]?.offset === next;
      }, `group ${groupId} committed at ${next}`);
    } finally {
      await source.stop();
      await destination.close();
    }
  });

  it('a source stopped while its broker is away does not join the group once the broker is back', async () => {
    const topic = await freshTopic(1);
    const groupId = `${topic}.late`;
    createdGroups.add(groupId);
    // Bootstrap through a port where nothing listens yet: kafkajs keeps retrying its connect.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const away = {
      ...connectionNamed(`kafka-away-${RUN}`),
      config: { brokers: [`127.0.0.1:${port}`], clientId: `junction-test-${RUN}` },
    };
    const source = pool.source({ type: 'kafka', connection: away.name, topic, groupId }, away, {
      routeId: 'away',
    });
    const started = source
      .start(async () => undefined)
      .then(
        () => 'started',
        (err: Error) => err.message,
      );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await source.stop();
    // The broker comes back while kafkajs is still retrying the connect.
    const [host, brokerPort] = BROKERS[0].split(':');
    const proxy = await TcpProxy.start(host, Number(brokerPort), port);
    try {
      expect(await started).toMatch(/stopped while starting|could not start/);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const { groups } = await admin.describeGroups([groupId]);
      expect(groups[0].members).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('takes the id from header junction-id and leaves it unset without one', async () => {
    const topic = await freshTopic(1);
    const producer = new Kafka({ brokers: BROKERS, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const source = pool.source(
      { type: 'kafka', connection: name, topic, groupId: `${topic}.ids`, fromBeginning: true },
      connection,
      { routeId: 'ids' },
    );
    createdGroups.add(`${topic}.ids`);
    const handled: InboundMessage[] = [];
    const both = deferred();
    await source.start(async (message) => {
      handled.push(message);
      if (handled.length === 2) both.resolve();
    });
    try {
      await producer.send({
        topic,
        messages: [
          { value: 'one', headers: { 'junction-id': 'id-1', multi: ['a', 'b'] } },
          { key: 'k', value: 'two' },
        ],
      });
      await both.promise;
      expect(handled[0]).toMatchObject({
        id: 'id-1',
        headers: { 'junction-id': 'id-1', multi: 'a, b' },
        redelivered: false,
      });
      expect(handled[0].payload.toString()).toBe('one');
      expect(handled[1].id).toBeUndefined();
      expect(handled[1].source).toMatchObject({
        type: 'kafka',
        name: topic,
        partition: 0,
        offset: '1',
      });
    } finally {
      await source.stop();
      await producer.disconnect();
    }
  });

  it('shares one producer per stored connection across destinations', async () => {
    const [a, b] = [await freshTopic(1), await freshTopic(1)];
    const first = pool.destination({ type: 'kafka', connection: name, topic: a }, connection);
    const second = pool.destination({ type: 'kafka', connection: name, topic: b }, connection);
    const [m1, m2] = testMessages('shared', 2);
    const [r1, r2] = await Promise.all([first.send(m1), second.send(m2)]);
    expect(r1).toMatchObject({ kind: 'kafka', topic: a, offset: '0' });
    expect(r2).toMatchObject({ kind: 'kafka', topic: b, offset: '0' });
    await first.close();
    await second.close();
    // Closing a destination leaves the shared producer to the others.
    const third = pool.destination({ type: 'kafka', connection: name, topic: a }, connection);
    await expect(third.send(testMessages('shared', 1)[0])).resolves.toMatchObject({ offset: '1' });
    await third.close();
  });

  it('reports its connection: down with the reason while the cluster is out of reach, up again with a reconnect counted', async () => {
    const topic = await freshTopic(1);
    const sockets = new Set<Socket>();
    let blocked = false;
    const real = trackingSocketFactory(sockets);
    // While blocked, every connect goes to a port where nothing listens.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const states = new ConnectorPool({
      logger: testLogger(),
      kafka: {
        sendTimeoutMs: 3_000,
        socketFactory: (args) => real(blocked ? { ...args, port: closedPort } : args),
      },
    });
    const flaky = connectionNamed(`kafka-states-${RUN}`);
    const destination = states.destination({ type: 'kafka', connection: flaky.name, topic }, flaky);
    const state = () => states.connectionStates().find((c) => c.connection === flaky.name);
    try {
      await destination.send(testMessages('state', 1)[0]);
      expect(state()).toMatchObject({ type: 'kafka', up: true, reconnects: 0 });
      expect(state()?.error).toBeUndefined();

      blocked = true;
      for (const socket of sockets)
        socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      await expect(destination.send(testMessages('state', 2)[1])).rejects.toMatchObject({
        retryable: true,
      });
      expect(state()).toMatchObject({ up: false });
      expect(state()?.attempts).toBeGreaterThanOrEqual(1);
      expect(state()?.error).toMatch(/kafka produce|ECONNREFUSED|Connection|timeout|no ack/i);

      blocked = false;
      await sendWithRetry(destination, testMessages('state', 3)[2], 30_000);
      // The send that timed out carries on in kafkajs (at-least-once allows the copy): wait for it
      // to land, so that nothing of this test runs after it.
      await until(
        async () => {
          const [partition] = await admin.fetchTopicOffsets(topic);
          return Number(partition.high) >= 3;
        },
        'the timed-out send to land',
        30_000,
      );
      expect(state()).toMatchObject({ up: true, reconnects: 1 });
    } finally {
      blocked = false;
      await destination.close();
      await states.close();
    }
  }, 90_000);

  it('batches concurrent sends: each resolves with its own offset, in send order per key, and reads back there', async () => {
    const topic = await freshTopic(3);
    const batched = {
      ...connectionNamed(`kafka-batched-${RUN}`),
      config: {
        brokers: BROKERS,
        clientId: `junction-test-${RUN}`,
        batch: { lingerMs: 50, maxMessages: 1000 },
      },
    };
    const destination = pool.destination(
      { type: 'kafka', connection: batched.name, topic },
      batched,
    );
    const messages = testMessages('batched', 30);
    try {
      const receipts = await Promise.all(messages.map((m) => destination.send(m)));
      const at = receipts.map((r) => (r.kind === 'kafka' ? `${r.partition}@${r.offset}` : ''));
      expect(new Set(at).size).toBe(30);
      // Sends of one key: one partition, offsets in the order they were sent.
      const byKey = new Map<string, Array<{ partition: number; offset: bigint }>>();
      receipts.forEach((r, i) => {
        if (r.kind !== 'kafka') throw new Error('a kafka receipt');
        const key = String(messages[i].key);
        byKey.set(key, [
          ...(byKey.get(key) ?? []),
          { partition: r.partition, offset: BigInt(r.offset) },
        ]);
      });
      for (const sent of byKey.values()) {
        expect(new Set(sent.map((s) => s.partition)).size).toBe(1);
        expect(sent.every((s, i) => i === 0 || s.offset > sent[i - 1].offset)).toBe(true);
      }
      // What the broker holds at each receipt's position is that message.
      const found = new Map<string, string>();
      const consumer = new Kafka({ brokers: BROKERS, logLevel: logLevel.NOTHING }).consumer({
        groupId: `${topic}.check`,
        maxWaitTimeInMs: 100,
      });
      createdGroups.add(`${topic}.check`);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          found.set(`${partition}@${message.offset}`, String(message.headers?.['junction-id']));
        },
      });
      try {
        await until(() => found.size === 30, 'all 30 read back');
      } finally {
        await consumer.disconnect();
      }
      messages.forEach((m, i) => expect(found.get(at[i])).toBe(m.id));
    } finally {
      await destination.close();
    }
  });

  it('a batch that fails rejects its messages; another topic in the same request is not failed with it', async () => {
    const topic = await freshTopic(1);
    const shared = {
      ...connectionNamed(`kafka-shared-batch-${RUN}`),
      config: { brokers: BROKERS, clientId: `junction-test-${RUN}`, batch: { lingerMs: 50 } },
    };
    const good = pool.destination({ type: 'kafka', connection: shared.name, topic }, shared);
    const bad = pool.destination(
      { type: 'kafka', connection: shared.name, topic: 'not a valid topic!' },
      shared,
    );
    const [m1, m2, m3] = testMessages('mixed', 3);
    try {
      const sends = [good.send(m1), bad.send(m2), bad.send(m3)].map((p) =>
        p.then(
          (receipt) => ({ receipt }),
          (error: Error & { retryable?: boolean }) => ({ error }),
        ),
      );
      const [one, two, three] = await Promise.all(sends);
      expect(one).toMatchObject({ receipt: { kind: 'kafka', topic, partition: 0, offset: '0' } });
      for (const failed of [two, three])
        expect(failed).toMatchObject({ error: { name: 'ConnectorError', retryable: false } });
    } finally {
      await good.close();
      await bad.close();
    }
  });

  /** A source handling up to `concurrency` messages of its one partition at once. */
  async function concurrentSource(tag: string, concurrency: number) {
    const topic = await freshTopic(1);
    const groupId = `${topic}.${tag}`;
    createdGroups.add(groupId);
    const spec: KafkaSourceSpec = {
      type: 'kafka',
      connection: name,
      topic,
      groupId,
      fromBeginning: true,
      concurrency,
    };
    const destination = pool.destination({ type: 'kafka', connection: name, topic }, connection);
    const messages = testMessages(tag, 10);
    for (const m of messages) await destination.send(m);
    await destination.close();
    const committed = async () => {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return offsets.partitions[0]?.offset;
    };
    return {
      messages,
      committed,
      source: () => pool.source(spec, connection, { routeId: tag }),
    };
  }

  it('with concurrency, commits only up to the first unfinished message: after a stop it and every later one come again', async () => {
    const { messages, committed, source } = await concurrentSource('prefix', 5);
    const seq = (m: InboundMessage) => Number(m.headers['x-seq']);
    const seen: number[] = [];
    const held = deferred();
    const first = source();
    await first.start(async (message) => {
      seen.push(seq(message));
      if (seq(message) === 3) await held.promise;
    });
    // 0-2 and 4 handled (4 before 3), 3 still in its handler.
    await until(() => seen.includes(4) && seen.includes(3), 'messages 3 and 4 started');
    await until(async () => (await committed()) === '3', 'the commit of 0-2');
    const stopping = first.stop();
    held.reject(new Error('shutting down'));
    await stopping;
    expect(await committed()).toBe('3');

    const again: number[] = [];
    const second = source();
    await second.start(async (message) => {
      again.push(seq(message));
    });
    try {
      await until(() => again.includes(9), 'the rest after the restart');
      expect(again).toEqual([3, 4, 5, 6, 7, 8, 9]);
      expect(messages).toHaveLength(10);
    } finally {
      await second.stop();
    }
  });

  it('with concurrency, a handler that fails gets that message and every later one back, in order, and loses none', async () => {
    const { committed, source } = await concurrentSource('failing', 5);
    const seq = (m: InboundMessage) => Number(m.headers['x-seq']);
    const handled: Array<{ seq: number; redelivered: boolean }> = [];
    const done = new Set<number>();
    let failed = false;
    const consumer = source();
    await consumer.start(async (message) => {
      handled.push({ seq: seq(message), redelivered: message.redelivered });
      if (seq(message) === 3 && !failed) {
        // Fails only once 4, started beside it, was handled.
        await until(() => done.has(4), 'message 4 handled first');
        failed = true;
        throw new Error('not this time');
      }
      done.add(seq(message));
    });
    try {
      await until(async () => (await committed()) === '10', 'all ten committed');
      const order = handled.map((h) => h.seq);
      const retry = order.indexOf(3, order.indexOf(3) + 1);
      expect(order.slice(0, retry).filter((s) => s < 3)).toEqual([0, 1, 2]);
      // After the failure: 3 and everything after it again, in offset order.
      expect(order.slice(retry)).toEqual([3, 4, 5, 6, 7, 8, 9]);
      expect(handled[retry]).toEqual({ seq: 3, redelivered: true });
      expect([...done].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await consumer.stop();
    }
  });

  it('with concurrency, messages reach the handler at once but leave in offset order through their turns', async () => {
    const output = await freshTopic(3);
    const { source } = await concurrentSource('turns', 10);
    const out = pool.destination({ type: 'kafka', connection: name, topic: output }, connection);
    const seq = (m: InboundMessage) => Number(m.headers['x-seq']);
    let running = 0;
    let most = 0;
    const sent = new Map<number, { partition: number; offset: bigint }>();
    const consumer = source();
    await consumer.start(async (message) => {
      running += 1;
      most = Math.max(most, running);
      // Earlier messages take longer before their send, as a slower mapping would.
      await new Promise((resolve) => setTimeout(resolve, (10 - seq(message)) * 5));
      await message.order!.previous();
      const sending = out.send({
        id: message.id!,
        headers: message.headers,
        body: message.payload,
        key: 'one key',
      });
      message.order!.issued();
      const receipt = await sending;
      if (receipt.kind === 'kafka')
        sent.set(seq(message), { partition: receipt.partition, offset: BigInt(receipt.offset) });
      running -= 1;
    });
    try {
      await until(() => sent.size === 10, 'all ten sent on');
      expect(most).toBeGreaterThan(1);
      const offsets = [...Array(10).keys()].map((i) => sent.get(i)!);
      expect(new Set(offsets.map((o) => o.partition)).size).toBe(1);
      expect(offsets.every((o, i) => i === 0 || o.offset > offsets[i - 1].offset)).toBe(true);
    } finally {
      await consumer.stop();
      await out.close();
    }
  });

  it('rejects a send to an invalid topic name for good', async () => {
    const destination = pool.destination(
      { type: 'kafka', connection: name, topic: 'not a valid topic!' },
      connection,
    );
    await expect(destination.send(testMessages('invalid', 1)[0])).rejects.toMatchObject({
      name: 'ConnectorError',
      retryable: false,
    });
    await destination.close();
  }, 30_000);
});
