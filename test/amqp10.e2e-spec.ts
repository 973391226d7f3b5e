import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { createTestDatabase } from '@junction/database';
import {
  create_container,
  message as rheaMessage,
  type Connection,
  type Message,
  type Sender,
} from 'rhea';
import { ARTEMIS, ArtemisAdmin } from '../libs/connectors/src/amqp10/artemis-admin';
import { duplicates, readAmqpQueue } from './broker-readers';
import { eventually, freePort, GatewayProcess as Gateway } from './gateway-process';
import { printFigure } from './figures';

/**
 * AMQP 1.0 through the compiled gateway, against the ActiveMQ Artemis of scripts/artemis.sh and
 * the RabbitMQ of the machine: routes from Artemis to RabbitMQ (AMQP 0-9-1) and back, and the
 * kill -9 fault test (every id must arrive; duplicates are allowed by at-least-once, and counted).
 */
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const RUN = `x${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

/** A plain rhea client of the test's own: sends to and reads from Artemis. */
class ArtemisClient {
  private constructor(private readonly connection: Connection) {}

  static async open(): Promise<ArtemisClient> {
    const connection = create_container({ id: `junction-e2e-${RUN}` }).connect({
      host: ARTEMIS.host,
      port: ARTEMIS.port,
      username: ARTEMIS.username,
      password: ARTEMIS.password,
      reconnect: false,
    });
    await new Promise<void>((resolve, reject) => {
      connection.once('connection_open', () => resolve());
      connection.once('disconnected', (context) => reject(new Error(String(context.error))));
    });
    return new ArtemisClient(connection);
  }

  /** Sends every id (JSON body, message-id, durable) and waits for each accepted outcome. */
  async send(
    address: string,
    ids: string[],
    capability: 'queue' | 'topic' = 'queue',
  ): Promise<void> {
    const sender: Sender = this.connection.open_sender({
      target: { address, capabilities: [capability] },
    });
    let next = 0;
    let accepted = 0;
    await new Promise<void>((resolve, reject) => {
      const pump = (): void => {
        while (next < ids.length && sender.sendable()) {
          const id = ids[next++];
          sender.send({
            message_id: id,
            durable: true,
            content_type: 'application/json',
            application_properties: { 'x-origin': 'artemis' },
            body: rheaMessage.data_section(Buffer.from(JSON.stringify({ id, total: 10 }))),
          });
        }
      };
      sender.on('sendable', pump);
      sender.on('accepted', () => {
        accepted += 1;
        if (accepted === ids.length) resolve();
      });
      for (const outcome of ['rejected', 'released', 'modified'])
        sender.on(outcome, () => reject(new Error(`a send was ${outcome}`)));
      sender.on('sender_error', () => reject(new Error('the sender was detached')));
    });
    sender.close();
  }

  /** Every message that arrives on a queue (accepted), by message-id, until `stop`. */
  collect(address: string): { got: Map<string, Message>; stop(): void } {
    const got = new Map<string, Message>();
    const receiver = this.connection.open_receiver({
      source: { address, capabilities: ['queue'] },
      credit_window: 100,
    });
    receiver.on('message', (context) => {
      got.set(String(context.message?.message_id), context.message!);
    });
    return { got, stop: () => receiver.close() };
  }

  close(): void {
    this.connection.close();
  }
}

describe('AMQP 1.0 (ActiveMQ Artemis) through the gateway', () => {
  let db: { url: string; drop(): Promise<void> };
  let gateway: Gateway;
  let artemis: ArtemisClient;
  let admin: ArtemisAdmin;
  let rabbit: amqp.ChannelModel;
  let channel: amqp.ConfirmChannel;
  const addresses: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('amqp10');
    artemis = await ArtemisClient.open();
    admin = await ArtemisAdmin.open();
    rabbit = await amqp.connect(AMQP_URL);
    channel = await rabbit.createConfirmChannel();
    gateway = new Gateway(await freePort(), db.url);
    await gateway.start();
    const artemisConnection = await gateway.api('POST', '/connections', {
      name: 'artemis',
      type: 'amqp10',
      config: { url: `amqp://${ARTEMIS.host}:${ARTEMIS.port}`, username: ARTEMIS.username },
      secrets: { password: ARTEMIS.password },
    });
    expect(artemisConnection.status).toBe(201);
    // The password went where it was entered for, and nowhere it can be read back.
    expect(JSON.stringify(artemisConnection.body)).not.toContain(ARTEMIS.password);
    const rabbitConnection = await gateway.api('POST', '/connections', {
      name: 'rabbit',
      type: 'amqp',
      config: { url: 'amqp://guest@127.0.0.1:5672', vhost: '/' },
      secrets: { password: 'guest' },
    });
    expect(rabbitConnection.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await gateway?.kill('SIGTERM').catch(() => undefined);
    for (const address of addresses) await admin?.deleteAddress(address).catch(() => undefined);
    await admin?.close().catch(() => undefined);
    artemis?.close();
    await channel?.close().catch(() => undefined);
    await rabbit?.close().catch(() => undefined);
    await db?.drop();
  }, 60_000);

  function address(tag: string): string {
    const name = `${RUN}.${tag}`;
    addresses.push(name);
    return name;
  }

  const readRabbit = (queue: string, ids: string[]): Promise<Map<string, number>> =>
    readAmqpQueue(rabbit, queue, ids);

  it('routes Artemis -> RabbitMQ -> Artemis with ids and bodies intact and the destination headers', async () => {
    const inbound = address('there.in');
    const middle = `${RUN}.there.mid`;
    const back = address('there.back');
    const routes = [
      {
        id: `${RUN}-a10-to-rabbit`,
        source: { type: 'amqp10', connection: 'artemis', address: inbound, prefetch: 20 },
        pipeline: [{ transform: '$merge([$, { "via": "rabbit" }])' }],
        destinations: [{ type: 'amqp', connection: 'rabbit', queue: middle }],
      },
      {
        id: `${RUN}-rabbit-to-a10`,
        source: { type: 'amqp', connection: 'rabbit', queue: middle },
        pipeline: [],
        destinations: [
          { type: 'amqp10', connection: 'artemis', address: back, headers: { 'x-hop': '2' } },
        ],
      },
    ];
    for (const route of routes) {
      const created = await gateway.api('POST', '/routes', route);
      expect({ id: route.id, status: created.status, body: created.body }).toMatchObject({
        status: 201,
      });
    }
    const ids = Array.from({ length: 50 }, (_, i) => `${RUN}-there-${i}`);
    await artemis.send(inbound, ids);

    // Read the last hop with its bodies and headers.
    const reader = artemis.collect(back);
    await eventually(() => {
      if (reader.got.size < ids.length) throw new Error(`${reader.got.size} of ${ids.length}`);
    }, 60_000);
    reader.stop();
    const read = (id: string) => {
      const message = reader.got.get(id)!;
      return {
        body: JSON.parse((message.body as { content: Buffer }).content.toString()) as unknown,
        headers: message.application_properties,
      };
    };
    expect(read(ids[7])).toMatchObject({
      body: { id: ids[7], total: 10, via: 'rabbit' },
      headers: { 'x-hop': '2' },
    });
    await channel.deleteQueue(middle);
  }, 120_000);

  it('kill -9 mid-stream (Artemis queue -> RabbitMQ), restart: every id arrives', async () => {
    const inbound = address('kill.in');
    const out = `${RUN}.kill.out`;
    const route = {
      id: `${RUN}-a10-kill`,
      source: { type: 'amqp10', connection: 'artemis', address: inbound, prefetch: 50 },
      pipeline: [{ transform: '{ "id": id, "total": total }' }],
      destinations: [{ type: 'amqp', connection: 'rabbit', queue: out }],
    };
    expect((await gateway.api('POST', '/routes', route)).status).toBe(201);
    const ids = Array.from({ length: 2000 }, (_, i) => `${RUN}-kill-${i}`);
    await artemis.send(inbound, ids);
    await gateway.waitProcessed(route.id, 200);
    await gateway.kill('SIGKILL');
    await gateway.start();
    const seen = await readRabbit(out, ids);
    const lost = ids.filter((id) => !seen.has(id)).length;
    printFigure(
      `AMQP 1.0 -> AMQP 0-9-1 after kill -9: ${ids.length} ids, ${lost} lost, ${duplicates(seen)} duplicates`,
    );
    expect(lost).toBe(0);
    await channel.deleteQueue(out);
  }, 240_000);

  it('kill -9 of a topic route (RabbitMQ -> Artemis topic -> RabbitMQ): its durable subscription keeps what comes while it is down', async () => {
    const rabbitIn = `${RUN}.sub.in`;
    const topic = address('sub.topic');
    const out = `${RUN}.sub.out`;
    const routes = [
      {
        id: `${RUN}-to-topic`,
        source: { type: 'amqp', connection: 'rabbit', queue: rabbitIn },
        pipeline: [],
        destinations: [
          { type: 'amqp10', connection: 'artemis', address: topic, capability: 'topic' },
        ],
      },
      {
        id: `${RUN}-from-topic`,
        source: { type: 'amqp10', connection: 'artemis', address: topic, capability: 'topic' },
        pipeline: [],
        destinations: [{ type: 'amqp', connection: 'rabbit', queue: out }],
      },
    ];
    for (const route of routes)
      expect((await gateway.api('POST', '/routes', route)).status).toBe(201);
    await eventually(async () => {
      const s = (await gateway.api('GET', `/routes/${routes[1].id}/status`)).body as {
        state: string;
      };
      if (s.state !== 'running') throw new Error(s.state);
    });
    const ids = Array.from({ length: 1000 }, (_, i) => `${RUN}-sub-${i}`);
    await channel.assertQueue(rabbitIn, { durable: true });
    for (const id of ids.slice(0, 500))
      channel.sendToQueue(rabbitIn, Buffer.from(JSON.stringify({ id })), {
        messageId: id,
        persistent: true,
      });
    await channel.waitForConfirms();
    await gateway.waitProcessed(routes[1].id, 100);
    await gateway.kill('SIGKILL');
    // Published into the topic while no gateway runs: only the subscription holds them.
    await artemis.send(topic, ids.slice(500), 'topic');
    await gateway.start();
    const seen = await readRabbit(out, ids);
    const lost = ids.filter((id) => !seen.has(id)).length;
    printFigure(
      `AMQP 1.0 topic after kill -9: ${ids.length} ids, ${lost} lost, ${duplicates(seen)} duplicates`,
    );
    expect(lost).toBe(0);
    await admin.destroyQueue(`junction.${routes[1].id}:global`);
    await channel.deleteQueue(rabbitIn);
    await channel.deleteQueue(out);
  }, 240_000);
});
