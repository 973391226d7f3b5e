import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { countKafkaIds } from '../libs/connectors/src/conformance/kafka-reader';
import { createTestDatabase } from '@junction/database';
import { duplicates, readAmqpQueue } from './broker-readers';
import { closeRabbitConnections } from './rabbitmq-connections';
import {
  eventually,
  freePort,
  GatewayProcess as Gateway,
  KAFKA_FAILOVER_ENV,
} from './gateway-process';
import { printFigure } from './figures';

/**
 * The failures our users fear, against the real brokers and the gateway as a process:
 * kill -9 mid-stream, a dropped broker connection, poison messages, two processes sharing work.
 * Every message id must arrive (duplicates are allowed by at-least-once, and counted).
 */
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const RUN = `f${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
/** The gateways' stored AMQP connection: its own name, so a drop closes only the gateways' connections. */
const RABBIT = `rabbit-${RUN}`;

describe('faults: at-least-once through crashes, broker loss and poison', () => {
  let db: { url: string; drop(): Promise<void> };
  const gateways: Gateway[] = [];
  let amqpConnection: amqp.ChannelModel;
  let channel: amqp.ConfirmChannel;
  const kafka = new Kafka({
    clientId: `faults-${RUN}`,
    brokers: KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

  beforeAll(async () => {
    db = await createTestDatabase('faults');
    amqpConnection = await amqp.connect(AMQP_URL);
    channel = await amqpConnection.createConfirmChannel();
    await admin.connect();
    await producer.connect();
    const first = new Gateway(await freePort(), db.url, KAFKA_FAILOVER_ENV);
    await first.start();
    gateways.push(first);
    expect(
      (
        await first.api('POST', '/connections', {
          name: RABBIT,
          type: 'amqp',
          config: { url: 'amqp://guest@127.0.0.1:5672', vhost: '/' },
          secrets: { password: 'guest' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await first.api('POST', '/connections', {
          name: 'kafka',
          type: 'kafka',
          config: { brokers: KAFKA_BROKERS, clientId: 'junction-faults' },
        })
      ).status,
    ).toBe(201);
  }, 120_000);

  afterAll(async () => {
    for (const g of gateways) await g.kill('SIGTERM').catch(() => undefined);
    await channel?.close().catch(() => undefined);
    await amqpConnection?.close().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await db?.drop();
  }, 60_000);

  /** Reads a Kafka topic from the start until every id is seen; returns how often each came. */
  async function readKafka(
    topic: string,
    ids: string[],
    timeoutMs = 90_000,
  ): Promise<Map<string, number>> {
    const { seen, stop } = await countKafkaIds(kafka, topic, {
      groupId: `reader-${RUN}-${topic}-${Date.now()}`,
    });
    try {
      await eventually(
        () => {
          const missing = ids.filter((id) => !seen.has(id));
          if (missing.length > 0)
            throw new Error(
              `${missing.length} of ${ids.length} missing, e.g. ${missing.slice(0, 3).join(', ')}`,
            );
        },
        timeoutMs,
        `all ${ids.length} ids on ${topic}`,
      );
    } finally {
      await stop();
    }
    return seen;
  }

  /** Reads an AMQP queue until every id is seen. */
  function readQueue(
    queue: string,
    ids: string[],
    timeoutMs = 90_000,
  ): Promise<Map<string, number>> {
    return readAmqpQueue(amqpConnection, queue, ids, timeoutMs);
  }

  async function publishAmqp(
    queue: string,
    ids: string[],
    body: (id: string) => unknown = (id) => ({ id, total: 10 }),
  ): Promise<void> {
    await channel.assertQueue(queue, { durable: true });
    for (const id of ids)
      channel.sendToQueue(queue, Buffer.from(JSON.stringify(body(id))), {
        messageId: id,
        persistent: true,
        contentType: 'application/json',
      });
    await channel.waitForConfirms();
  }

  it('AMQP -> Kafka: kill -9 mid-stream, restart, every id arrives', async () => {
    const g = gateways[0];
    const queue = `${RUN}.a2k.in`;
    const topic = `${RUN}.a2k.out`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const route = {
      id: `${RUN}-a2k`,
      source: { type: 'amqp', connection: RABBIT, queue, prefetch: 50 },
      pipeline: [{ transform: '{ "id": id, "total": total }' }],
      destinations: [{ type: 'kafka', connection: 'kafka', topic, key: 'id' }],
    };
    expect((await g.api('POST', '/routes', route)).status).toBe(201);
    const ids = Array.from({ length: 3000 }, (_, i) => `${RUN}-a2k-${i}`);
    await publishAmqp(queue, ids);
    // Let some flow, then crash hard.
    await g.waitProcessed(route.id, 200);
    await g.kill('SIGKILL');
    await g.start();
    const seen = await readKafka(topic, ids);
    printFigure(
      `AMQP->Kafka after kill -9: ${ids.length} ids delivered, ${duplicates(seen)} duplicates`,
    );
    expect(ids.every((id) => seen.has(id))).toBe(true);
  }, 240_000);

  it('Kafka -> AMQP: kill -9 mid-stream, restart, every id arrives', async () => {
    const g = gateways[0];
    const topic = `${RUN}.k2a.in`;
    const queue = `${RUN}.k2a.out`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    const route = {
      id: `${RUN}-k2a`,
      source: { type: 'kafka', connection: 'kafka', topic, fromBeginning: true },
      pipeline: [],
      destinations: [{ type: 'amqp', connection: RABBIT, queue }],
    };
    expect((await g.api('POST', '/routes', route)).status).toBe(201);
    const ids = Array.from({ length: 3000 }, (_, i) => `${RUN}-k2a-${i}`);
    for (let i = 0; i < ids.length; i += 500) {
      await producer.send({
        topic,
        acks: -1,
        messages: ids.slice(i, i + 500).map((id) => ({
          key: id,
          value: JSON.stringify({ id }),
          headers: { 'junction-id': id },
        })),
      });
    }
    await g.waitProcessed(route.id, 200);
    await g.kill('SIGKILL');
    await g.start();
    const seen = await readQueue(queue, ids);
    printFigure(
      `Kafka->AMQP after kill -9: ${ids.length} ids delivered, ${duplicates(seen)} duplicates`,
    );
    expect(ids.every((id) => seen.has(id))).toBe(true);
  }, 240_000);

  it('SIGTERM mid-stream drains: after a restart every id has arrived exactly once', async () => {
    const g = gateways[0];
    const queue = `${RUN}.term.in`;
    const out = `${RUN}.term.out`;
    const topic = `${RUN}.term.topic`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    const routes = [
      {
        id: `${RUN}-term-a2k`,
        source: { type: 'amqp', connection: RABBIT, queue, prefetch: 50 },
        pipeline: [{ transform: '{ "id": id, "total": total }' }],
        destinations: [{ type: 'kafka', connection: 'kafka', topic, key: 'id' }],
      },
      {
        id: `${RUN}-term-k2a`,
        source: { type: 'kafka', connection: 'kafka', topic, fromBeginning: true },
        pipeline: [],
        destinations: [{ type: 'amqp', connection: RABBIT, queue: out }],
      },
    ];
    for (const route of routes) expect((await g.api('POST', '/routes', route)).status).toBe(201);
    const ids = Array.from({ length: 3000 }, (_, i) => `${RUN}-term-${i}`);
    await publishAmqp(queue, ids);
    // Both routes busy (AMQP in, Kafka in between, AMQP out), then a graceful stop.
    await g.waitProcessed(routes[1].id, 200);
    expect(await g.stop()).toBe(0);
    const through = (await channel.checkQueue(out)).messageCount;
    await g.start();
    const seen = await readQueue(out, ids);
    printFigure(
      `SIGTERM mid-stream, AMQP->Kafka->AMQP (${through} through at the stop): ${ids.length} ids delivered, ${duplicates(seen)} duplicates`,
    );
    expect(ids.every((id) => seen.has(id))).toBe(true);
    // A drained stop acknowledges and commits all it finished: nothing comes twice.
    expect(duplicates(seen)).toBe(0);
  }, 240_000);

  it('recovers from a dropped RabbitMQ connection with no loss', async () => {
    const g = gateways[0];
    const queue = `${RUN}.drop.in`;
    const out = `${RUN}.drop.out`;
    const route = {
      id: `${RUN}-drop`,
      source: { type: 'amqp', connection: RABBIT, queue },
      pipeline: [],
      destinations: [{ type: 'amqp', connection: RABBIT, queue: out }],
    };
    expect((await g.api('POST', '/routes', route)).status).toBe(201);
    const ids = Array.from({ length: 2000 }, (_, i) => `${RUN}-drop-${i}`);
    await publishAmqp(queue, ids.slice(0, 1000));
    await g.waitProcessed(route.id, 100);
    // Close the gateway's connections from the broker side (only them: other suites share the broker).
    // Every connection the gateways opened for RABBIT, from the broker's side.
    expect(closeRabbitConnections(`junction:${RABBIT}`, 'junction fault test')).toBeGreaterThan(0);
    await publishAmqp(queue, ids.slice(1000));
    const seen = await readQueue(out, ids);
    printFigure(
      `AMQP connection drop: ${ids.length} ids delivered, ${duplicates(seen)} duplicates`,
    );
    expect(ids.every((id) => seen.has(id))).toBe(true);
  }, 180_000);

  it('dead-letters malformed and poison messages with the reason while good ones keep flowing', async () => {
    const g = gateways[0];
    const queue = `${RUN}.poison.in`;
    const out = `${RUN}.poison.out`;
    const dlq = `${RUN}.poison.dlq`;
    const route = {
      id: `${RUN}-poison`,
      source: { type: 'amqp', connection: RABBIT, queue },
      pipeline: [
        { validate: { schema: { type: 'object', required: ['id', 'total'] } } },
        { transform: '{ "id": id, "ratio": $number(total) / 2 }' },
      ],
      destinations: [{ type: 'amqp', connection: RABBIT, queue: out }],
      errors: { deadLetter: { type: 'amqp', connection: RABBIT, queue: dlq } },
    };
    expect((await g.api('POST', '/routes', route)).status).toBe(201);
    await channel.assertQueue(queue, { durable: true });
    const good = Array.from({ length: 200 }, (_, i) => `${RUN}-good-${i}`);
    const poison: Array<[string, Buffer]> = [
      [`${RUN}-badjson`, Buffer.from('{"id": ')],
      [`${RUN}-schema`, Buffer.from(JSON.stringify({ id: 'x' }))],
      [`${RUN}-jsonata`, Buffer.from(JSON.stringify({ id: 'y', total: 'not a number' }))],
    ];
    for (const [i, id] of good.entries()) {
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id, total: i })), {
        messageId: id,
        persistent: true,
      });
      if (i % 50 === 0) {
        const [pid, payload] = poison[(i / 50) % poison.length];
        channel.sendToQueue(queue, payload, { messageId: pid, persistent: true });
      }
    }
    await channel.waitForConfirms();
    const seen = await readQueue(out, good);
    expect(good.every((id) => seen.has(id))).toBe(true);
    const letters = await readQueue(
      dlq,
      poison.map(([id]) => id),
    );
    expect(letters.size).toBe(3);
    const stored = (await g.api('GET', `/dead-letters?routeId=${route.id}`)).body as Array<{
      messageId: string;
      reasonCode: string;
    }>;
    expect(Object.fromEntries(stored.map((d) => [d.messageId, d.reasonCode]))).toMatchObject({
      [`${RUN}-badjson`]: 'INPUT_REJECTED',
      [`${RUN}-schema`]: 'SCHEMA_FAILED',
      [`${RUN}-jsonata`]: 'EXPRESSION_FAILED',
    });
  }, 120_000);

  it('keeps a Kafka partition moving past records whose ids are too long to store', async () => {
    const g = gateways[0];
    const topic = `${RUN}.longid.in`;
    const out = `${RUN}.longid.out`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const route = {
      id: `${RUN}-longid`,
      source: { type: 'kafka', connection: 'kafka', topic },
      destinations: [{ type: 'amqp', connection: RABBIT, queue: out }],
    };
    expect((await g.api('POST', '/routes', route)).status).toBe(201);
    // Ids Postgres cannot index (over 2.7 KB), one of a good body and one of a bad one.
    const long = (tag: string) => `${RUN}-${tag}-${randomBytes(6_000).toString('base64')}`;
    const good = Array.from({ length: 20 }, (_, i) => `${RUN}-after-${i}`);
    const record = (id: string, value = JSON.stringify({ id })) => ({
      value,
      headers: { 'junction-id': id },
    });
    await producer.send({
      topic,
      messages: [
        record(long('good'), '{"ok":true}'),
        ...good.slice(0, 10).map((id) => record(id)),
        record(long('bad'), 'not json'),
        ...good.slice(10).map((id) => record(id)),
      ],
    });
    const seen = await readQueue(out, good);
    // Each record was recorded once, the two of long ids under ids made from them.
    const records = await eventually(async () => {
      const res = await g.api('GET', `/audit/messages?routeId=${route.id}&limit=100`);
      const items = (res.body as { items: Array<{ messageId: string; outcome: string }> }).items;
      if (items.length < good.length + 2) throw new Error(`${items.length} records`);
      return items;
    });
    expect(records.length).toBe(good.length + 2);
    const others = records.filter((r) => !good.includes(r.messageId));
    expect(others.map((r) => r.outcome).sort()).toEqual(['dead-lettered', 'delivered']);
    for (const r of others) expect(r.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8/);
    // The partition did not loop: nothing came twice.
    expect(duplicates(seen)).toBe(0);
  }, 120_000);

  it('two gateway processes share one queue and one 4-partition topic; killing one loses nothing', async () => {
    const second = new Gateway(await freePort(), db.url, KAFKA_FAILOVER_ENV);
    await second.start();
    gateways.push(second);
    const queue = `${RUN}.shared.in`;
    const topic = `${RUN}.shared.topic`;
    const out = `${RUN}.shared.out`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    const a = gateways[0];
    // queue -> topic, topic -> out queue: both processes run both routes.
    expect(
      (
        await a.api('POST', '/routes', {
          id: `${RUN}-sq`,
          source: { type: 'amqp', connection: RABBIT, queue, prefetch: 20 },
          pipeline: [],
          destinations: [{ type: 'kafka', connection: 'kafka', topic, key: 'id' }],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await a.api('POST', '/routes', {
          id: `${RUN}-st`,
          source: { type: 'kafka', connection: 'kafka', topic, fromBeginning: true },
          pipeline: [],
          destinations: [{ type: 'amqp', connection: RABBIT, queue: out }],
        })
      ).status,
    ).toBe(201);
    await eventually(async () => {
      const s = (await second.api('GET', `/routes/${RUN}-st/status`)).body as { state: string };
      if (s.state !== 'running') throw new Error(s.state);
    });
    const ids = Array.from({ length: 3000 }, (_, i) => `${RUN}-shared-${i}`);
    await publishAmqp(queue, ids);
    await eventually(
      async () => {
        const both = await Promise.all([a, second].map((g) => g.processed(`${RUN}-sq`)));
        if (both.some((n) => n === 0)) throw new Error(`work not shared yet: ${both.join(', ')}`);
      },
      60_000,
      'both processes consuming',
    );
    await second.kill('SIGKILL');
    const seen = await readQueue(out, ids, 120_000);
    printFigure(
      `two processes, one killed: ${ids.length} ids delivered, ${duplicates(seen)} duplicates`,
    );
    expect(ids.every((id) => seen.has(id))).toBe(true);
  }, 300_000);
});
