/**
 * AMQP 1.0 connectors against the real ActiveMQ Artemis of `scripts/artemis.sh` (JUNCTION_ARTEMIS_*
 * variables, default 127.0.0.1:25673 and TLS on 25674, user junction). The broker-side
 * disruption and the counts go through Artemis' management address, over AMQP 1.0 as well.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describeConformance, testMessages } from '../conformance/conformance';
import { deferred, until } from '../conformance/eventually';
import { TcpProxy } from '../conformance/tcp-proxy';
import { testLogger } from '../conformance/test-logger';
import type { ConnectorConnection, InboundMessage } from '../connector';
import { EgressPolicy } from '../egress/egress-policy';
import { Amqp10Client, probeAmqp10, type Amqp10ClientOptions } from './amqp10-client';
import { Amqp10Destination } from './amqp10.destination';
import type { Amqp10DestinationSpec, Amqp10SourceSpec } from './amqp10.protocol';
import { Amqp10Source } from './amqp10.source';
import { ARTEMIS, ArtemisAdmin } from './artemis-admin';

const RUN = randomUUID().slice(0, 8);

/** A stored connection as the registry would hand it over (password in secrets, not the URL). */
function connectionTo(
  name: string,
  port = ARTEMIS.port,
  extra: Partial<Pick<ConnectorConnection, 'config' | 'secrets'>> & { scheme?: string } = {},
): ConnectorConnection {
  return {
    name,
    config: {
      url: `${extra.scheme ?? 'amqp'}://${ARTEMIS.host}:${port}`,
      username: ARTEMIS.username,
      ...extra.config,
    },
    secrets: { password: ARTEMIS.password, ...extra.secrets },
  };
}

let admin: ArtemisAdmin;
let addressCount = 0;
const createdAddresses = new Set<string>();

function freshAddress(tag: string): string {
  addressCount += 1;
  const address = `junction.test.${RUN}.${tag}.${addressCount}`;
  createdAddresses.add(address);
  return address;
}

beforeAll(async () => {
  admin = await ArtemisAdmin.open();
});

afterAll(async () => {
  for (const address of createdAddresses) await admin.deleteAddress(address).catch(() => undefined);
  await admin?.close();
});

/** Clients, sources and destinations of one test, closed in reverse order even when it fails. */
class Kit {
  private readonly closers: Array<() => Promise<void>> = [];
  readonly logger = testLogger();

  client(connection: ConnectorConnection, options: Amqp10ClientOptions = {}): Amqp10Client {
    const client = new Amqp10Client(
      connection,
      { reconnectInitialMs: 100, reconnectMaxMs: 1_000, connectTimeoutMs: 5_000, ...options },
      this.logger,
    );
    this.closers.push(() => client.close());
    return client;
  }

  source(
    client: Amqp10Client,
    spec: Omit<Amqp10SourceSpec, 'type' | 'connection'>,
    routeId = 'r1',
  ): Amqp10Source {
    const source = new Amqp10Source(
      client,
      { type: 'amqp10', connection: client.connection.name, ...spec },
      { routeId, startTimeoutMs: 10_000 },
      this.logger,
    );
    this.closers.push(() => source.stop());
    return source;
  }

  destination(
    client: Amqp10Client,
    spec: Omit<Amqp10DestinationSpec, 'type' | 'connection'>,
    publishTimeoutMs = 5_000,
  ): Amqp10Destination {
    const destination = new Amqp10Destination(
      client,
      { type: 'amqp10', connection: client.connection.name, ...spec },
      { publishTimeoutMs },
      this.logger,
    );
    this.closers.push(() => destination.close());
    return destination;
  }

  async close(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) await close();
  }
}

describeConformance(
  'amqp10',
  async () => {
    const proxy = await TcpProxy.start(ARTEMIS.host, ARTEMIS.port);
    const name = `conformance-${RUN}`;
    const client = new Amqp10Client(
      connectionTo(name, proxy.port),
      { reconnectInitialMs: 200, reconnectMaxMs: 2_000, connectTimeoutMs: 5_000 },
      testLogger(),
    );
    const logger = testLogger();
    return {
      ordering: 'prefetch-1',
      concurrency: 'prefetch',
      disruptions: {
        'the broker closing the connection': async () => {
          expect(await admin.closeConnections(`junction:${name}`)).toBeGreaterThan(0);
        },
        'a dropped socket': async () => {
          expect(proxy.connections).toBeGreaterThan(0);
          proxy.dropAll();
        },
      },
      async fixture() {
        const address = freshAddress('conf');
        return {
          source: (options) =>
            new Amqp10Source(
              client,
              { type: 'amqp10', connection: name, address, prefetch: options?.prefetch },
              { routeId: 'conformance', startTimeoutMs: 10_000 },
              logger,
            ),
          destination: () =>
            new Amqp10Destination(
              client,
              { type: 'amqp10', connection: name, address },
              { publishTimeoutMs: 5_000 },
              logger,
            ),
          backlog: async () => {
            const { messages, delivering } = await admin.queueCounts(address);
            return messages - delivering;
          },
          dispose: async () => {
            await admin.deleteAddress(address);
            createdAddresses.delete(address);
          },
        };
      },
      async close() {
        await client.close();
        await proxy.close();
      },
    };
  },
  { disruptions: ['the broker closing the connection', 'a dropped socket'] },
);

describe('amqp10 connectors', () => {
  let kit: Kit;

  beforeEach(() => {
    kit = new Kit();
  });

  afterEach(async () => {
    await kit.close();
  });

  /** Collects what a source hands over. */
  function collector(): { got: InboundMessage[]; handler: (m: InboundMessage) => Promise<void> } {
    const got: InboundMessage[] = [];
    return { got, handler: async (message) => void got.push(message) };
  }

  it('sends durable messages with id, headers and bytes as one data section, and reads other bodies as bytes', async () => {
    const client = kit.client(connectionTo(`props-${RUN}`));
    const address = freshAddress('props');
    const destination = kit.destination(client, { address, headers: { 'x-from-spec': 'yes' } });
    const [message] = testMessages('props', 1);
    await expect(destination.send(message)).resolves.toEqual({ kind: 'amqp10', address });
    // An amqp-value string, as a JMS TextMessage or another stack sends it.
    const raw = client.current!.open_sender({ target: { address, capabilities: ['queue'] } });
    await until(() => raw.sendable(), 'credit for the raw sender');
    raw.send({ message_id: 42, application_properties: { n: 7, ok: true }, body: 'plain text' });

    const { got, handler } = collector();
    await kit.source(client, { address }).start(handler);
    await until(() => got.length === 2, 'both messages');
    expect(got[0]).toMatchObject({
      id: message.id,
      headers: { ...message.headers, 'x-from-spec': 'yes' },
      source: { type: 'amqp10', name: address },
      redelivered: false,
    });
    expect(got[0].payload.equals(message.body)).toBe(true);
    expect(got[1]).toMatchObject({ id: '42', headers: { n: '7', ok: 'true' } });
    expect(got[1].payload.toString()).toBe('plain text');
  });

  it('sends the priority in the header, and Artemis hands out the urgent messages of a backlog first', async () => {
    const client = kit.client(connectionTo(`priority-${RUN}`));
    const address = freshAddress('priority');
    const destination = kit.destination(client, { address });
    // A backlog of 20 routine messages, then 5 urgent ones, all accepted before anyone reads.
    const backlog = testMessages('routine', 20).map((m) => ({ ...m, priority: 1 }));
    const urgent = testMessages('urgent', 5, 20).map((m) => ({ ...m, priority: 9 }));
    await Promise.all(backlog.map((m) => destination.send(m)));
    await Promise.all(urgent.map((m) => destination.send(m)));

    const { got, handler } = collector();
    await kit.source(client, { address, prefetch: 1 }).start(handler);
    await until(() => got.length === 25, 'every message');
    expect(got.slice(0, 5).map((m) => m.id)).toEqual(urgent.map((m) => m.id));
    expect(got.slice(5).map((m) => m.id)).toEqual(backlog.map((m) => m.id));
  });

  it('connects over TLS trusting the broker certificate, and refuses a broker it cannot trust', async () => {
    const ca = readFileSync(ARTEMIS.certificatePath, 'utf8');
    const trusted = kit.client(
      connectionTo(`tls-${RUN}`, ARTEMIS.tlsPort, { scheme: 'amqps', config: { tls: { ca } } }),
    );
    const address = freshAddress('tls');
    const [message] = testMessages('tls', 1);
    await kit.destination(trusted, { address }).send(message);
    const { got, handler } = collector();
    await kit.source(trusted, { address }).start(handler);
    await until(() => got.length === 1, 'the message over TLS');
    expect(got[0].id).toBe(message.id);

    const untrusted = kit.client(
      connectionTo(`tls-no-ca-${RUN}`, ARTEMIS.tlsPort, { scheme: 'amqps' }),
    );
    await expect(
      kit.destination(untrusted, { address }, 1_500).send(message),
    ).rejects.toMatchObject({ code: 'UNREACHABLE', retryable: true });
    expect(untrusted.state()).toMatchObject({
      up: false,
      error: expect.stringMatching(/self.signed|certificate/i),
    });
  });

  it('refuses a wrong password without ever connecting, and says why', async () => {
    const client = kit.client(
      connectionTo(`badpw-${RUN}`, ARTEMIS.port, { secrets: { password: 'wrong' } }),
    );
    await expect(
      kit
        .destination(client, { address: freshAddress('badpw') }, 1_500)
        .send(testMessages('x', 1)[0]),
    ).rejects.toMatchObject({ code: 'UNREACHABLE', retryable: true });
    expect(client.state()).toMatchObject({
      up: false,
      error: expect.stringMatching(/unauthorized|auth/i),
    });
    // The password is never in what the client reports.
    expect(JSON.stringify(client.state())).not.toContain('wrong');
    expect(kit.logger.lines.join('\n')).not.toContain(ARTEMIS.password);
  });

  describe('topics', () => {
    it('gives every route its own durable subscription, which keeps what comes while the route is stopped', async () => {
      const client = kit.client(connectionTo(`topic-${RUN}`));
      const topic = freshAddress('prices');
      const a = collector();
      const b = collector();
      const first = kit.source(client, { address: topic, capability: 'topic' }, `route-a-${RUN}`);
      await first.start(a.handler);
      await kit
        .source(client, { address: topic, capability: 'topic' }, `route-b-${RUN}`)
        .start(b.handler);
      const destination = kit.destination(client, { address: topic, capability: 'topic' });
      const [one, two] = testMessages('topic', 2);
      await destination.send(one);
      await until(() => a.got.length === 1 && b.got.length === 1, 'the message on both routes');

      await first.stop();
      await destination.send(two);
      await until(() => b.got.length === 2, 'route b to get the second');
      // Route a's subscription kept it while a was stopped.
      expect(await admin.queueCounts(`junction.route-a-${RUN}:global`)).toMatchObject({
        messages: 1,
      });
      const again = collector();
      await kit
        .source(client, { address: topic, capability: 'topic' }, `route-a-${RUN}`)
        .start(again.handler);
      await until(() => again.got.length === 1, 'the kept message');
      expect(again.got[0].id).toBe(two.id);
      for (const route of ['a', 'b'])
        await admin.destroyQueue(`junction.route-${route}-${RUN}:global`);
    });

    it('splits a subscription between the processes of one route', async () => {
      const topic = freshAddress('split');
      const subscription = `junction.test.${RUN}.split`;
      const sources = [collector(), collector()];
      for (const [i, c] of sources.entries()) {
        // Two gateway processes: two connections, with their own container ids.
        const client = kit.client(connectionTo(`split-${i}-${RUN}`));
        await kit
          .source(client, { address: topic, capability: 'topic', subscription, prefetch: 1 })
          .start(async (m) => {
            c.got.push(m);
            await new Promise((resolve) => setImmediate(resolve));
          });
      }
      const destination = kit.destination(kit.client(connectionTo(`split-out-${RUN}`)), {
        address: topic,
        capability: 'topic',
      });
      const messages = testMessages('split', 20);
      for (const message of messages) await destination.send(message);
      await until(() => sources[0].got.length + sources[1].got.length === 20, 'all 20 once');
      expect(sources[0].got.length).toBeGreaterThan(0);
      expect(sources[1].got.length).toBeGreaterThan(0);
      const ids = [...sources[0].got, ...sources[1].got].map((m) => m.id);
      expect(new Set(ids).size).toBe(20);
      await admin.destroyQueue(`${subscription}:global`);
    });

    it('reads a multicast: prefixed address as a topic', async () => {
      const client = kit.client(connectionTo(`prefix-${RUN}`));
      const topic = freshAddress('prefixed');
      const { got, handler } = collector();
      await kit
        .source(client, {
          address: topic,
          capability: 'topic',
          subscription: `junction.test.${RUN}.prefixed`,
        })
        .start(handler);
      const [message] = testMessages('prefix', 1);
      await kit
        .destination(client, { address: `multicast:${topic}`, capability: 'topic' })
        .send(message);
      await until(() => got.length === 1, 'the message');
      await admin.destroyQueue(`junction.test.${RUN}.prefixed:global`);
    });
  });

  describe('outcomes and flow control', () => {
    it('gives a failed message back as modified: the broker counts the attempt and marks it redelivered', async () => {
      const client = kit.client(connectionTo(`outcome-${RUN}`));
      const address = freshAddress('outcome');
      const [failing] = testMessages('outcome', 1);
      await kit.destination(client, { address }).send(failing);
      const deliveries: InboundMessage[] = [];
      const gate = deferred();
      const source = kit.source(client, { address, prefetch: 1 });
      await source.start(async (message) => {
        deliveries.push(message);
        if (deliveries.length < 3) throw new Error('not yet');
        await gate.promise;
      });
      await until(() => deliveries.length === 3, 'two failures and a third delivery');
      expect(deliveries.map((m) => m.redelivered)).toEqual([false, true, true]);
      gate.reject(new Error('stopping'));
      await source.stop();
      // Still in its queue, not dead-lettered: the broker's max-delivery-attempts (10) is not reached.
      const { messages } = await admin.queueCounts(address);
      expect(messages).toBe(1);
    });

    it('fails a send the broker rejects (address full, policy FAIL) for good', async () => {
      const client = kit.client(connectionTo(`full-${RUN}`));
      const address = `junction.test.full.${RUN}`;
      createdAddresses.add(address);
      const destination = kit.destination(client, { address });
      const big = { ...testMessages('full', 1)[0], body: Buffer.alloc(20_000, 0x41) };
      const failure = await (async () => {
        for (let i = 0; i < 5; i += 1) await destination.send({ ...big, id: `${big.id}-${i}` });
      })().catch((err: unknown) => err);
      expect(failure).toMatchObject({ name: 'ConnectorError', code: 'REJECTED', retryable: false });
    });

    it('waits for credit while the broker blocks a full address, and sends once there is room', async () => {
      const client = kit.client(connectionTo(`blocked-${RUN}`));
      const address = `junction.test.blocked.${RUN}`;
      createdAddresses.add(address);
      const destination = kit.destination(client, { address }, 1_000);
      const body = Buffer.alloc(6_000, 0x42);
      let sent = 0;
      let failure: unknown;
      for (let i = 0; i < 400 && !failure; i += 1) {
        failure = await destination
          .send({ ...testMessages('blocked', 1)[0], body })
          .then(() => void (sent += 1))
          .catch((err: unknown) => err);
      }
      expect(failure).toMatchObject({ code: 'TIMEOUT', retryable: true });
      expect(sent).toBeGreaterThan(0);
      // A consumer makes room: the broker gives credit again and the send goes through.
      const { got, handler } = collector();
      await kit.source(client, { address }).start(handler);
      const late = testMessages('late', 1)[0];
      const slow = kit.destination(client, { address }, 20_000);
      await expect(slow.send(late)).resolves.toEqual({ kind: 'amqp10', address });
      await until(() => got.some((m) => m.id === late.id), 'the late message');
    });
  });
});

describe('amqp10 connection probe', () => {
  const opened: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of opened.splice(0)) await close();
  });

  it('opens with the right password and says why not with a wrong one or an unreachable port', async () => {
    const egress = EgressPolicy.permissive();
    await probeAmqp10(connectionTo(`probe-${RUN}`), { timeoutMs: 5_000, egress }, (c) =>
      opened.push(c),
    );
    await expect(
      probeAmqp10(
        connectionTo(`probe-${RUN}`, ARTEMIS.port, { secrets: { password: 'nope' } }),
        { timeoutMs: 5_000, egress },
        (c) => opened.push(c),
      ),
    ).rejects.toThrow(/unauthorized|authenticate/i);
    await expect(
      probeAmqp10(connectionTo(`probe-${RUN}`, 9), { timeoutMs: 5_000, egress }, (c) =>
        opened.push(c),
      ),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});
