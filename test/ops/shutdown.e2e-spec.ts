import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import * as amqp from 'amqplib';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { eventually, freePort, GatewayProcess } from '../gateway-process';

jest.setTimeout(120_000);

// Not the pid and the time in digits: joined by a dash, they made a Luhn-valid 18- or 19-digit
// run now and then, and the gateway refuses a route id or queue holding a card number.
const RUN = `shutdown-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

/**
 * A stop with a deadline: a gateway whose destination never answers does not hang on SIGTERM. It
 * exits with code 1 after JUNCTION_SHUTDOWN_TIMEOUT_MS, says which route still had a message in
 * flight, and the message is back in its queue for the next process.
 */
describe('graceful stop: its deadline', () => {
  let db: TestDatabase;
  let connection: amqp.ChannelModel;
  let channel: amqp.ConfirmChannel;
  let stuck: Server;
  let received = 0;
  const held = new Set<import('node:http').ServerResponse>();

  beforeAll(async () => {
    db = await createTestDatabase('shutdown');
    connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    channel = await connection.createConfirmChannel();
    // Takes every request and never answers it.
    stuck = createServer((_req, res) => {
      received++;
      held.add(res);
    });
    await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const res of held) res.destroy();
    stuck.closeAllConnections();
    await new Promise((resolve) => stuck.close(resolve));
    await channel.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    await db.drop();
  });

  it('a stop held by a destination that never answers ends at the deadline, and loses nothing', async () => {
    const queue = `${RUN}.in`;
    await channel.assertQueue(queue, { durable: true });
    const gateway = new GatewayProcess(await freePort(), db.url, {
      JUNCTION_SHUTDOWN_TIMEOUT_MS: '1500',
      JUNCTION_LOG: 'error',
    });
    await gateway.start();
    try {
      const port = (stuck.address() as AddressInfo).port;
      for (const [path, body] of [
        [
          '/connections',
          {
            name: 'rabbit',
            type: 'amqp',
            config: { url: 'amqp://guest@127.0.0.1:5672' },
            secrets: { password: 'guest' },
          },
        ],
        [
          '/connections',
          {
            name: 'stuck',
            type: 'http',
            config: { baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 300_000 },
          },
        ],
        [
          '/routes',
          {
            id: `${RUN}-route`,
            source: { type: 'amqp', connection: 'rabbit', queue },
            pipeline: [],
            destinations: [{ type: 'http', connection: 'stuck', path: '/orders' }],
          },
        ],
      ] as const)
        expect((await gateway.api('POST', path, body)).status).toBe(201);
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id: 'order-1' })), {
        messageId: 'order-1',
        persistent: true,
      });
      await channel.waitForConfirms();
      await eventually(() => {
        if (received === 0) throw new Error('the destination has no request yet');
      });

      expect(await gateway.stop()).toBe(1);
      expect(gateway.process!.output()).toMatch(
        new RegExp(
          `the stop did not finish within 1500 ms; exiting without finishing: route ${RUN}-route: 1 message\\(s\\) in flight`,
        ),
      );
      // Not acknowledged, so back in its queue.
      await eventually(async () => {
        const { messageCount } = await channel.checkQueue(queue);
        if (messageCount !== 1) throw new Error(`${messageCount} in the queue`);
      });
    } finally {
      await gateway.kill();
      await channel.deleteQueue(queue).catch(() => undefined);
    }
  });

  it('brokers (Kafka, AMQP 0-9-1 and 1.0, MQTT) that never finish their handshake do not hold the stop: it ends cleanly at once', async () => {
    // Takes connections and never says a word: a wedged broker, or a port that swallows traffic.
    const sockets = new Set<Socket>();
    const silent = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    // Far below kafkajs' request time-outs and retries (30 s and more) that held the stop before.
    const gateway = new GatewayProcess(await freePort(), db.url, {
      JUNCTION_SHUTDOWN_TIMEOUT_MS: '8000',
      JUNCTION_LOG: 'error',
    });
    await gateway.start();
    try {
      for (const [path, body] of [
        [
          '/connections',
          { name: 'wedged-kafka', type: 'kafka', config: { brokers: [`127.0.0.1:${port}`] } },
        ],
        [
          '/connections',
          { name: 'wedged-amqp', type: 'amqp', config: { url: `amqp://127.0.0.1:${port}` } },
        ],
        [
          '/connections',
          { name: 'wedged-mqtt', type: 'mqtt', config: { url: `mqtt://127.0.0.1:${port}` } },
        ],
        [
          '/connections',
          { name: 'wedged-amqp10', type: 'amqp10', config: { url: `amqp://127.0.0.1:${port}` } },
        ],
        [
          '/routes',
          {
            id: `${RUN}-mqtt`,
            source: { type: 'mqtt', connection: 'wedged-mqtt', topic: `${RUN}/in` },
            destinations: [{ type: 'log' }],
          },
        ],
        [
          '/routes',
          {
            id: `${RUN}-amqp10`,
            source: { type: 'amqp10', connection: 'wedged-amqp10', address: `${RUN}.in` },
            destinations: [{ type: 'log' }],
          },
        ],
        [
          '/routes',
          {
            id: `${RUN}-kafka`,
            source: { type: 'kafka', connection: 'wedged-kafka', topic: `${RUN}.topic` },
            destinations: [{ type: 'log' }],
          },
        ],
        [
          '/routes',
          {
            id: `${RUN}-amqp`,
            source: { type: 'amqp', connection: 'wedged-amqp', queue: `${RUN}.wedged` },
            destinations: [{ type: 'log' }],
          },
        ],
      ] as const)
        expect((await gateway.api('POST', path, body)).status).toBe(201);
      // Every source is connecting to it; none will ever get an answer.
      const routes = ['kafka', 'amqp', 'mqtt', 'amqp10'].map((kind) => `${RUN}-${kind}`);
      await eventually(() => {
        if (sockets.size < routes.length) throw new Error(`${sockets.size} connections so far`);
      });
      for (const id of routes) {
        const { body } = await gateway.api('GET', `/routes/${id}/status`);
        expect((body as { state: string }).state).toBe('connecting');
      }

      expect(await gateway.stop()).toBe(0);
      expect(gateway.process!.output()).not.toMatch(/the stop did not finish/);
    } finally {
      await gateway.kill();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
