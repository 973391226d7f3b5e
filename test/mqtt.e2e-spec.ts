import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import { connectAsync, type MqttClient } from 'mqtt';
import { createTestDatabase } from '@junction/database';
import { eventually, freePort, GatewayProcess as Gateway } from './gateway-process';
import { printFigure } from './figures';

/**
 * MQTT routes through the compiled gateway, against the Mosquitto of `scripts/mosquitto.sh`
 * (MQTT_URL, default mqtt://127.0.0.1:18830; TLS on MQTTS_URL with the CA it generated) and the
 * local RabbitMQ: MQTT -> AMQP and AMQP -> MQTT, and a gateway killed with kill -9 mid-stream.
 * Every message id must arrive (duplicates are allowed by at-least-once, and counted).
 */
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:18830';
const MQTTS_URL = process.env.MQTTS_URL ?? 'mqtts://127.0.0.1:18831';
const MQTT_USER = process.env.JUNCTION_MQTT_USER ?? 'junction';
const MQTT_PASSWORD = process.env.JUNCTION_MQTT_PASSWORD ?? 'junction-secret';
const CA_FILE =
  process.env.JUNCTION_MQTT_CA_CERT ??
  join(process.env.JUNCTION_MOSQUITTO_HOME ?? join(__dirname, '../.cache/mosquitto'), 'tls/ca.crt');
const RUN = `m${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

describe('MQTT routes through the gateway', () => {
  let db: { url: string; drop(): Promise<void> };
  let gateway: Gateway;
  let amqpConnection: amqp.ChannelModel;
  let channel: amqp.ConfirmChannel;
  let mqtt: MqttClient;

  beforeAll(async () => {
    db = await createTestDatabase('mqtt');
    amqpConnection = await amqp.connect(AMQP_URL);
    channel = await amqpConnection.createConfirmChannel();
    mqtt = await connectAsync(MQTT_URL, {
      username: MQTT_USER,
      password: MQTT_PASSWORD,
      protocolVersion: 5,
      clientId: `e2e-${RUN}`,
      reconnectPeriod: 0,
    });
    // The node name keeps the route's MQTT session across a restart of this process.
    gateway = new Gateway(await freePort(), db.url, { JUNCTION_NODE_NAME: `e2e-${RUN}` });
    await gateway.start();
    const connections = [
      {
        name: 'rabbit',
        type: 'amqp',
        config: { url: 'amqp://guest@127.0.0.1:5672', vhost: '/' },
        secrets: { password: 'guest' },
      },
      {
        // TLS with the test CA, the password as a secret.
        name: 'mosquitto',
        type: 'mqtt',
        config: { url: MQTTS_URL, username: MQTT_USER, tls: { ca: readFileSync(CA_FILE, 'utf8') } },
        secrets: { password: MQTT_PASSWORD },
      },
    ];
    for (const connection of connections)
      expect((await gateway.api('POST', '/connections', connection)).status).toBe(201);
    const stored = await gateway.api('GET', '/connections/mosquitto');
    expect(JSON.stringify(stored.body)).not.toContain(MQTT_PASSWORD);
  }, 120_000);

  afterAll(async () => {
    await gateway?.kill('SIGTERM').catch(() => undefined);
    await mqtt?.endAsync().catch(() => undefined);
    await channel?.close().catch(() => undefined);
    await amqpConnection?.close().catch(() => undefined);
    await db?.drop();
  }, 60_000);

  async function createRoute(route: Record<string, unknown>): Promise<void> {
    const created = await gateway.api('POST', '/routes', route);
    expect(created).toMatchObject({ status: 201 });
    await eventually(
      async () => {
        const s = (await gateway.api('GET', `/routes/${String(route.id)}/status`)).body as {
          state: string;
        };
        if (s.state !== 'running') throw new Error(s.state);
      },
      30_000,
      `route ${String(route.id)} running`,
    );
  }

  /** Reads an AMQP queue until every id is seen; returns each id's messages. */
  async function readQueue(
    queue: string,
    ids: string[],
    timeoutMs = 90_000,
  ): Promise<Map<string, amqp.ConsumeMessage[]>> {
    const seen = new Map<string, amqp.ConsumeMessage[]>();
    const ch = await amqpConnection.createChannel();
    await ch.assertQueue(queue, { durable: true });
    const { consumerTag } = await ch.consume(queue, (msg) => {
      if (!msg) return;
      const id = String(msg.properties.messageId ?? '');
      seen.set(id, [...(seen.get(id) ?? []), msg]);
      ch.ack(msg);
    });
    try {
      await eventually(
        () => {
          const missing = ids.filter((id) => !seen.has(id));
          if (missing.length > 0) throw new Error(`${missing.length} of ${ids.length} missing`);
        },
        timeoutMs,
        `all ${ids.length} ids on ${queue}`,
      );
    } finally {
      await ch.cancel(consumerTag);
      await ch.close();
    }
    return seen;
  }

  async function publishMqtt(topic: (id: string) => string, ids: string[]): Promise<void> {
    // QoS 1, a window of 100 unconfirmed publishes at a time.
    for (let i = 0; i < ids.length; i += 100)
      await Promise.all(
        ids.slice(i, i + 100).map((id) =>
          mqtt.publishAsync(topic(id), JSON.stringify({ id, total: 10 }), {
            qos: 1,
            properties: { userProperties: { 'junction-id': id, 'x-region': 'eu' } },
          }),
        ),
      );
  }

  const duplicates = (seen: Map<string, unknown[]>) =>
    [...seen.values()].reduce((n, copies) => n + (copies.length - 1), 0);

  it('MQTT -> AMQP: a wildcard subscription, user properties as $headers, the id as messageId', async () => {
    const queue = `${RUN}.m2a.out`;
    await createRoute({
      id: `${RUN}-m2a`,
      source: { type: 'mqtt', connection: 'mosquitto', topic: `${RUN}/m2a/+/orders` },
      pipeline: [
        {
          transform:
            '{ "orderId": id, "device": $headers."mqtt-topic", "region": $headers."x-region" }',
        },
      ],
      destinations: [{ type: 'amqp', connection: 'rabbit', queue }],
    });
    const ids = [`${RUN}-m2a-1`, `${RUN}-m2a-2`];
    await publishMqtt((id) => `${RUN}/m2a/${id.slice(-1)}/orders`, ids);
    const seen = await readQueue(queue, ids, 30_000);
    const [first] = seen.get(ids[0])!;
    expect(JSON.parse(first.content.toString())).toEqual({
      orderId: ids[0],
      device: `${RUN}/m2a/1/orders`,
      region: 'eu',
    });
  }, 90_000);

  it('AMQP -> MQTT: the topic from an expression, QoS 2, the id and static headers as user properties', async () => {
    const queue = `${RUN}.a2m.in`;
    await mqtt.subscribeAsync(`${RUN}/a2m/#`, { qos: 1 });
    const received: Array<{ topic: string; body: string; props: Record<string, unknown> }> = [];
    mqtt.on('message', (topic, payload, packet) => {
      if (topic.startsWith(`${RUN}/a2m/`))
        received.push({
          topic,
          body: payload.toString(),
          props: (packet.properties?.userProperties ?? {}) as Record<string, unknown>,
        });
    });
    await createRoute({
      id: `${RUN}-a2m`,
      source: { type: 'amqp', connection: 'rabbit', queue },
      pipeline: [],
      destinations: [
        {
          type: 'mqtt',
          connection: 'mosquitto',
          topicExpression: `"${RUN}/a2m/" & $lowercase(country)`,
          qos: 2,
          headers: { 'x-via': 'junction' },
        },
      ],
    });
    await channel.assertQueue(queue, { durable: true });
    channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id: 'o-1', country: 'DE' })), {
      messageId: `${RUN}-a2m-1`,
      headers: { 'x-tenant': 't1' },
      persistent: true,
    });
    await channel.waitForConfirms();
    await eventually(() => {
      if (received.length === 0) throw new Error('nothing yet');
    });
    expect(received).toEqual([
      {
        topic: `${RUN}/a2m/de`,
        body: JSON.stringify({ id: 'o-1', country: 'DE' }),
        // The source's headers are the route's to read ($headers), not forwarded; the count of
        // routes the message went through is (it stops loops between routes).
        props: { 'junction-hops': '1', 'junction-id': `${RUN}-a2m-1`, 'x-via': 'junction' },
      },
    ]);
  }, 90_000);

  it('two gateway processes split a shared subscription; one killed and restarted loses nothing', async () => {
    const second = new Gateway(await freePort(), db.url, { JUNCTION_NODE_NAME: `e2e-${RUN}-b` });
    await second.start();
    try {
      const queue = `${RUN}.shared.out`;
      const route = {
        id: `${RUN}-shared`,
        source: {
          type: 'mqtt',
          connection: 'mosquitto',
          topic: `${RUN}/shared/in`,
          shareGroup: 'junction',
          prefetch: 20,
        },
        pipeline: [],
        destinations: [{ type: 'amqp', connection: 'rabbit', queue }],
      };
      await createRoute(route);
      await eventually(async () => {
        const s = (await second.api('GET', `/routes/${route.id}/status`)).body as { state: string };
        if (s.state !== 'running') throw new Error(s.state);
      });
      const ids = Array.from({ length: 2000 }, (_, i) => `${RUN}-shared-${i}`);
      const publishing = publishMqtt(() => `${RUN}/shared/in`, ids);
      await eventually(
        async () => {
          const both = await Promise.all([gateway, second].map((g) => g.processed(route.id)));
          if (both.some((n) => n === 0)) throw new Error(`work not shared yet: ${both.join(', ')}`);
        },
        60_000,
        'both processes consuming',
      );
      await second.kill('SIGKILL');
      await publishing;
      // Mosquitto keeps the killed member's share in its session: it comes back under its name.
      await second.start();
      const seen = await readQueue(queue, ids);
      printFigure(
        `two processes on $share, one killed: ${ids.length} ids delivered, ${duplicates(seen)} duplicates`,
      );
      expect(ids.filter((id) => !seen.has(id))).toEqual([]);
    } finally {
      await second.kill('SIGTERM').catch(() => undefined);
    }
  }, 240_000);

  it('MQTT -> AMQP: kill -9 mid-stream, restart, every id arrives', async () => {
    const queue = `${RUN}.m2a-kill.out`;
    const route = {
      id: `${RUN}-m2a-kill`,
      source: { type: 'mqtt', connection: 'mosquitto', topic: `${RUN}/kill/in`, prefetch: 50 },
      pipeline: [{ transform: '{ "id": id, "total": total }' }],
      destinations: [{ type: 'amqp', connection: 'rabbit', queue }],
    };
    await createRoute(route);
    const ids = Array.from({ length: 3000 }, (_, i) => `${RUN}-kill-${i}`);
    const publishing = publishMqtt(() => `${RUN}/kill/in`, ids);
    // Let some flow, then crash hard while messages are in flight and more arrive.
    await gateway.waitProcessed(route.id, 200);
    await gateway.kill('SIGKILL');
    await publishing; // the broker queues the rest in the route's session meanwhile
    await gateway.start();
    const seen = await readQueue(queue, ids);
    printFigure(
      `MQTT->AMQP after kill -9: ${ids.length} ids delivered, ${duplicates(seen)} duplicates`,
    );
    expect(ids.filter((id) => !seen.has(id))).toEqual([]);
  }, 240_000);
});
