import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, eventually, MASTER_KEY } from '../gateway-process';
import { freePort, spawnNode, type Spawned } from '../process';

/**
 * Issue #11, classes 2 and 3, against the gateway as a process, the real RabbitMQ and Kafka, and
 * fake servers on 127.0.0.x that record every byte they are sent (a fake AMQP broker that asks
 * for SASL PLAIN, a fake Kafka broker that answers ApiVersions and SaslHandshake so the client
 * sends its password, an HTTP server that records headers). The fakes prove they would see a
 * secret sent to them: each test also shows one arriving where it is allowed to.
 */
const ROOT = join(__dirname, '..', '..');
const RUN = `e${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const KAFKA = '127.0.0.1:19092';

/** A TCP listener that keeps every byte of every connection, and may speak a first step of a protocol. */
interface Recorder {
  host: string;
  port: number;
  connections: number;
  text(): string;
  close(): Promise<void>;
}

/** AMQP 0-9-1 Connection.Start: asks the client for SASL PLAIN, whose response carries the password. */
function amqpConnectionStart(): Buffer {
  const longstr = (s: string) => {
    const b = Buffer.alloc(4 + s.length);
    b.writeUInt32BE(s.length);
    b.write(s, 4, 'latin1');
    return b;
  };
  const payload = Buffer.concat([
    Buffer.from([0, 10, 0, 10, 0, 9]), // class 10 connection, method 10 start, version 0-9
    Buffer.from([0, 0, 0, 0]), // server properties: empty table
    longstr('PLAIN'),
    longstr('en_US'),
  ]);
  const header = Buffer.alloc(7);
  header.writeUInt8(1, 0);
  header.writeUInt16BE(0, 1);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload, Buffer.from([0xce])]);
}

/** Answers kafkajs' ApiVersions and SaslHandshake (PLAIN), so that it sends SaslAuthenticate. */
function kafkaReplies(socket: Socket): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const request = pending.subarray(4, 4 + pending.readInt32BE(0));
      pending = pending.subarray(4 + request.length);
      const apiKey = request.readInt16BE(0);
      const version = request.readInt16BE(2);
      const correlation = request.readInt32BE(4);
      let body: Buffer | undefined;
      if (apiKey === 18) {
        const apis = [
          [18, 0, 2],
          [17, 0, 1],
          [36, 0, 1],
          [3, 0, 5],
        ];
        body = Buffer.alloc(2 + 4 + apis.length * 6 + (version >= 1 ? 4 : 0));
        body.writeInt32BE(apis.length, 2);
        apis.forEach(([key, min, max], i) => {
          body!.writeInt16BE(key, 6 + i * 6);
          body!.writeInt16BE(min, 8 + i * 6);
          body!.writeInt16BE(max, 10 + i * 6);
        });
      } else if (apiKey === 17) {
        body = Buffer.from([0, 0, 0, 0, 0, 1, 0, 5, ...Buffer.from('PLAIN')]);
      }
      if (!body) continue; // SaslAuthenticate and the rest: recorded, never answered
      const frame = Buffer.alloc(8);
      frame.writeInt32BE(4 + body.length, 0);
      frame.writeInt32BE(correlation, 4);
      socket.write(Buffer.concat([frame, body]));
    }
  };
}

async function startRecorder(
  host: string,
  speaks: 'amqp' | 'kafka' | 'nothing',
  port = 0,
): Promise<Recorder> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const recorder = {
    host,
    port,
    connections: 0,
    text: () => Buffer.concat(chunks).toString('latin1'),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((socket) => {
    recorder.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const kafka = speaks === 'kafka' ? kafkaReplies(socket) : undefined;
    let greeted = false;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (speaks === 'amqp' && !greeted && Buffer.concat(chunks).includes('AMQP')) {
        greeted = true;
        socket.write(amqpConnectionStart());
      }
      kafka?.(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  recorder.port = (server.address() as { port: number }).port;
  return recorder;
}

interface HttpRecorder {
  baseUrl: string;
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function startHttpRecorder(host: string): Promise<HttpRecorder> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createHttpServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    baseUrl: `http://${host}:${port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The built gateway as a process, with the environment of a test. */
class Gateway {
  private process?: Spawned;
  private token = '';
  readonly port: Promise<number> = freePort();

  constructor(
    private readonly db: TestDatabase,
    private readonly env: Record<string, string>,
  ) {}

  async start(env: Record<string, string> = this.env): Promise<void> {
    const port = await this.port;
    this.process = spawnNode(
      ['bin/gateway.js'],
      {
        DATABASE_URL: this.db.url,
        JUNCTION_MASTER_KEY: MASTER_KEY,
        JUNCTION_ADMIN_PASSWORD: ADMIN_PASSWORD,
        JUNCTION_SEED_DEMO: 'false',
        JUNCTION_LOG: 'silent',
        PORT: String(port),
        JUNCTION_EGRESS_ALLOW: '',
        JUNCTION_EGRESS_STRICT: '',
        JUNCTION_HTTP_ALLOW_HOSTS: '',
        JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS: '',
        ...env,
      },
      ROOT,
    );
    await this.process.waitFor(/listening on/, 60_000);
    const res = await this.call('POST', '/api/v1/auth/login', {
      username: 'admin',
      password: ADMIN_PASSWORD,
    });
    this.token = (res.body as { token: string }).token;
  }

  async stop(): Promise<void> {
    if (!this.process || this.process.child.exitCode !== null) return;
    this.process.child.kill('SIGTERM');
    await this.process.exited();
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; text: string }> {
    const res = await fetch(`http://127.0.0.1:${await this.port}${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        'content-type': 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, text };
  }

  async created(path: string, body: unknown): Promise<void> {
    const res = await this.call('POST', `/api/v1${path}`, body);
    if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${res.text}`);
  }

  async lastError(routeId: string): Promise<string> {
    const res = await this.call('GET', `/api/v1/routes/${routeId}/status`);
    return String((res.body as { lastError?: unknown })?.lastError ?? '');
  }
}

const amqpRoute = (id: string, connection: string) => ({
  id,
  source: { type: 'amqp', connection, queue: `${RUN}.${id}.in` },
  destinations: [{ type: 'log' }],
});
const kafkaRoute = (id: string, connection: string) => ({
  id,
  source: { type: 'kafka', connection, topic: `${RUN}.${id}` },
  destinations: [{ type: 'log' }],
});

describe('secrets go only where they were entered for (issue #11, class 2)', () => {
  let db: TestDatabase;
  let gw: Gateway;
  const recorders: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    db = await createTestDatabase('egress_secrets');
    gw = new Gateway(db, {});
    await gw.start();
  }, 90_000);

  afterAll(async () => {
    await gw?.stop();
    await Promise.all(recorders.map((r) => r.close()));
    await db?.drop();
  }, 60_000);

  it('amqp: a new host, port, scheme, user or vhost without the password is refused; the password never reaches the new target; re-entered it goes there', async () => {
    const old = await startRecorder('127.0.0.1', 'amqp');
    const next = await startRecorder('127.0.0.2', 'amqp');
    recorders.push(old, next);
    const oldPassword = `amqp-old-${RUN}`;
    const newPassword = `amqp-new-${RUN}`;
    await gw.created('/connections', {
      name: 'rabbit',
      type: 'amqp',
      config: { url: `amqp://svc@127.0.0.1:${old.port}`, vhost: '/' },
      secrets: { password: oldPassword },
    });
    await gw.created('/routes', amqpRoute('amqp-moves', 'rabbit'));
    // The fake sees the password where it was entered for: it would see one sent to it.
    await eventually(() => expect(old.text()).toContain(`\0svc\0${oldPassword}`));

    const changes: Array<[string, Record<string, unknown>]> = [
      ['/config/url', { url: `amqp://svc@127.0.0.2:${next.port}`, vhost: '/' }],
      ['/config/url', { url: `amqp://svc@localhost:${next.port}`, vhost: '/' }],
      ['/config/url', { url: `amqps://svc@127.0.0.1:${old.port}`, vhost: '/' }],
      ['/config/url', { url: `amqp://admin@127.0.0.1:${old.port}`, vhost: '/' }],
      ['/config/vhost', { url: `amqp://svc@127.0.0.1:${old.port}`, vhost: '/other' }],
      ['/config/username', { url: `amqp://svc@127.0.0.1:${old.port}`, vhost: '/', username: 'x' }],
    ];
    for (const [pointer, config] of changes) {
      const res = await gw.call('PUT', '/api/v1/connections/rabbit', { type: 'amqp', config });
      expect([pointer, res.status]).toEqual([pointer, 400]);
      expect(res.body).toMatchObject({
        details: { code: 'SECRETS_NOT_REENTERED', changed: [pointer], secrets: ['password'] },
        message: expect.stringContaining('secrets.password'),
      });
    }
    // Other fields may change without the secrets, which are kept.
    const heartbeat = await gw.call('PUT', '/api/v1/connections/rabbit', {
      type: 'amqp',
      config: { url: `amqp://svc@127.0.0.1:${old.port}`, vhost: '/', heartbeatSeconds: 30 },
    });
    expect(heartbeat.body).toMatchObject({ secrets: ['password'] });
    await eventually(() => expect(old.connections).toBeGreaterThan(1)); // restarted on the change
    expect(next.connections).toBe(0);

    const moved = await gw.call('PUT', '/api/v1/connections/rabbit', {
      type: 'amqp',
      config: { url: `amqp://svc@127.0.0.2:${next.port}`, vhost: '/' },
      secrets: { password: newPassword },
    });
    expect(moved.status).toBe(200);
    await eventually(() => expect(next.text()).toContain(`\0svc\0${newPassword}`));
    expect(next.text()).not.toContain(oldPassword);
  }, 90_000);

  it('kafka: new brokers, TLS or SASL user without the password are refused; the password never reaches the new broker; re-entered it goes there', async () => {
    const old = await startRecorder('127.0.0.1', 'kafka');
    const next = await startRecorder('127.0.0.2', 'kafka');
    recorders.push(old, next);
    const oldPassword = `kafka-old-${RUN}`;
    const newPassword = `kafka-new-${RUN}`;
    const config = (brokers: string[], extra: Record<string, unknown> = {}) => ({
      brokers,
      sasl: { mechanism: 'plain', username: 'svc' },
      ...extra,
    });
    await gw.created('/connections', {
      name: 'events',
      type: 'kafka',
      config: config([`127.0.0.1:${old.port}`]),
      secrets: { saslPassword: oldPassword },
    });
    await gw.created('/routes', kafkaRoute('kafka-moves', 'events'));
    await eventually(() => expect(old.text()).toContain(`\0svc\0${oldPassword}`));

    const changes: Array<[string, Record<string, unknown>]> = [
      ['/config/brokers', config([`127.0.0.2:${next.port}`])],
      ['/config/brokers', config([`127.0.0.1:${old.port}`, `127.0.0.2:${next.port}`])],
      ['/config/ssl', config([`127.0.0.1:${old.port}`], { ssl: true })],
      [
        '/config/sasl',
        { ...config([`127.0.0.1:${old.port}`]), sasl: { mechanism: 'plain', username: 'other' } },
      ],
      [
        '/config/sasl',
        {
          ...config([`127.0.0.1:${old.port}`]),
          sasl: { mechanism: 'scram-sha-256', username: 'svc' },
        },
      ],
    ];
    for (const [pointer, changed] of changes) {
      const res = await gw.call('PUT', '/api/v1/connections/events', {
        type: 'kafka',
        config: changed,
      });
      expect([pointer, res.status]).toEqual([pointer, 400]);
      expect(res.body).toMatchObject({
        details: { code: 'SECRETS_NOT_REENTERED', changed: [pointer], secrets: ['saslPassword'] },
      });
    }
    expect(next.connections).toBe(0);

    const moved = await gw.call('PUT', '/api/v1/connections/events', {
      type: 'kafka',
      config: config([`127.0.0.2:${next.port}`]),
      secrets: { saslPassword: newPassword },
    });
    expect(moved.status).toBe(200);
    await eventually(() => expect(next.text()).toContain(`\0svc\0${newPassword}`));
    expect(next.text()).not.toContain(oldPassword);
  }, 90_000);

  it('http: a new base URL without the token is refused; the token never reaches the new host; credential headers get a secret slot; audit keeps no secret', async () => {
    const old = await startHttpRecorder('127.0.0.1');
    const next = await startHttpRecorder('127.0.0.2');
    recorders.push(old, next);
    const oldToken = `http-old-${RUN}`;
    const newToken = `http-new-${RUN}`;
    const apiKey = `key-${RUN}`;

    // A credential in plain config is refused, naming the slot to use.
    for (const [headers, pointer] of [
      [{ 'X-Api-Key': apiKey }, '/config/headers/X-Api-Key'],
      [{ Authorization: `Bearer ${apiKey}` }, '/config/headers/Authorization'],
      [{ 'x-forward': `Basic ${apiKey}` }, '/config/headers/x-forward'],
    ] as const) {
      const res = await gw.call('POST', '/api/v1/connections', {
        name: 'erp-headers',
        type: 'http',
        config: { baseUrl: old.baseUrl, headers },
      });
      expect([pointer, res.status]).toEqual([pointer, 400]);
      expect(res.body).toMatchObject({
        details: { problems: [{ pointer, message: expect.stringContaining('secrets["header:') }] },
      });
    }
    for (const baseUrl of [
      `http://svc:${apiKey}@127.0.0.1:1`,
      `http://127.0.0.1:1/?access_token=${apiKey}`,
    ]) {
      const res = await gw.call('POST', '/api/v1/connections', {
        name: 'erp-url',
        type: 'http',
        config: { baseUrl },
      });
      expect([baseUrl, res.status]).toEqual([baseUrl, 400]);
    }

    // A header secret with a line break would fail only at the first request: refused when saved,
    // without repeating it.
    for (const secrets of [
      { 'header:X-Api-Key': `${apiKey}\r\nX-Injected: 1` },
      { bearerToken: `${oldToken}\n` },
    ]) {
      const res = await gw.call('POST', '/api/v1/connections', {
        name: 'erp-crlf',
        type: 'http',
        config: { baseUrl: old.baseUrl },
        secrets,
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(/cannot hold a line break/);
      expect(JSON.stringify(res.body)).not.toContain(apiKey);
      expect(JSON.stringify(res.body)).not.toContain(oldToken);
    }
    await gw.created('/connections', {
      name: 'erp',
      type: 'http',
      config: { baseUrl: old.baseUrl, headers: { 'x-tenant': 'eu' } },
      secrets: { bearerToken: oldToken, 'header:X-Api-Key': apiKey },
    });
    await gw.created('/routes', {
      id: 'erp-sync',
      source: { type: 'http', path: `erp-sync-${RUN}`, auth: 'none', mode: 'sync' },
      destinations: [{ type: 'http', connection: 'erp', path: '/orders', reply: true }],
      errors: { retry: { attempts: 1 } },
    });
    const ingest = () => gw.call('POST', `/ingest/erp-sync-${RUN}`, { id: 'o-1' });
    expect((await ingest()).status).toBe(200);
    expect(old.seen.at(-1)).toMatchObject({
      authorization: `Bearer ${oldToken}`,
      'x-api-key': apiKey,
      'x-tenant': 'eu',
    });

    for (const baseUrl of [
      next.baseUrl,
      old.baseUrl.replace('http:', 'https:'),
      `http://svc@${old.baseUrl.slice(7)}`,
    ]) {
      const res = await gw.call('PUT', '/api/v1/connections/erp', {
        type: 'http',
        config: { baseUrl, headers: { 'x-tenant': 'eu' } },
        secrets: { bearerToken: oldToken }, // one re-entered is not enough: each must be
      });
      expect([baseUrl, res.status]).toEqual([baseUrl, 400]);
      expect(res.body).toMatchObject({
        details: {
          code: 'SECRETS_NOT_REENTERED',
          changed: ['/config/baseUrl'],
          secrets: ['header:X-Api-Key'],
        },
      });
    }
    expect((await ingest()).status).toBe(200);
    expect(next.seen).toHaveLength(0);

    const moved = await gw.call('PUT', '/api/v1/connections/erp', {
      type: 'http',
      config: { baseUrl: next.baseUrl },
      secrets: { bearerToken: newToken, 'header:X-Api-Key': null },
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ secrets: ['bearerToken'] });
    await eventually(async () => {
      expect((await ingest()).status).toBe(200);
      expect(next.seen.at(-1)).toMatchObject({ authorization: `Bearer ${newToken}` });
    });
    expect(JSON.stringify(next.seen)).not.toContain(oldToken);
    expect(JSON.stringify(next.seen)).not.toContain(apiKey);

    // Reads and the audit trail name secrets, never show them.
    const reads = [
      await gw.call('GET', '/api/v1/connections'),
      await gw.call('GET', '/api/v1/audit/events?limit=500'),
      await gw.call('GET', '/api/v1/audit/export?format=ndjson'),
    ];
    for (const read of reads) {
      expect(read.status).toBe(200);
      for (const secret of [oldToken, newToken, apiKey]) expect(read.text).not.toContain(secret);
    }
    expect(reads[1].text).toContain('connection.updated');
  }, 90_000);
});

describe('egress control for every protocol (issue #11, class 3)', () => {
  let permissiveDb: TestDatabase;
  let strictDb: TestDatabase;
  let permissive: Gateway;
  let strict: Gateway;
  const recorders: Recorder[] = [];
  let amqpOff: Recorder;
  let amqpLocal: Recorder;
  let kafkaOff: Recorder;
  const secret = `strict-${RUN}`;
  let strictEnv: Record<string, string>;

  beforeAll(async () => {
    [permissiveDb, strictDb] = await Promise.all([
      createTestDatabase('egress_open'),
      createTestDatabase('egress_strict'),
    ]);
    permissive = new Gateway(permissiveDb, {});
    strict = new Gateway(strictDb, {});
    await Promise.all([permissive.start(), strict.start()]);
    // Connections saved while the policy was permissive: the strict restart must refuse them
    // when connecting (nothing listens yet, so nothing is sent now).
    const [offPort, localPort, kafkaPort] = await Promise.all([freePort(), freePort(), freePort()]);
    await strict.created('/connections', {
      name: 'amqp-off',
      type: 'amqp',
      config: { url: `amqp://svc@127.0.0.2:${offPort}` },
      secrets: { password: secret },
    });
    await strict.created('/connections', {
      name: 'amqp-localhost',
      type: 'amqp',
      config: { url: `amqp://svc@localhost:${localPort}` },
      secrets: { password: secret },
    });
    await strict.created('/connections', {
      name: 'kafka-off',
      type: 'kafka',
      config: {
        brokers: [`127.0.0.2:${kafkaPort}`],
        sasl: { mechanism: 'plain', username: 'svc' },
      },
      secrets: { saslPassword: secret },
    });
    await strict.created('/routes', amqpRoute('amqp-off', 'amqp-off'));
    await strict.created('/routes', amqpRoute('amqp-localhost', 'amqp-localhost'));
    await strict.created('/routes', kafkaRoute('kafka-off', 'kafka-off'));
    await strict.stop();
    amqpOff = await startRecorder('127.0.0.2', 'amqp', offPort);
    amqpLocal = await startRecorder('127.0.0.1', 'amqp', localPort);
    kafkaOff = await startRecorder('127.0.0.2', 'kafka', kafkaPort);
    recorders.push(amqpOff, amqpLocal, kafkaOff);
    // Only the real brokers are listed, and 127.0.0.2 on the port localhost names: localhost
    // resolves to 127.0.0.1, which is not.
    strictEnv = {
      JUNCTION_EGRESS_STRICT: 'true',
      JUNCTION_EGRESS_ALLOW: `127.0.0.1:5672, ${KAFKA}, 127.0.0.2:${localPort}`,
    };
    await strict.start(strictEnv);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([permissive?.stop(), strict?.stop()]);
    await Promise.all(recorders.map((r) => r.close()));
    await Promise.all([permissiveDb?.drop(), strictDb?.drop()]);
  }, 60_000);

  it('strict: AMQP and Kafka connections to unlisted addresses are refused when connecting; no byte reaches them', async () => {
    for (const route of ['amqp-off', 'kafka-off'])
      await eventually(
        async () =>
          expect(await strict.lastError(route)).toMatch(/egress refused.*not on the allowlist/),
        60_000,
        `${route} refused`,
      );
    expect(amqpOff.connections).toBe(0);
    expect(kafkaOff.connections).toBe(0);
  }, 90_000);

  it('strict: a name that resolves to an unlisted address (localhost) is refused when connecting', async () => {
    await eventually(
      async () =>
        expect(await strict.lastError('amqp-localhost')).toMatch(
          /egress refused|not on the allowlist/,
        ),
      60_000,
      'amqp-localhost refused',
    );
    expect(amqpLocal.connections).toBe(0);
    expect(amqpLocal.text()).not.toContain(secret);
  }, 90_000);

  it('strict: a connection naming an unlisted target is refused when saved, pointing at the field', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['amqp', { url: 'amqp://svc@127.0.0.2:5672' }, '/config/url'],
      ['amqp', { url: 'amqp://svc@127.0.0.1:5673' }, '/config/url'],
      ['amqp', { url: `amqp://svc@localhost:${amqpLocal.port}` }, '/config/url'],
      ['kafka', { brokers: [KAFKA, '127.0.0.2:19092'] }, '/config/brokers/1'],
      ['http', { baseUrl: 'http://127.0.0.1:8080' }, '/config/baseUrl'],
    ];
    for (const [type, config, pointer] of cases) {
      const res = await strict.call('POST', '/api/v1/connections', {
        name: 'refused',
        type,
        config,
      });
      expect([pointer, res.status]).toEqual([pointer, 400]);
      expect(res.body).toMatchObject({
        details: {
          code: 'EGRESS_REFUSED',
          problems: [{ pointer, message: expect.stringContaining('not on the allowlist') }],
        },
      });
    }
  });

  it('strict: listed targets work against the real RabbitMQ and Kafka', async () => {
    await strict.created('/connections', {
      name: 'rabbit',
      type: 'amqp',
      config: { url: 'amqp://guest@127.0.0.1:5672' },
      secrets: { password: 'guest' },
    });
    await strict.created('/connections', {
      name: 'kafka',
      type: 'kafka',
      config: { brokers: [KAFKA] },
    });
    const topic = `${RUN}.allowed`;
    const queue = `${RUN}.allowed.in`;
    await strict.created('/routes', {
      id: 'allowed',
      source: { type: 'amqp', connection: 'rabbit', queue },
      destinations: [{ type: 'kafka', connection: 'kafka', topic }],
    });
    const kafka = new Kafka({ clientId: RUN, brokers: [KAFKA], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const consumer = kafka.consumer({ groupId: `${RUN}-check` });
    const got: string[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message.value?.toString() ?? '');
        },
      });
      const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
      try {
        const channel = await connection.createConfirmChannel();
        await eventually(async () => {
          const status = await strict.call('GET', '/api/v1/routes/allowed/status');
          expect(status.body).toMatchObject({ state: 'running' });
        }, 60_000);
        channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id: 'allowed-1' })), {
          messageId: 'allowed-1',
        });
        await channel.waitForConfirms();
      } finally {
        await connection.close();
      }
      await eventually(
        () => expect(got.join()).toContain('allowed-1'),
        60_000,
        'delivered to Kafka',
      );
    } finally {
      await consumer.disconnect();
      await admin.disconnect();
    }
  }, 120_000);

  it('permissive default: cloud metadata and link-local targets are refused, in any spelling and protocol', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['amqp', { url: 'amqp://svc@169.254.169.254' }, '/config/url'],
      ['amqp', { url: 'amqp://svc@2852039166:5672' }, '/config/url'],
      ['amqp', { url: 'amqp://svc@0251.0376.0251.0376' }, '/config/url'],
      ['amqp', { url: 'amqp://svc@[::ffff:169.254.169.254]' }, '/config/url'],
      ['amqp', { url: 'amqp://svc@[fe80::1]:5672' }, '/config/url'],
      ['kafka', { brokers: ['0xa9fea9fe:9092'] }, '/config/brokers/0'],
      ['kafka', { brokers: ['metadata.google.internal:80'] }, '/config/brokers/0'],
      ['kafka', { brokers: ['100.100.100.200:80'] }, '/config/brokers/0'],
      ['http', { baseUrl: 'http://169.254.169.254/latest/meta-data' }, '/config/baseUrl'],
      ['http', { baseUrl: 'http://[fd00:ec2::254]/' }, '/config/baseUrl'],
      ['http', { baseUrl: 'http://169.254.43518/' }, '/config/baseUrl'],
    ];
    for (const [type, config, pointer] of cases) {
      const res = await permissive.call('POST', '/api/v1/connections', {
        name: 'meta',
        type,
        config,
      });
      expect([JSON.stringify(config), res.status]).toEqual([JSON.stringify(config), 400]);
      expect(res.body).toMatchObject({
        details: {
          code: 'EGRESS_REFUSED',
          problems: [{ pointer, message: expect.stringMatching(/metadata|link-local/) }],
        },
      });
    }
    // Anything else stays reachable by default.
    await permissive.created('/connections', {
      name: 'elsewhere',
      type: 'amqp',
      config: { url: 'amqp://svc@127.0.0.2:5672' },
    });
  });

  it('refuses to start on a bad policy, naming the variable', async () => {
    for (const env of [
      { JUNCTION_EGRESS_ALLOW: '10.0.0.0/40' },
      { JUNCTION_EGRESS_ALLOW: 'host:99999' },
      { JUNCTION_EGRESS_STRICT: 'maybe' },
      { JUNCTION_EGRESS_STRICT: 'false', JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS: 'false' },
    ]) {
      const child = spawnNode(
        ['bin/gateway.js'],
        {
          DATABASE_URL: strictDb.url,
          JUNCTION_MASTER_KEY: MASTER_KEY,
          JUNCTION_LOG: 'silent',
          PORT: String(await freePort()),
          JUNCTION_EGRESS_ALLOW: '',
          JUNCTION_EGRESS_STRICT: '',
          JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS: '',
          ...env,
        },
        ROOT,
      );
      const code = await child.exited();
      expect([env, code]).not.toEqual([env, 0]);
      expect(child.output()).toContain(Object.keys(env)[0]);
    }
  }, 60_000);
});
