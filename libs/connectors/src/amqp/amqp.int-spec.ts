/**
 * AMQP connectors against the real RabbitMQ (AMQP_URL, default amqp://guest:guest@127.0.0.1:5672).
 * The broker-side disruption uses `rabbitmqctl` (RABBITMQCTL overrides the command, e.g.
 * `docker compose exec -T rabbitmq rabbitmqctl`).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import * as amqplib from 'amqplib';
import type { AmqpDestinationSpec, AmqpSourceSpec } from './amqp.protocol';
import { describeConformance, testMessages } from '../conformance/conformance';
import { deferred, until } from '../conformance/eventually';
import { TcpProxy } from '../conformance/tcp-proxy';
import { testLogger } from '../conformance/test-logger';
import {
  MAX_REPLY_BYTES,
  ConnectorError,
  type ConnectorConnection,
  type InboundMessage,
  type SentRequest,
} from '../connector';
import { ConnectorPool } from '../connector-pool';

const run = execFilePromise();
const BROKER = new URL(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
const RUN = randomUUID().slice(0, 8);
const CTL = (process.env.RABBITMQCTL ?? 'rabbitmqctl').split(' ');

function execFilePromise(): (file: string, args: string[]) => Promise<string> {
  const exec = promisify(execFile);
  return async (file, args) => (await exec(file, args)).stdout;
}

/** A stored connection as the registry would hand it over (password in secrets, not the URL). */
function connectionTo(name: string, host: string, port: number): ConnectorConnection {
  return {
    name,
    config: { url: `amqp://${BROKER.username || 'guest'}@${host}:${port}`, vhost: '/' },
    secrets: { password: decodeURIComponent(BROKER.password) || 'guest' },
  };
}

/** Publishes to a queue (argv: url, queue) two messages with deep headers, then a plain one. */
const PUBLISH_DEEP = `
const amqp = require(${JSON.stringify(require.resolve('amqplib'))});
(async () => {
  const [url, queue] = process.argv.slice(1);
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  for (const depth of [3000, 8000]) {
    let deep = 'x';
    for (let i = 0; i < depth; i++) deep = { a: deep };
    const id = 'm-' + depth;
    channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id })), { messageId: id, headers: { deep } });
  }
  channel.sendToQueue(queue, Buffer.from('{"id":"m-next"}'), { messageId: 'm-next' });
  await channel.waitForConfirms();
  await connection.close();
})().catch((err) => { console.error(err); process.exit(1); });
`;

/** rabbitmqctl itself: `rabbitmqctl <args>`. */
const rabbitmqctl = (...args: string[]) => run(CTL[0], [...CTL.slice(1), ...args]);

/** The rows of `rabbitmqctl list_<what>` with `columns`, tab-separated, without headers. */
async function brokerList(what: 'connections' | 'queues', ...columns: string[]): Promise<string[]> {
  const out = await rabbitmqctl(`list_${what}`, '-q', '--no-table-headers', ...columns);
  return out.split('\n');
}

/** Broker-side process ids of the connections a pool opened for the stored connection `name`. */
async function brokerConnections(name: string): Promise<string[]> {
  return (await brokerList('connections', 'pid', 'client_properties'))
    .filter((line) => line.includes(`"connection_name","junction:${name}"`))
    .map((line) => line.split('\t')[0]);
}

async function closeFromBroker(name: string): Promise<void> {
  const pids = await brokerConnections(name);
  if (pids.length === 0) throw new Error(`no broker connection named junction:${name}`);
  for (const pid of pids) await rabbitmqctl('close_connection', pid, 'test');
}

let admin: amqplib.ChannelModel;
let adminChannel: amqplib.Channel;
let queueCount = 0;
const createdQueues = new Set<string>();

function freshQueue(tag: string): string {
  queueCount += 1;
  const queue = `junction.test.${RUN}.${tag}.${queueCount}`;
  createdQueues.add(queue);
  return queue;
}

beforeAll(async () => {
  admin = await amqplib.connect(BROKER.href);
  adminChannel = await admin.createChannel();
});

afterAll(async () => {
  for (const queue of createdQueues) await adminChannel.deleteQueue(queue).catch(() => undefined);
  await admin.close();
});

describeConformance(
  'amqp',
  async () => {
    const proxy = await TcpProxy.start(BROKER.hostname, Number(BROKER.port || 5672));
    const name = `conformance-${RUN}`;
    const connection = connectionTo(name, '127.0.0.1', proxy.port);
    const pool = new ConnectorPool({
      logger: testLogger(),
      amqp: { reconnectInitialMs: 200, reconnectMaxMs: 2_000, publishTimeoutMs: 5_000 },
    });
    return {
      ordering: 'prefetch-1',
      concurrency: 'prefetch',
      disruptions: {
        'the broker closing the connection': () => closeFromBroker(name),
        'a dropped socket': async () => {
          expect(proxy.connections).toBeGreaterThan(0);
          proxy.dropAll();
        },
      },
      async fixture() {
        const queue = freshQueue('conf');
        const sourceSpec = (prefetch?: number): AmqpSourceSpec => ({
          type: 'amqp',
          connection: name,
          queue,
          prefetch,
        });
        const destinationSpec: AmqpDestinationSpec = { type: 'amqp', connection: name, queue };
        return {
          source: (options) =>
            pool.source(sourceSpec(options?.prefetch), connection, { routeId: 'conformance' }),
          destination: () => pool.destination(destinationSpec, connection),
          backlog: async () => (await adminChannel.checkQueue(queue)).messageCount,
          dispose: async () => {
            await adminChannel.deleteQueue(queue);
            createdQueues.delete(queue);
          },
        };
      },
      async close() {
        await pool.close();
        await proxy.close();
      },
    };
  },
  { disruptions: ['the broker closing the connection', 'a dropped socket'] },
);

describe('amqp connectors', () => {
  const name = `amqp-${RUN}`;
  const connection = connectionTo(name, BROKER.hostname, Number(BROKER.port || 5672));
  const logger = testLogger();
  let pool: ConnectorPool;

  beforeAll(() => {
    pool = new ConnectorPool({ logger, amqp: { startTimeoutMs: 3_000, publishTimeoutMs: 3_000 } });
  });

  afterAll(async () => {
    await pool.close();
  });

  it('shares one broker connection per stored connection, and closes it when its last user goes', async () => {
    const own = new ConnectorPool({ logger: testLogger() });
    const sharedName = `shared-${RUN}`;
    const shared = connectionTo(sharedName, BROKER.hostname, Number(BROKER.port || 5672));
    const sources = [freshQueue('shared'), freshQueue('shared')].map((queue, i) =>
      own.source({ type: 'amqp', connection: sharedName, queue }, shared, { routeId: `r${i}` }),
    );
    try {
      for (const source of sources) await source.start(async () => undefined);
      const destination = own.destination(
        { type: 'amqp', connection: sharedName, queue: freshQueue('shared') },
        shared,
      );
      await destination.send(testMessages('shared', 1)[0]);
      expect(await brokerConnections(sharedName)).toHaveLength(1);
      expect(own.openClients).toBe(1);
      for (const source of sources) await source.stop();
      await sources[0].stop(); // a second stop gives nothing back twice
      expect(own.openClients).toBe(1); // the destination still uses it
      await destination.close();
      // A stopped route keeps no broker connection: the pool is still open, the client is not.
      expect(own.openClients).toBe(0);
      await until(
        async () => (await brokerConnections(sharedName)).length === 0,
        'the pool to close the unused connection',
      );
      // The next user opens a new one.
      const again = own.destination(
        { type: 'amqp', connection: sharedName, queue: freshQueue('shared') },
        shared,
      );
      await again.send(testMessages('shared', 1)[0]);
      expect(own.openClients).toBe(1);
    } finally {
      await own.close();
    }
    await until(
      async () => (await brokerConnections(sharedName)).length === 0,
      'the pool to close its connection',
    );
  });

  it('connects a destination as it is made: up for readiness before its first send', async () => {
    // Connected on the first send only, an HTTP-fed route's AMQP connection kept /health/ready at
    // 503 ("connecting") until a message came, which an orchestrator never sends to an unready one.
    const own = new ConnectorPool({ logger: testLogger() });
    const eagerName = `eager-${RUN}`;
    const eager = connectionTo(eagerName, BROKER.hostname, Number(BROKER.port || 5672));
    const queue = freshQueue('eager');
    try {
      const destination = own.destination({ type: 'amqp', connection: eagerName, queue }, eager);
      await until(
        async () => own.connectionStates().some((s) => s.connection === eagerName && s.up),
        'the destination to connect without a send',
      );
      // Its queue is declared too: a destination that cannot be set up says so at once.
      await until(async () => {
        // A channel of its own: checking a queue that is not there closes the channel.
        const channel = await admin.createChannel();
        channel.on('error', () => undefined);
        return channel.checkQueue(queue).then(
          () => channel.close().then(() => true),
          () => false,
        );
      }, 'the queue to be declared');
      await destination.close();
    } finally {
      await own.close();
    }
  });

  it('declares the source queue durable and publishes persistent JSON messages with id and headers', async () => {
    const queue = freshQueue('props');
    const source = pool.source({ type: 'amqp', connection: name, queue }, connection, {
      routeId: 'props',
    });
    await source.start(async () => undefined);
    await source.stop();
    // Re-declaring it non-durable must fail: the source declared it durable.
    const probe = await admin.createChannel();
    probe.on('error', () => undefined);
    await expect(probe.assertQueue(queue, { durable: false })).rejects.toMatchObject({
      code: 406,
    });

    const destination = pool.destination(
      { type: 'amqp', connection: name, queue, headers: { 'x-from-spec': 'yes' } },
      connection,
    );
    const [message] = testMessages('props', 1);
    await expect(destination.send(message)).resolves.toEqual({
      kind: 'amqp',
      exchange: '',
      routingKey: queue,
    });
    await destination.close();
    let got: amqplib.GetMessage | false = false;
    await until(async () => {
      got = await adminChannel.get(queue, { noAck: true });
      return got !== false;
    }, 'the published message');
    const { properties, content } = got as unknown as amqplib.GetMessage;
    expect(content.equals(message.body)).toBe(true);
    expect(properties).toMatchObject({
      deliveryMode: 2,
      contentType: 'application/json',
      messageId: message.id,
      headers: { ...message.headers, 'x-from-spec': 'yes' },
    });
  });

  it('stringifies AMQP header values for the handler', async () => {
    const queue = freshQueue('headers');
    const source = pool.source({ type: 'amqp', connection: name, queue }, connection, {
      routeId: 'headers',
    });
    const received = deferred<InboundMessage>();
    await source.start(async (message) => received.resolve(message));
    try {
      adminChannel.sendToQueue(queue, Buffer.from('not json at all'), {
        messageId: 'm-1',
        headers: {
          n: 42,
          yes: true,
          text: 'x',
          nested: { a: [1, 'b'] },
          // Read as a Number, it arrived as 1152921504606846976.
          big: { '!': 'int64', value: 1152921504606846977n },
          bigs: [{ '!': 'int64', value: -9223372036854775807n }],
        },
      });
      const message = await received.promise;
      expect(message).toMatchObject({
        id: 'm-1',
        headers: {
          n: '42',
          yes: 'true',
          text: 'x',
          nested: '{"a":[1,"b"]}',
          big: '1152921504606846977',
          bigs: '["-9223372036854775807"]',
        },
        source: { type: 'amqp', name: queue },
        redelivered: false,
      });
      expect(message.payload.toString()).toBe('not json at all');
    } finally {
      await source.stop();
    }
  });

  it('hands over messages whose headers nest too deep as unreadable, and goes on', async () => {
    // A table nested 3,000 levels (21 KB) overflowed the stack where the source read its
    // headers: the message was neither handed over nor acked, and held its prefetch slot (here
    // the only one) until the channel closed. At 8,000 levels (56 KB; a frame holds 18,000)
    // amqplib's own decoder overflowed while it read the frame: the connection closed, and every
    // reconnect got the message again (patches/amqplib: deeper than 128 levels stays bytes).
    const queue = freshQueue('deep');
    const source = pool.source({ type: 'amqp', connection: name, queue, prefetch: 1 }, connection, {
      routeId: 'deep',
    });
    const received: InboundMessage[] = [];
    await source.start(async (message) => {
      received.push(message);
    });
    try {
      // amqplib's encoder recurses too: the sender gets a larger stack in a process of its own.
      await run(process.execPath, ['--stack-size=4000', '-e', PUBLISH_DEEP, BROKER.href, queue]);
      await until(async () => received.length === 3, 'the three messages handed over');
      const reason = 'its headers cannot be read: a header value is nested deeper than 64 levels';
      expect(received.map((m) => [m.id, m.unreadable])).toEqual([
        ['m-3000', reason],
        ['m-8000', reason],
        ['m-next', undefined],
      ]);
      expect(received[0].payload.toString()).toBe('{"id":"m-3000"}');
      await source.stop();
      // Acknowledged, all: none went back to the queue when the source stopped.
      expect((await adminChannel.checkQueue(queue)).messageCount).toBe(0);
    } finally {
      await source.stop();
    }
  }, 30_000);

  it('publishes to an exchange with the routing key, and refuses what no queue would get', async () => {
    const exchange = `junction.test.${RUN}.orders`;
    const queue = freshQueue('routed');
    await adminChannel.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
    await adminChannel.assertQueue(queue, { durable: true });
    await adminChannel.bindQueue(queue, exchange, 'eu.*');
    const destination = pool.destination({ type: 'amqp', connection: name, exchange }, connection);
    try {
      const [routed, unroutable] = testMessages('routed', 2);
      await expect(destination.send({ ...routed, routingKey: 'eu.de' })).resolves.toEqual({
        kind: 'amqp',
        exchange,
        routingKey: 'eu.de',
      });
      await expect(destination.send({ ...unroutable, routingKey: 'us.ca' })).rejects.toMatchObject({
        code: 'REJECTED',
        retryable: false,
      });
      await until(
        async () => (await adminChannel.checkQueue(queue)).messageCount === 1,
        'the routed message in its queue',
      );
    } finally {
      await destination.close();
      await adminChannel.deleteExchange(exchange);
    }
  });

  it('declares a deleted queue of a queue destination again: the retry delivers', async () => {
    const queue = freshQueue('deleted');
    const destination = pool.destination({ type: 'amqp', connection: name, queue }, connection);
    try {
      const [before, lost, retried, after] = testMessages('deleted', 4);
      await expect(destination.send(before)).resolves.toMatchObject({ routingKey: queue });
      await adminChannel.deleteQueue(queue);
      // The publish that finds the queue gone fails, retryably (not REJECTED: it is not the
      // message's fault, and a route would dead-letter every message that came after).
      await expect(destination.send(lost)).rejects.toMatchObject({
        code: 'CLOSED',
        retryable: true,
      });
      await expect(destination.send(retried)).resolves.toMatchObject({ routingKey: queue });
      await expect(destination.send(after)).resolves.toMatchObject({ routingKey: queue });
      const ids: string[] = [];
      await until(async () => {
        for (let got; (got = await adminChannel.get(queue, { noAck: true }));)
          ids.push(String(got.properties.messageId));
        return ids.length >= 2;
      }, 'the messages sent after the queue was deleted');
      expect(ids).toEqual([retried.id, after.id]);
      const probe = await admin.createChannel();
      probe.on('error', () => undefined);
      // Declared as the destination declares it: durable.
      await expect(probe.assertQueue(queue, { durable: false })).rejects.toMatchObject({
        code: 406,
      });
    } finally {
      await destination.close();
    }
  });

  it('rejects a publish to a missing exchange for good, and recovers its channel once it exists', async () => {
    const exchange = `junction.test.${RUN}.later`;
    const queue = freshQueue('later');
    const destination = pool.destination({ type: 'amqp', connection: name, exchange }, connection);
    try {
      const [first, second] = testMessages('later', 2);
      const failure = await destination.send({ ...first, routingKey: queue }).catch((e) => e);
      expect(failure).toBeInstanceOf(ConnectorError);
      expect(failure).toMatchObject({ code: 'REJECTED', retryable: false });
      expect(failure.message).toContain('NOT_FOUND');

      await adminChannel.assertExchange(exchange, 'direct', { durable: false });
      await adminChannel.assertQueue(queue, { durable: true });
      await adminChannel.bindQueue(queue, exchange, queue);
      await expect(destination.send({ ...second, routingKey: queue })).resolves.toMatchObject({
        kind: 'amqp',
      });
    } finally {
      await destination.close();
      await adminChannel.deleteExchange(exchange).catch(() => undefined);
    }
  });

  it('fails to start, naming the cause, when the queue exists with other arguments', async () => {
    const queue = freshQueue('clash');
    await adminChannel.assertQueue(queue, { durable: false });
    const source = pool.source({ type: 'amqp', connection: name, queue }, connection, {
      routeId: 'clash',
    });
    const failure = await source.start(async () => undefined).catch((e) => e);
    expect(failure).toBeInstanceOf(ConnectorError);
    expect(failure.message).toContain('PRECONDITION_FAILED');
    await source.stop();
  });

  it('fails a send with a retryable error while the broker cannot be reached', async () => {
    const own = new ConnectorPool({
      logger: testLogger(),
      amqp: { publishTimeoutMs: 500, connectTimeoutMs: 500 },
    });
    try {
      // Port 9 (discard) is closed on the test machine: every connect attempt is refused.
      const nowhere = connectionTo(`nowhere-${RUN}`, '127.0.0.1', 9);
      const destination = own.destination(
        { type: 'amqp', connection: nowhere.name, queue: 'never' },
        nowhere,
      );
      await expect(destination.send(testMessages('nowhere', 1)[0])).rejects.toMatchObject({
        code: 'UNREACHABLE',
        retryable: true,
      });
      await destination.close();
    } finally {
      await own.close();
    }
  });

  describe('request-reply through direct reply-to', () => {
    /** A service on `queue`: collects requests, answers them when told to (in any order). */
    async function responder(queue: string) {
      const channel = await admin.createChannel();
      await channel.assertQueue(queue, { durable: true });
      const waiting: amqplib.ConsumeMessage[] = [];
      await channel.consume(queue, (msg) => msg && waiting.push(msg), { noAck: true });
      return {
        waiting,
        answer(msg: amqplib.ConsumeMessage, body: string) {
          channel.sendToQueue(msg.properties.replyTo as string, Buffer.from(body), {
            correlationId: msg.properties.correlationId as string,
          });
        },
        close: () => channel.close(),
      };
    }

    it('matches each answer to its request by correlation id, whatever the order', async () => {
      const queue = freshQueue('rpc');
      const service = await responder(queue);
      const destination = pool.destination(
        { type: 'amqp', connection: name, queue, reply: true },
        connection,
      );
      try {
        const messages = testMessages('rpc', 10);
        const sent = await Promise.all(messages.map((m) => destination.request!(m, 5_000)));
        expect(sent[0].receipt).toEqual({ kind: 'amqp', exchange: '', routingKey: queue });
        await until(async () => service.waiting.length === 10, 'the requests to arrive');
        expect(service.waiting[0].properties.replyTo).toMatch(/^amq\.rabbitmq\.reply-to/);
        // Answer last to first, each with the id of the message it answers.
        for (const msg of [...service.waiting].reverse())
          service.answer(msg, `answer to ${msg.properties.messageId as string}`);
        const replies = await Promise.all(sent.map((s) => s.reply));
        replies.forEach((r, i) => expect(r.body.toString()).toBe(`answer to ${messages[i].id}`));
      } finally {
        await destination.close();
        await service.close();
      }
    });

    it('refuses an answer larger than a reply may be, and takes the next one', async () => {
      const queue = freshQueue('rpc-large');
      const service = await responder(queue);
      const destination = pool.destination(
        { type: 'amqp', connection: name, queue, reply: true },
        connection,
      );
      try {
        const [large, small] = testMessages('rpc-large', 2);
        const first = await destination.request!(large, 10_000);
        await until(async () => service.waiting.length === 1, 'the first request');
        // RabbitMQ carries up to 128 MB; it would reach the HTTP caller whole.
        service.answer(service.waiting[0], 'x'.repeat(MAX_REPLY_BYTES + 1));
        await expect(first.reply).rejects.toMatchObject({
          code: 'REJECTED',
          retryable: false,
          message: expect.stringContaining(`larger than ${MAX_REPLY_BYTES}`),
        });
        const second = await destination.request!(small, 10_000);
        await until(async () => service.waiting.length === 2, 'the second request');
        service.answer(service.waiting[1], 'x'.repeat(MAX_REPLY_BYTES));
        expect((await second.reply).body.length).toBe(MAX_REPLY_BYTES);
      } finally {
        await destination.close();
        await service.close();
      }
    });

    it('times out a request nobody answers, and tells a waiter at once when its channel dies', async () => {
      const queue = freshQueue('rpc-silent');
      const service = await responder(queue);
      const own = new ConnectorPool({
        logger: testLogger(),
        amqp: { reconnectInitialMs: 100, reconnectMaxMs: 500, publishTimeoutMs: 3_000 },
      });
      const ownName = `rpc-${RUN}`;
      const ownConnection = connectionTo(ownName, BROKER.hostname, Number(BROKER.port || 5672));
      const destination = own.destination(
        { type: 'amqp', connection: ownName, queue, reply: true },
        ownConnection,
      );
      try {
        const [quiet, lost] = testMessages('rpc-silent', 2);
        const first = await destination.request!(quiet, 300);
        await expect(first.reply).rejects.toMatchObject({ code: 'TIMEOUT' });
        const second = await destination.request!(lost, 30_000);
        const started = Date.now();
        await closeFromBroker(ownName);
        await expect(second.reply).rejects.toMatchObject({
          code: 'CLOSED',
          message: expect.stringContaining('reply lost'),
        });
        expect(Date.now() - started).toBeLessThan(5_000);
        // After the reconnect, requests are answered again.
        let again: SentRequest | undefined;
        await until(async () => {
          again = await destination.request!(testMessages('rpc-again', 1)[0], 5_000);
          return true;
        }, 'a request after the reconnect');
        await until(async () => service.waiting.length === 3, 'the third request');
        service.answer(service.waiting[2], 'back');
        expect((await again!.reply).body.toString()).toBe('back');
      } finally {
        await destination.close();
        await own.close();
        await service.close();
      }
    });
  });

  it('publishes priorities onto a priority queue, whose source hands out the urgent messages first', async () => {
    const queue = freshQueue('priority');
    const destination = pool.destination(
      { type: 'amqp', connection: name, queue, maxPriority: 10 },
      connection,
    );
    // A backlog of 20 routine messages, then 5 urgent ones, all confirmed before anyone reads.
    const backlog = testMessages('routine', 20).map((m) => ({ ...m, priority: 1 }));
    const urgent = testMessages('urgent', 5, 20).map((m) => ({ ...m, priority: 9 }));
    await Promise.all(backlog.map((m) => destination.send(m)));
    await Promise.all(urgent.map((m) => destination.send(m)));
    await destination.close();
    const peek = await adminChannel.get(queue, { noAck: false });
    expect(peek && peek.properties.priority).toBe(9);
    if (peek) adminChannel.nack(peek, false, true);

    const seen: string[] = [];
    const all = deferred();
    const source = pool.source(
      { type: 'amqp', connection: name, queue, maxPriority: 10, prefetch: 1 },
      connection,
      { routeId: 'priority' },
    );
    await source.start(async (message: InboundMessage) => {
      seen.push(message.id!);
      if (seen.length === 25) all.resolve();
    });
    try {
      await all.promise;
    } finally {
      await source.stop();
    }
    expect(seen.slice(0, 5).sort()).toEqual(urgent.map((m) => m.id).sort());
    expect(seen.slice(5)).toEqual(backlog.map((m) => m.id));
  });

  describe('coalesced acks', () => {
    /** The broker's count of messages handed out on `queue` and not acknowledged yet. */
    async function unacked(queue: string): Promise<number> {
      const rows = await brokerList('queues', 'name', 'messages_unacknowledged');
      const line = rows.find((l) => l.split(/\s+/)[0] === queue);
      return Number(line?.trim().split(/\s+/)[1] ?? NaN);
    }

    /** Every ack frame amqplib sends meanwhile (the real channel class's method, watched). */
    function watchAcks(): { frames: Array<{ tag: number; multiple: boolean }>; restore(): void } {
      // The source's channels are of the class of this one (amqplib's channel model).
      const proto = Object.getPrototypeOf(adminChannel) as {
        ack(message: amqplib.Message, allUpTo?: boolean): void;
      };
      const frames: Array<{ tag: number; multiple: boolean }> = [];
      const original = proto.ack;
      const spy = jest.spyOn(proto, 'ack').mockImplementation(function (
        this: unknown,
        message,
        allUpTo,
      ) {
        frames.push({ tag: message.fields.deliveryTag, multiple: allUpTo === true });
        original.call(this, message, allUpTo);
      });
      return { frames, restore: () => spy.mockRestore() };
    }

    it('acks the messages that finish in one turn with one frame', async () => {
      const queue = freshQueue('acks-together');
      const release = deferred();
      const handled = deferred();
      let count = 0;
      const source = pool.source(
        { type: 'amqp', connection: name, queue, prefetch: 20 },
        connection,
        { routeId: 'acks-together' },
      );
      await source.start(async () => {
        if (++count === 10) handled.resolve();
        await release.promise; // all ten finish together, as a group commit ends them
      });
      const acks = watchAcks();
      try {
        for (let i = 0; i < 10; i++) adminChannel.sendToQueue(queue, Buffer.from(`{"n":${i}}`));
        await handled.promise;
        expect(await unacked(queue)).toBe(10);
        release.resolve();
        await until(async () => (await unacked(queue)) === 0, 'the ten acked');
        expect(acks.frames).toEqual([{ tag: 10, multiple: true }]);
      } finally {
        acks.restore();
        await source.stop();
      }
    });

    it('never holds an ack behind an older message that still runs', async () => {
      const queue = freshQueue('acks-older');
      const oldest = deferred();
      const started = deferred();
      const source = pool.source(
        { type: 'amqp', connection: name, queue, prefetch: 20 },
        connection,
        { routeId: 'acks-older' },
      );
      await source.start(async (message) => {
        if (message.id === 'old') {
          started.resolve();
          await oldest.promise; // e.g. waiting to retry a destination that is down
        }
      });
      const acks = watchAcks();
      try {
        adminChannel.sendToQueue(queue, Buffer.from('{}'), { messageId: 'old' });
        await started.promise;
        for (let i = 0; i < 5; i++)
          adminChannel.sendToQueue(queue, Buffer.from('{}'), { messageId: `new-${i}` });
        // The five newer ones are acked while the old one runs: one frame each, none covering it.
        await until(async () => (await unacked(queue)) === 1, 'only the old one unacked');
        expect(acks.frames.filter((f) => f.tag === 1)).toEqual([]);
        expect(acks.frames.every((f) => !f.multiple)).toBe(true);
        oldest.resolve();
        await until(async () => (await unacked(queue)) === 0, 'the old one acked too');
        expect(acks.frames.at(-1)).toEqual({ tag: 1, multiple: true });
      } finally {
        oldest.resolve();
        acks.restore();
        await source.stop();
      }
    });
  });

  describe('batched confirms', () => {
    /** Publishes through the default exchange: the destination declares nothing (the test's queue has arguments). */
    function straightTo(batch: { size: number; lingerMs: number }) {
      return pool.destination({ type: 'amqp', connection: name, exchange: '', batch }, connection);
    }

    async function queued(queue: string): Promise<string[]> {
      const ids: string[] = [];
      for (;;) {
        const message = await adminChannel.get(queue, { noAck: true });
        if (!message) return ids;
        ids.push(String(message.properties.messageId));
      }
    }

    it('settles each send of a batch by its own confirm: what a full queue nacks fails, the rest is delivered', async () => {
      const queue = freshQueue('full');
      await adminChannel.assertQueue(queue, {
        durable: true,
        arguments: { 'x-max-length': 3, 'x-overflow': 'reject-publish' },
      });
      // One batch: the six sends go out together once the linger is over.
      const destination = straightTo({ size: 100, lingerMs: 50 });
      try {
        const messages = testMessages('full', 6).map((m) => ({ ...m, routingKey: queue }));
        const results = await Promise.allSettled(messages.map((m) => destination.send(m)));
        expect(results.map((r) => r.status)).toEqual([
          'fulfilled',
          'fulfilled',
          'fulfilled',
          'rejected',
          'rejected',
          'rejected',
        ]);
        for (const r of results.slice(3))
          expect((r as PromiseRejectedResult).reason).toMatchObject({
            code: 'REJECTED',
            retryable: true,
          });
        expect(await queued(queue)).toEqual(messages.slice(0, 3).map((m) => m.id));
      } finally {
        await destination.close();
      }
    });

    it('fails every unconfirmed send of a batch whose channel the broker closed, retryably, and the culprit alone for good', async () => {
      const queue = freshQueue('poison');
      await adminChannel.assertQueue(queue, { durable: true });
      const destination = straightTo({ size: 10, lingerMs: 300 });
      try {
        const messages = testMessages('poison', 10).map((m) => ({ ...m, routingKey: queue }));
        // RabbitMQ refuses a CC header that is not a list by closing the channel (406): the
        // messages before it are taken, the ones after it dropped, none of them confirmed.
        const culprit = { ...messages[5], headers: { ...messages[5].headers, CC: 'not-a-list' } };
        messages[5] = culprit;
        const results = await Promise.allSettled(messages.map((m) => destination.send(m)));
        const delivered = new Set(await queued(queue));
        results.forEach((r, i) => {
          // At-least-once: a send resolves only if its message is in the queue.
          if (r.status === 'fulfilled') expect(delivered.has(messages[i].id)).toBe(true);
          else expect(r.reason).toMatchObject({ code: 'CLOSED', retryable: true });
        });
        expect(results.slice(5).every((r) => r.status === 'rejected')).toBe(true);
        expect([...delivered].sort()).toEqual(
          messages
            .slice(0, 5)
            .map((m) => m.id)
            .sort(),
        );
        // Retried alone, the culprit fails for good, naming the broker's reason; the others go.
        const failure = await destination.send(culprit).catch((e: unknown) => e);
        expect(failure).toMatchObject({ code: 'REJECTED', retryable: false });
        expect((failure as Error).message).toContain('PRECONDITION_FAILED');
        await expect(destination.send(messages[6])).resolves.toMatchObject({ kind: 'amqp' });
        expect(await queued(queue)).toEqual([messages[6].id]);
      } finally {
        await destination.close();
      }
    });
  });

  it('refuses a queue destination that also names an exchange', () => {
    expect(() =>
      pool.destination({ type: 'amqp', connection: name, queue: 'q', exchange: 'x' }, connection),
    ).toThrow(ConnectorError);
  });
});
