/**
 * Message priorities through routes, on the real RabbitMQ (AMQP_URL, default
 * amqp://guest:guest@127.0.0.1:5672): a route gives each message its priority from the body, and
 * a route reading the priority queue hands the urgent ones on ahead of a backlog.
 */
import { randomUUID } from 'node:crypto';
import * as amqplib from 'amqplib';
import { CONNECTORS, ConnectorPool, type RouteSpec } from '@junction/connectors';
import { JsonataEngine } from '@junction/pipeline';
import type { DeadLettersRepository } from './dead-letters.repository';
import type { MessageAuditSink } from './message-audit';
import { RouteWorker } from './route-worker';

const BROKER = new URL(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
const RUN = randomUUID().slice(0, 8);
const rabbit = {
  name: `priority-${RUN}`,
  config: { url: `amqp://${BROKER.username || 'guest'}@${BROKER.host}`, vhost: '/' },
  secrets: { password: decodeURIComponent(BROKER.password) || 'guest' },
};
const queue = (tag: string) => `junction.test.${RUN}.${tag}`;
const CALLS_IN = queue('calls.in');
const CALLS_PRIORITY = queue('calls.priority');
const CALLS_OUT = queue('calls.out');

let admin: amqplib.ChannelModel;
let channel: amqplib.ConfirmChannel;
const pool = new ConnectorPool();

beforeAll(async () => {
  admin = await amqplib.connect(BROKER.href);
  channel = await admin.createConfirmChannel();
});

afterAll(async () => {
  await pool.close();
  for (const q of [CALLS_IN, CALLS_PRIORITY, CALLS_OUT])
    await channel.deleteQueue(q).catch(() => undefined);
  await admin.close();
});

/** Runs `document` until `count` messages were delivered, then stops it. */
async function runUntilDelivered(document: RouteSpec, count: number): Promise<void> {
  let delivered = 0;
  let done!: () => void;
  let failed!: (err: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  const audit: MessageAuditSink = {
    record: (record) => {
      if (record.outcome !== 'delivered')
        failed(new Error(`${record.messageId} was ${record.outcome}: ${record.error?.message}`));
      else if (++delivered === count) done();
      return Promise.resolve();
    },
  };
  const worker = await RouteWorker.create(
    { id: document.id, version: 1, document },
    {
      connectors: {
        source: (spec, conn, opts) => pool.source(spec, conn, opts),
        destination: (spec, conn) => {
          if (spec.type === 'log' || !conn) throw new Error('broker destinations only');
          return pool.destination(spec, conn);
        },
      },
      connection: () => Promise.resolve(rabbit),
      resources: {
        expressions: new JsonataEngine(),
        hmacKey: Buffer.from('test'),
        protocols: CONNECTORS,
      },
      deadLetters: {
        park: () => Promise.reject(new Error('no message should be dead-lettered')),
      } as unknown as DeadLettersRepository,
      audit,
      log: { log: () => undefined, warn: () => undefined, error: console.error },
    },
  );
  await worker.start();
  try {
    await finished;
  } finally {
    await worker.stop();
  }
}

async function drain(name: string): Promise<Array<{ seq: number; priority?: number }>> {
  const got: Array<{ seq: number; priority?: number }> = [];
  for (;;) {
    const message = await channel.get(name, { noAck: true });
    if (!message) return got;
    const { seq } = JSON.parse(message.content.toString()) as { seq: number };
    got.push({ seq, priority: message.properties.priority as number | undefined });
  }
}

describe('message priority through routes', () => {
  it('lets urgent calls overtake a backlog: priority set by one route, honoured by the next', async () => {
    // 30 routine calls, then 5 urgent ones, in that order on a plain queue.
    await channel.assertQueue(CALLS_IN, { durable: true });
    const calls = Array.from({ length: 35 }, (_, seq) => ({ seq, urgent: seq >= 30 }));
    for (const call of calls)
      channel.sendToQueue(CALLS_IN, Buffer.from(JSON.stringify(call)), {
        messageId: `call-${RUN}-${call.seq}`,
        persistent: true,
      });
    await channel.waitForConfirms();

    // The first route classifies: each call goes to the priority queue with its priority.
    await runUntilDelivered(
      {
        id: 'classify-calls',
        source: { type: 'amqp', connection: rabbit.name, queue: CALLS_IN, prefetch: 1 },
        destinations: [
          {
            type: 'amqp',
            connection: rabbit.name,
            queue: CALLS_PRIORITY,
            maxPriority: 10,
            priority: 'urgent ? 9 : 1',
          },
        ],
      },
      calls.length,
    );

    // The second reads the priority queue, with its backlog of 35, one at a time.
    await runUntilDelivered(
      {
        id: 'dispatch-calls',
        source: {
          type: 'amqp',
          connection: rabbit.name,
          queue: CALLS_PRIORITY,
          maxPriority: 10,
          prefetch: 1,
        },
        destinations: [{ type: 'amqp', connection: rabbit.name, queue: CALLS_OUT }],
      },
      calls.length,
    );
    const dispatched = await drain(CALLS_OUT);
    expect(dispatched.map((c) => c.seq)).toEqual([
      30,
      31,
      32,
      33,
      34,
      ...Array.from({ length: 30 }, (_, seq) => seq),
    ]);
  });
});
