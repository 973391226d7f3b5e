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
  admin = new Kafka({
    clientId: `junction-test-admin-${RUN}`,
    brokers: BROKERS,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect().catch((err: unknown) => {
    throw new Error(
      `no Kafka at ${BROKERS.join(',')} (run scripts/kafka.sh start): ${String(err)}`,
    );
  });
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
