/**
 * MQTT connectors against a real Mosquitto: the one `scripts/mosquitto.sh start` runs (MQTT_URL,
 * default mqtt://127.0.0.1:18830; TLS on MQTTS_URL, default mqtts://127.0.0.1:18831, with the CA
 * it generated; user junction). Never the system broker on 1883.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { describeConformance, testMessages } from '../conformance/conformance';
import { deferred, until } from '../conformance/eventually';
import { TcpProxy } from '../conformance/tcp-proxy';
import { testLogger } from '../conformance/test-logger';
import type { ConnectorConnection, InboundMessage, OutboundMessage, Source } from '../connector';
import { ConnectorPool } from '../connector-pool';
import { brokerHasRead, createMqttClient, endClient, mqttSettings } from './mqtt-client';
import { mqttLegacySourceClientId, mqttSourceClientId, type MqttPoolOptions } from './mqtt.factory';
import type { MqttDestinationSpec, MqttSourceSpec } from './mqtt.protocol';
import type { MqttSource } from './mqtt.source';

const BROKER = new URL(process.env.MQTT_URL ?? 'mqtt://127.0.0.1:18830');
const TLS_BROKER = new URL(process.env.MQTTS_URL ?? 'mqtts://127.0.0.1:18831');
const USER = process.env.JUNCTION_MQTT_USER ?? 'junction';
const PASSWORD = process.env.JUNCTION_MQTT_PASSWORD ?? 'junction-secret';
const CA_FILE =
  process.env.JUNCTION_MQTT_CA_CERT ??
  join(
    process.env.JUNCTION_MOSQUITTO_HOME ?? join(__dirname, '../../../../.cache/mosquitto'),
    'tls/ca.crt',
  );
const RUN = randomUUID().slice(0, 8);
const NODE = `test-${RUN}`;
/** The gateway's client id key, the same for every pool of the run (a restart keeps it). */
const CLIENT_ID_KEY = randomBytes(32);

function connectionTo(
  name: string,
  url: string,
  extra: Partial<ConnectorConnection['config']> = {},
  secrets: Record<string, string> = { password: PASSWORD },
): ConnectorConnection {
  return { name, config: { url, username: USER, ...extra }, secrets };
}

/** A pool as the runtime makes it, quick to reconnect; node name and client id key fixed for the run. */
function testPool(
  options: MqttPoolOptions = {},
  logger: ReturnType<typeof testLogger> = testLogger(),
): ConnectorPool {
  return new ConnectorPool({
    logger,
    mqtt: { nodeName: NODE, clientIdKey: CLIENT_ID_KEY, reconnectPeriodMs: 200, ...options },
  });
}

/** A plain MQTT.js client for what the tests do beside the connectors. */
function rawClient(options: IClientOptions = {}): Promise<MqttClient> {
  return connectAsync(BROKER.href, {
    username: USER,
    password: PASSWORD,
    protocolVersion: 5,
    clientId: `junction-test-raw-${randomUUID().slice(0, 8)}`,
    reconnectPeriod: 0,
    ...options,
  });
}

/** Removes a session and what it queued (a clean connect with its client id). */
async function clearSession(clientId: string, protocolVersion: 4 | 5 = 5): Promise<void> {
  const client = await rawClient({ clientId, clean: true, protocolVersion });
  await client.endAsync();
}

let topicCount = 0;
function freshTopic(tag: string): string {
  topicCount += 1;
  return `junction-test/${RUN}/${tag}/${topicCount}`;
}

const sessions = new Set<string>();

afterAll(async () => {
  for (const clientId of sessions) await clearSession(clientId).catch(() => undefined);
}, 30_000);

describeConformance(
  'mqtt',
  async () => {
    const proxy = await TcpProxy.start(BROKER.hostname, Number(BROKER.port));
    const connection = connectionTo(`conformance-${RUN}`, `mqtt://127.0.0.1:${proxy.port}`);
    const pool = testPool({ publishTimeoutMs: 5_000, startTimeoutMs: 10_000 });
    return {
      ordering: 'prefetch-1',
      // MQTT 5's receive maximum bounds the unacknowledged messages as AMQP's prefetch does.
      concurrency: 'prefetch',
      disruptions: {
        'a dropped socket': async () => {
          expect(proxy.connections).toBeGreaterThan(0);
          proxy.dropAll();
        },
      },
      async fixture() {
        const topic = freshTopic('conf');
        const clientId = `junction-test-${RUN}-${topicCount}`;
        sessions.add(clientId);
        const spec = (prefetch?: number): MqttSourceSpec => ({
          type: 'mqtt',
          connection: connection.name,
          topic,
          clientId,
          prefetch,
        });
        const source = (options?: { prefetch?: number }): Source =>
          pool.source(spec(options?.prefetch), connection, { routeId: 'conformance' });
        // The session exists before the first send, as a route's does once it ran: MQTT keeps
        // messages for subscriptions, not for topics.
        const primer = source();
        await primer.start(async () => undefined);
        await primer.stop();
        return {
          source,
          destination: () =>
            pool.destination({ type: 'mqtt', connection: connection.name, topic }, connection),
          dispose: async () => {
            await clearSession(clientId);
            sessions.delete(clientId);
          },
        };
      },
      async close() {
        await pool.close();
        await proxy.close();
      },
    };
  },
  { disruptions: ['a dropped socket'] },
);

describe('mqtt connectors', () => {
  const connection = connectionTo(`mqtt-${RUN}`, BROKER.href);
  let pool: ConnectorPool;
  const open: Array<{ stop?(): Promise<void>; close?(): Promise<void> }> = [];

  function source(spec: Omit<MqttSourceSpec, 'type' | 'connection'>, on = connection): Source {
    const made = pool.source({ type: 'mqtt', connection: on.name, ...spec }, on, {
      routeId: `route-${RUN}`,
    });
    if (spec.clientId) sessions.add(spec.clientId);
    open.push(made);
    return made;
  }

  function destination(spec: Omit<MqttDestinationSpec, 'type' | 'connection'>, on = connection) {
    const made = pool.destination({ type: 'mqtt', connection: on.name, ...spec }, on);
    open.push(made);
    return made;
  }

  beforeAll(() => {
    pool = testPool({ publishTimeoutMs: 5_000, startTimeoutMs: 5_000 });
  });

  afterEach(async () => {
    for (const item of open.splice(0).reverse()) await (item.stop ?? item.close)!.call(item);
  });

  afterAll(async () => {
    await pool.close();
  });

  it('waits, before a stop, for the answer to its own ping, not to a keepalive ping still out', async () => {
    const client = createMqttClient(
      mqttSettings(connection),
      { clientId: `junction-test-ping-${RUN}`, persistent: false },
      {},
    );
    try {
      await until(() => client.connected, 'connected');
      const answers: string[] = [];
      client.on('packetreceive', (packet) => {
        if (packet.cmd === 'pingresp') answers.push('pingresp');
      });
      // As the keepalive does: a ping out just before the stop's, its answer not in yet.
      client.sendPing();
      await brokerHasRead(client);
      answers.push('read');
      expect(answers).toEqual(['pingresp', 'pingresp', 'read']);
    } finally {
      await endClient(client);
    }
  });

  it('maps MQTT 5 user properties to headers and back, the id in junction-id', async () => {
    const topic = freshTopic('props');
    const got = deferred<InboundMessage>();
    await source({ topic, clientId: `props-${RUN}` }).start(async (m) => got.resolve(m));
    const raw = await rawClient();
    try {
      await raw.publishAsync(topic, Buffer.from('{"a":1}'), {
        qos: 1,
        properties: { userProperties: { 'junction-id': 'id-7', region: 'eu', multi: ['a', 'b'] } },
      });
      const message = await got.promise;
      expect(message).toMatchObject({
        id: 'id-7',
        headers: { 'junction-id': 'id-7', region: 'eu', multi: 'a, b', 'mqtt-topic': topic },
        source: { type: 'mqtt', name: topic },
        redelivered: false,
      });
      expect(message.headers['mqtt-retain']).toBeUndefined();

      // The other way: a destination sends headers, static headers and the id as user properties.
      const back = freshTopic('props-back');
      await raw.subscribeAsync(back, { qos: 1 });
      const received = deferred<{ props: Record<string, unknown>; payload: Buffer }>();
      raw.on('message', (t, payload, packet) => {
        if (t === back) received.resolve({ props: packet.properties ?? {}, payload });
      });
      const [outbound] = testMessages('props', 1);
      await expect(
        destination({ topic: back, headers: { 'x-static': 's' } }).send(outbound),
      ).resolves.toEqual({ kind: 'mqtt', topic: back, qos: 1 });
      const { props, payload } = await received.promise;
      expect(payload.equals(outbound.body)).toBe(true);
      expect(props).toMatchObject({
        contentType: 'application/json',
        userProperties: { ...outbound.headers, 'x-static': 's', 'junction-id': outbound.id },
      });
    } finally {
      await raw.endAsync();
    }
  });

  it('subscribes with wildcards and names the topic each message came on', async () => {
    const base = freshTopic('wild');
    const seen: InboundMessage[] = [];
    await source({ topic: `${base}/+/status/#`, clientId: `wild-${RUN}` }).start(async (m) => {
      seen.push(m);
    });
    const dest = destination({ topicExpression: '$.topic' });
    const topics = [`${base}/a/status`, `${base}/b/status/deep/er`, `${base}/c/other`];
    for (const [i, topic] of topics.entries())
      await dest.send({ ...testMessages('wild', 1, i)[0], routingKey: topic });
    await until(() => seen.length === 2, 'the two matching messages');
    expect(seen.map((m) => m.source.name).sort()).toEqual(topics.slice(0, 2));
    expect(seen.map((m) => m.headers['mqtt-topic']).sort()).toEqual(topics.slice(0, 2));
  });

  it('publishes to the topic the route computed, and refuses a topic with a wildcard for good', async () => {
    const dest = destination({ topicExpression: '"orders/" & country' });
    await expect(
      dest.send({ ...testMessages('bad', 1)[0], routingKey: 'orders/+' }),
    ).rejects.toMatchObject({ name: 'ConnectorError', code: 'REJECTED', retryable: false });
    await expect(dest.send({ ...testMessages('none', 1)[0] })).rejects.toMatchObject({
      code: 'REJECTED',
      retryable: false,
    });
    expect(() => destination({ topic: 'a', topicExpression: '"b"' })).toThrow(
      /not both|one of them/,
    );
  });

  it('refuses for good, without sending it, a topic or header the broker would take for a malformed packet', async () => {
    // Sent, each made Mosquitto drop the publisher's connection; the retry sent it again, and
    // every message of every route on the connection failed meanwhile.
    const topic = freshTopic('malformed');
    const got: InboundMessage[] = [];
    await source({ topic, clientId: `malformed-${RUN}` }).start(async (m) => {
      got.push(m);
    });
    const dest = destination({ topicExpression: '$.topic' });
    const [message] = testMessages('malformed', 1);
    const malformed: Array<Partial<OutboundMessage>> = [
      { routingKey: `${topic}/a\u0001b` },
      { routingKey: `${topic}/\u0085` },
      { routingKey: `${topic}/\ud800` },
      { routingKey: `${topic}/\ufffe` },
      { routingKey: topic, headers: { 'x-note': 'a\tb' } },
      { routingKey: topic, headers: { 'x-\u0090': 'v' } },
      { routingKey: topic, id: 'id-\u0001' },
    ];
    for (const bad of malformed)
      await expect(dest.send({ ...message, ...bad })).rejects.toMatchObject({
        name: 'ConnectorError',
        code: 'REJECTED',
        retryable: false,
      });
    // The connection stayed up: the next message goes at once.
    await expect(dest.send({ ...message, routingKey: topic })).resolves.toMatchObject({ topic });
    await until(() => got.length === 1, 'the good message');
    expect(got[0].id).toBe(message.id);
    expect(() => destination({ topic: 'static', headers: { 'x-static': 'a\u0007' } })).toThrow(
      /control characters/,
    );
  });

  it('splits a shared subscription between two sessions, each message to one of them', async () => {
    const topic = freshTopic('shared');
    const group = `g-${RUN}`;
    const byA: string[] = [];
    const byB: string[] = [];
    await source({ topic, shareGroup: group, clientId: `share-a-${RUN}` }).start(async (m) => {
      byA.push(m.id!);
    });
    await source({ topic, shareGroup: group, clientId: `share-b-${RUN}` }).start(async (m) => {
      byB.push(m.id!);
    });
    const messages = testMessages('shared', 40);
    const dest = destination({ topic });
    for (const message of messages) await dest.send(message);
    await until(() => byA.length + byB.length >= 40, 'all 40 messages');
    expect(byA.length).toBeGreaterThan(0);
    expect(byB.length).toBeGreaterThan(0);
    expect([...byA, ...byB].sort()).toEqual(messages.map((m) => m.id).sort());
  });

  it('publishes retained messages, which a new subscription gets flagged in mqtt-retain', async () => {
    const topic = freshTopic('retained');
    const [message] = testMessages('retained', 1);
    await destination({ topic, retain: true }).send(message);
    const got = deferred<InboundMessage>();
    await source({ topic, clientId: `retained-${RUN}` }).start(async (m) => got.resolve(m));
    await expect(got.promise).resolves.toMatchObject({
      id: message.id,
      headers: { 'mqtt-retain': 'true' },
    });
    // An empty retained message removes the retained one.
    const raw = await rawClient();
    await raw.publishAsync(topic, '', { retain: true, qos: 1 });
    await raw.endAsync();
  });

  it('delivers with QoS 0 on both ends and QoS 2 to the broker', async () => {
    for (const [sourceQos, destinationQos] of [
      [0, 0],
      [1, 2],
    ] as const) {
      const topic = freshTopic(`qos${destinationQos}`);
      const seen: InboundMessage[] = [];
      await source({ topic, qos: sourceQos, clientId: `qos-${sourceQos}-${RUN}` }).start(
        async (m) => {
          seen.push(m);
        },
      );
      const messages = testMessages(`qos${destinationQos}`, 5);
      const dest = destination({ topic, qos: destinationQos });
      for (const message of messages)
        await expect(dest.send(message)).resolves.toEqual({
          kind: 'mqtt',
          topic,
          qos: destinationQos,
        });
      await until(() => seen.length === 5, `5 messages at QoS ${destinationQos}`);
      expect(seen.map((m) => m.id)).toEqual(messages.map((m) => m.id));
    }
  });

  it('holds QoS 0 messages for a route that is behind only up to its byte budget, and drops the rest', async () => {
    const small = testPool({ startTimeoutMs: 5_000, qos0WaitingBytes: 1024 * 1024 });
    const topic = freshTopic('qos0-budget');
    const clientId = `qos0-budget-${RUN}`;
    sessions.add(clientId);
    const made = small.source(
      { type: 'mqtt', connection: connection.name, topic, qos: 0, prefetch: 1, clientId },
      connection,
      { routeId: `route-${RUN}` },
    ) as MqttSource;
    const release = deferred();
    const seen: Buffer[] = [];
    try {
      await made.start(async (m) => {
        seen.push(m.payload);
        await release.promise;
      });
      // 300 KiB each: one runs, three wait (900 KiB), the six after them would pass 1 MiB.
      const raw = await rawClient();
      for (let i = 0; i < 10; i++)
        await raw.publishAsync(topic, Buffer.alloc(300 * 1024, 0x30 + i), { qos: 1 });
      await raw.endAsync();
      await until(() => made.dropped === 6, 'six QoS 0 messages dropped');
      release.resolve();
      await until(() => seen.length === 4, 'the first four handled');
      expect(seen.map((payload) => payload[0] - 0x30)).toEqual([0, 1, 2, 3]);
    } finally {
      release.resolve();
      await made.stop();
      await small.close();
    }
  });

  describe('MQTT 3.1.1', () => {
    const v3 = connectionTo(`mqtt311-${RUN}`, BROKER.href, { protocolVersion: '3.1.1' });

    it('carries topic and payload, and acknowledges only what was handled', async () => {
      const topic = freshTopic('v311');
      const clientId = `v311-${RUN}`;
      sessions.add(clientId);
      const dest = destination({ topic }, v3);
      const first = source({ topic, clientId, prefetch: 1 }, v3);
      const seen: InboundMessage[] = [];
      const held = deferred();
      await first.start(async (m) => {
        seen.push(m);
        if (seen.length === 2) await held.promise; // the second one never finishes
      });
      const messages = testMessages('v311', 3);
      for (const message of messages) await dest.send(message);
      await until(() => seen.length === 2, 'two messages, the second one held');
      expect(seen[0]).toMatchObject({ headers: { 'mqtt-topic': topic }, redelivered: false });
      expect(seen[0].id).toBeUndefined(); // 3.1.1 has no properties: the runtime gives it one
      expect(seen[0].payload.equals(messages[0].body)).toBe(true);
      const stopping = first.stop();
      held.reject(new Error('shutting down'));
      await stopping;

      // The session kept the unfinished one (sent again, DUP) and the one never handed out.
      const again: InboundMessage[] = [];
      await source({ topic, clientId, prefetch: 1 }, v3).start(async (m) => {
        again.push(m);
      });
      await until(() => again.length === 2, 'the two unfinished messages');
      expect(again.map((m) => m.payload.toString('latin1'))).toEqual(
        messages.slice(1).map((m) => m.body.toString('latin1')),
      );
      expect(again[0].redelivered).toBe(true);
    });
  });

  describe('TLS and credentials', () => {
    const ca = (): string => readFileSync(CA_FILE, 'utf8');

    it('connects over TLS with a private CA and a password from the secrets', async () => {
      const tls = connectionTo(`mqtts-${RUN}`, TLS_BROKER.href, { tls: { ca: ca() } });
      const topic = freshTopic('tls');
      const got = deferred<InboundMessage>();
      await source({ topic, clientId: `tls-${RUN}` }, tls).start(async (m) => got.resolve(m));
      const [message] = testMessages('tls', 1);
      await destination({ topic }, tls).send(message);
      await expect(got.promise).resolves.toMatchObject({ id: message.id });
    });

    it('refuses a broker certificate no trusted CA signed, and a wrong password', async () => {
      const quick = testPool({ startTimeoutMs: 1_500 });
      open.push({ close: () => quick.close() });
      const failing = (spec: MqttSourceSpec, on: ConnectorConnection): Source => {
        const made = quick.source(spec, on, { routeId: 'failing' });
        open.push(made);
        return made;
      };
      const untrusted = connectionTo(`mqtts-untrusted-${RUN}`, TLS_BROKER.href);
      const failure = await failing(
        { type: 'mqtt', connection: untrusted.name, topic: freshTopic('tls-bad') },
        untrusted,
      )
        .start(async () => undefined)
        .catch((e: Error) => e);
      expect(failure).toMatchObject({ name: 'ConnectorError', code: 'UNREACHABLE' });
      expect((failure as Error).message).toMatch(/certificate/i);

      const wrong = connectionTo(`mqtt-wrong-${RUN}`, BROKER.href, {}, { password: 'nope' });
      const refused = await failing(
        { type: 'mqtt', connection: wrong.name, topic: freshTopic('auth-bad') },
        wrong,
      )
        .start(async () => undefined)
        .catch((e: Error) => e);
      expect(refused).toMatchObject({ code: 'UNREACHABLE' });
      expect((refused as Error).message).toMatch(/not authorized|bad user name or password/i);
      expect((refused as Error).message).not.toContain('nope');
    }, 20_000);
  });
});

describe('mqtt source client ids', () => {
  const connection = connectionTo(`mqtt-ids-${RUN}`, BROKER.href);
  const pools: ConnectorPool[] = [];
  const sources: Source[] = [];

  function pool(options: MqttPoolOptions = {}, logger = testLogger()): ConnectorPool {
    const made = testPool({ startTimeoutMs: 5_000, legacyDrainIdleMs: 300, ...options }, logger);
    pools.push(made);
    return made;
  }

  function routeSource(on: ConnectorPool, spec: MqttSourceSpec, routeId: string): Source {
    const made = on.source(spec, connection, { routeId });
    sources.push(made);
    return made;
  }

  /** Whether the broker holds a session for `clientId` (asked by a session that ends at once). */
  async function hasSession(clientId: string): Promise<boolean> {
    const client = connect(BROKER.href, {
      username: USER,
      password: PASSWORD,
      protocolVersion: 5,
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 0 },
      reconnectPeriod: 0,
    });
    try {
      return await new Promise<boolean>((resolve, reject) => {
        client.once('connect', (connack) => resolve(connack.sessionPresent));
        client.once('error', reject);
      });
    } finally {
      await client.endAsync();
    }
  }

  afterEach(async () => {
    for (const source of sources.splice(0).reverse()) await source.stop();
    for (const made of pools.splice(0)) await made.close();
  });

  async function publish(topic: string, bodies: string[]): Promise<void> {
    const client = await rawClient();
    for (const body of bodies) await client.publishAsync(topic, body, { qos: 1 });
    await client.endAsync();
  }

  it('keys the client id: not computable from route, node and topic, and stable across restarts', async () => {
    const topic = freshTopic('keyed');
    const routeId = `keyed-${RUN}`;
    const spec: MqttSourceSpec = { type: 'mqtt', connection: connection.name, topic };
    const legacyId = mqttLegacySourceClientId(spec, routeId, NODE)!;
    const otherKeyId = mqttSourceClientId(spec, routeId, randomBytes(32), NODE);
    const ownId = mqttSourceClientId(spec, routeId, CLIENT_ID_KEY, NODE);
    for (const id of [legacyId, otherKeyId, ownId]) sessions.add(id);

    // The route ran once (its session exists) and is stopped; messages queue for it meanwhile.
    const first = routeSource(pool(), spec, routeId);
    await first.start(async () => undefined);
    await first.stop();
    const bodies = ['k-1', 'k-2', 'k-3'];
    await publish(topic, bodies);

    // A client of the broker that knows the route id, the node name and the topic finds no
    // session under the id it can compute, nor under the one another key gives.
    expect(await hasSession(legacyId)).toBe(false);
    expect(await hasSession(otherKeyId)).toBe(false);

    // The same node with the same key after a restart resumes the session: nothing was lost.
    const got: string[] = [];
    await routeSource(pool(), spec, routeId).start(async (m) => {
      got.push(m.payload.toString());
    });
    await until(() => got.length >= bodies.length, 'the messages queued while stopped');
    expect([...new Set(got)].sort()).toEqual(bodies);
  });

  it('drains the session of the former, guessable client id once, then ends it', async () => {
    const topic = freshTopic('legacy');
    const routeId = `legacy-${RUN}`;
    const spec: MqttSourceSpec = { type: 'mqtt', connection: connection.name, topic };
    const legacyId = mqttLegacySourceClientId(spec, routeId, NODE)!;
    sessions.add(legacyId);
    sessions.add(mqttSourceClientId(spec, routeId, CLIENT_ID_KEY, NODE));

    // The former version ran the route under the former id, and stopped (upgrade).
    const before = routeSource(pool(), { ...spec, clientId: legacyId }, routeId);
    await before.start(async () => undefined);
    await before.stop();
    // Anyone could connect with that id: one did, and subscribed it to a topic of its choice.
    const elsewhere = freshTopic('elsewhere');
    const intruder = await rawClient({
      clientId: legacyId,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    });
    await intruder.subscribeAsync(elsewhere, { qos: 1 });
    await intruder.endAsync();
    const queued = Array.from({ length: 30 }, (_, i) => `old-${i}`);
    await publish(topic, queued);
    await publish(elsewhere, ['not-this-route']);

    const logger = testLogger();
    const got: string[] = [];
    await routeSource(pool({}, logger), { ...spec, prefetch: 5 }, routeId).start(async (m) => {
      got.push(m.payload.toString());
    });
    const after = ['new-1', 'new-2'];
    await publish(topic, after);
    await until(
      () => [...queued, ...after].every((body) => got.includes(body)),
      'the messages queued under the former id, and the new ones',
      15_000,
    );
    await until(
      () => logger.lines.some((line) => line.includes('former session ended')),
      'the former session ended',
      15_000,
    );
    // The message on another topic did not go through the route.
    expect(got).not.toContain('not-this-route');
    expect(
      logger.lines.filter((line) => line.includes(`on ${elsewhere}, not a topic`)),
    ).toHaveLength(1);
    // Gone from the broker: nobody who computes the former id finds anything there any more.
    expect(await hasSession(legacyId)).toBe(false);
  }, 40_000);

  it('does not take a session made under the former id again once its own session exists', async () => {
    const topic = freshTopic('replayed');
    const routeId = `replayed-${RUN}`;
    const spec: MqttSourceSpec = { type: 'mqtt', connection: connection.name, topic };
    const legacyId = mqttLegacySourceClientId(spec, routeId, NODE)!;
    sessions.add(legacyId);
    sessions.add(mqttSourceClientId(spec, routeId, CLIENT_ID_KEY, NODE));

    // Upgraded and run once: the new session exists (the former one was looked for then).
    const first = routeSource(pool(), spec, routeId);
    await first.start(async () => undefined);
    await first.stop();
    // Then a client of the broker computes the former id and subscribes a session of its own
    // to the route's topic: it gets a copy of every message the route's session gets.
    const intruder = await rawClient({
      clientId: legacyId,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    });
    await intruder.subscribeAsync(topic, { qos: 1 });
    await intruder.endAsync();
    const bodies = ['r-1', 'r-2', 'r-3'];
    await publish(topic, bodies);

    const logger = testLogger();
    const got: string[] = [];
    await routeSource(pool({}, logger), spec, routeId).start(async (m) => {
      got.push(m.payload.toString());
    });
    // The restart takes its own session's messages, and does not go and take the copies.
    expect(logger.lines.some((line) => line.includes('former session is not looked for'))).toBe(
      true,
    );
    await until(() => bodies.every((body) => got.includes(body)), 'the queued messages');
    expect(got.sort()).toEqual(bodies);
    expect(logger.lines.some((line) => line.includes('taking the messages'))).toBe(false);
    // The copies stay with the session that asked for them, untouched.
    for (const source of sources.splice(0).reverse()) await source.stop();
    expect(await hasSession(legacyId)).toBe(true);
  }, 40_000);
});
