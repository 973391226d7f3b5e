import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase } from '@junction/database';
import { eventually, freePort, MASTER_KEY } from '../gateway-process';
import { Spawned, spawnNode } from '../process';
import { closeRabbitConnections } from '../rabbitmq-connections';

/**
 * Issue #14, logs and status, against the gateway as a process with the real PostgreSQL and
 * RabbitMQ: what its stdout holds (JSON lines, the banner last, one line per dead letter, never
 * a card number), how it fails on a database it cannot reach, and what status, readiness and
 * metrics say of a route whose broker refuses the login.
 */
const ROOT = join(__dirname, '..', '..');
const RUN = `l${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

type Line = Record<string, unknown> & { level: string; msg: string };

/** A gateway process whose stdout is kept apart (it must be JSON lines only). */
class Gateway {
  readonly process: Spawned;
  private stdout = '';
  token = '';
  readonly base: string;

  constructor(port: number, env: Record<string, string>) {
    this.base = `http://127.0.0.1:${port}`;
    this.process = spawnNode(
      ['bin/gateway.js'],
      {
        JUNCTION_MASTER_KEY: MASTER_KEY,
        JUNCTION_SEED_DEMO: 'false',
        JUNCTION_ADMIN_PASSWORD: '',
        PORT: String(port),
        LOG_FORMAT: 'json',
        LOG_LEVEL: '',
        JUNCTION_LOG: '',
        NO_COLOR: '',
        ...env,
      },
      ROOT,
    );
    this.process.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
  }

  /** Every stdout line, parsed: fails the test on one that is not JSON. */
  lines(): Line[] {
    return this.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        try {
          return JSON.parse(l) as Line;
        } catch {
          throw new Error(`stdout line is not JSON: ${l}`);
        }
      });
  }

  /** stdout and stderr together, as an operator's terminal would show them. */
  output(): string {
    return this.process.output();
  }

  async started(): Promise<Line> {
    await this.process.waitFor(/listening on/, 90_000);
    return this.lines().find((l) => /listening on/.test(l.msg))!;
  }

  async login(password: string): Promise<number> {
    const res = await fetch(`${this.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    if (res.ok) this.token = ((await res.json()) as { token: string }).token;
    return res.status;
  }

  async api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${this.base}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async ready(): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.base}/health/ready`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async stop(): Promise<void> {
    if (this.process.child.exitCode !== null) return;
    this.process.child.kill('SIGTERM');
    await this.process.exited(30_000);
  }
}

/** Card numbers as people and systems write them (all Luhn-valid). */
const PANS = ['4111111111111111', '5500005555555559', '378282246310005', '6011111111111117'];
function spellings(pan: string): string[] {
  const groups = pan.match(/.{1,4}/g)!;
  return [pan, groups.join(' '), groups.join('-')];
}
const ALL_SPELLINGS = PANS.flatMap(spellings);

/** A stored connection name no other test on this broker uses. */
const GOOD = `logs-${RUN}`;

describe('logs and status (#14)', () => {
  let db: { url: string; drop(): Promise<void> };
  let port: number;
  let gateway: Gateway | undefined;
  let password = '';

  beforeAll(async () => {
    db = await createTestDatabase('logs');
    port = await freePort();
  }, 60_000);

  afterEach(async () => {
    await gateway?.stop();
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await db?.drop();
  }, 60_000);

  it('first start: stdout is JSON lines, Nest chatter is not at info, and the banner with the password comes last', async () => {
    gateway = new Gateway(port, { DATABASE_URL: db.url });
    const banner = await gateway.started();
    const lines = gateway.lines();
    expect(lines[lines.length - 1]).toEqual(banner);
    expect(banner).toMatchObject({
      level: 'info',
      url: gateway.base,
      console: `${gateway.base}/console`,
      docs: `${gateway.base}/docs`,
      admin: { user: 'admin', password: expect.stringMatching(/^\S{12,}$/) },
    });
    password = (banner.admin as { password: string }).password;
    const before = lines.slice(0, -1);
    expect(before.filter((l) => /Mapped \{|dependencies initialized/.test(l.msg))).toEqual([]);
    expect(before.length).toBeLessThanOrEqual(3);
    // Ready once the banner is out: the admin exists, so a sign-in right away works.
    expect((await gateway.ready()).status).toBe(200);
    expect(await gateway.login(password)).toBe(200);
  }, 120_000);

  it('one warn line per dead letter, without the body; a debug line per delivered message; no card number in any line', async () => {
    gateway = new Gateway(port, { DATABASE_URL: db.url, LOG_LEVEL: 'debug' });
    await gateway.started();
    expect(await gateway.login(password)).toBe(200);
    const route = {
      id: 'logs-orders',
      source: { type: 'http', path: `logs/${RUN}`, auth: 'none' },
      pipeline: [{ validate: { schema: { type: 'object', required: ['id'] } } }],
      destinations: [{ type: 'log', level: 'debug' }],
    };
    expect((await gateway.api('POST', '/routes', route)).status).toBe(201);
    const failing = {
      id: 'logs-failing',
      source: { type: 'http', path: `logs/${RUN}/failing`, auth: 'none' },
      pipeline: [{ transform: '$error("card " & card & " refused")' }],
      destinations: [{ type: 'log' }],
    };
    expect((await gateway.api('POST', '/routes', failing)).status).toBe(201);
    const ingest = (path: string, key: string, body: unknown) =>
      fetch(`${gateway!.base}/ingest/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });
    const marker = `body-marker-${RUN}`;
    const ok = `ok-${RUN}`;
    const dead = `dl-${RUN}`;
    expect((await ingest(`logs/${RUN}`, ok, { id: 'o-1', cards: ALL_SPELLINGS })).status).toBe(202);
    const rejected = await ingest(`logs/${RUN}`, dead, { marker, card: PANS[0] });
    // A message the route refuses: 422 to the caller, and dead-lettered.
    expect(rejected.status).toBe(422);
    // Card numbers where errors are made: an expression's error quoting one, request paths,
    // a request id, a user name.
    for (const [i, pan] of PANS.entries()) {
      await ingest(`logs/${RUN}/failing`, `pan-${i}-${RUN}`, { card: spellings(pan)[i % 3] });
      await gateway.api(
        'GET',
        `/routes/${encodeURIComponent(spellings(pan)[1])}/status`,
        undefined,
        {
          'x-request-id': pan,
        },
      );
      await fetch(`${gateway.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: spellings(pan)[2], password: pan }),
      });
    }
    const deadLines = await eventually(() => {
      const found = gateway!.lines().filter((l) => l.event === 'message.dead-lettered');
      if (found.length < 1 + PANS.length) throw new Error(`${found.length} dead-letter lines`);
      return found;
    }, 30_000);
    const mine = deadLines.filter((l) => l.messageId === dead);
    expect(mine).toEqual([
      expect.objectContaining({
        level: 'warn',
        route: 'logs-orders',
        messageId: dead,
        reasonCode: 'SCHEMA_FAILED',
        deadLetterId: expect.any(String),
      }),
    ]);
    expect(deadLines.filter((l) => l.route === 'logs-failing')).toHaveLength(PANS.length);
    const delivered = gateway.lines().filter((l) => l.messageId === ok);
    expect(delivered).toEqual([
      expect.objectContaining({ level: 'debug', event: 'message.delivered', route: 'logs-orders' }),
    ]);
    // Every request's lines carry its id; a card number offered as one is replaced.
    const requests = gateway.lines().filter((l) => l.context === 'Http');
    expect(requests.length).toBeGreaterThan(PANS.length * 2);
    for (const l of requests) expect(l.reqId).toEqual(expect.any(String));
    const all = gateway.output();
    expect(all).not.toContain(marker);
    for (const spelling of ALL_SPELLINGS) expect(all).not.toContain(spelling);
    expect(all).toContain('[PAN REDACTED]');
  }, 120_000);

  it('a route whose broker refuses the login: retrying with the reason and since, connection down in metrics, not ready', async () => {
    gateway = new Gateway(port, { DATABASE_URL: db.url });
    await gateway.started();
    expect(await gateway.login(password)).toBe(200);
    for (const [name, secret] of [
      [GOOD, 'guest'],
      ['badrabbit', `wrong-${RUN}`],
    ])
      expect(
        (
          await gateway.api('POST', '/connections', {
            name,
            type: 'amqp',
            config: { url: 'amqp://guest@127.0.0.1:5672' },
            secrets: { password: secret },
          })
        ).status,
      ).toBe(201);
    for (const [id, connection] of [
      ['logs-good', GOOD],
      ['logs-refused', 'badrabbit'],
    ])
      expect(
        (
          await gateway.api('POST', '/routes', {
            id,
            source: { type: 'amqp', connection, queue: `${id}.${RUN}` },
            destinations: [{ type: 'log' }],
          })
        ).status,
      ).toBe(201);
    const started = Date.now();
    const status = await eventually(async () => {
      const s = (await gateway!.api('GET', '/routes/logs-refused/status')).body;
      if (s.state !== 'retrying') throw new Error(`state ${String(s.state)}`);
      return s;
    }, 30_000);
    expect(status.reason).toMatch(/ACCESS.REFUSED.*Login was refused/);
    expect(status.reason).not.toContain(`wrong-${RUN}`);
    expect(Date.parse(status.since as string)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(status.since as string)).toBeGreaterThan(started - 60_000);
    expect(status.process).toMatch(/:\d+$/);
    const list = (await gateway.api('GET', '/routes')).body as unknown as Array<{
      id: string;
      runtime: { state: string; reason: string };
    }>;
    expect(list.find((r) => r.id === 'logs-refused')!.runtime).toMatchObject({
      state: 'retrying',
      reason: expect.stringMatching(/ACCESS.REFUSED/),
    });
    await eventually(async () => {
      const s = (await gateway!.api('GET', '/routes/logs-good/status')).body;
      if (s.state !== 'running') throw new Error(`state ${String(s.state)}`);
    }, 30_000);
    const metrics = () => fetch(`${gateway!.base}/metrics`).then((r) => r.text());
    const line = (name: string, connection: string, value: number) =>
      new RegExp(`^${name}\\{connection="${connection}",type="amqp"\\} ${value}$`, 'm');
    let scraped = await metrics();
    expect(scraped).toMatch(line('junction_connection_up', 'badrabbit', 0));
    expect(scraped).toMatch(line('junction_connection_up', GOOD, 1));
    expect(scraped).toMatch(line('junction_connection_reconnects_total', GOOD, 0));
    // The broker drops the good connection (this test's only: its name is unique): it comes back
    // and is counted.
    expect(closeRabbitConnections(`junction:${GOOD}`, 'logs e2e: dropped on purpose')).toBe(1);
    scraped = await eventually(async () => {
      const text = await metrics();
      if (!line('junction_connection_reconnects_total', GOOD, 1).test(text))
        throw new Error('no reconnect counted yet');
      return text;
    }, 30_000);
    expect(scraped).toMatch(line('junction_connection_up', GOOD, 1));
    const ready = await gateway.ready();
    expect(ready.status).toBe(503);
    expect(ready.body.message).toMatch(/amqp connection badrabbit: refused or out of reach/);
    // Why, in the broker's words, is for signed-in callers (runtime.reason), not for anyone.
    expect(JSON.stringify(ready.body)).not.toMatch(/ACCESS.REFUSED|127\.0\.0\.1/);
    expect(ready.body.message).not.toContain(`connection ${GOOD}:`);
  }, 120_000);

  it('/health/ready is 503 from the first answer until start-up is done and the brokers are up', async () => {
    gateway = new Gateway(port, { DATABASE_URL: db.url });
    // The first answer the port gives, polled from the start.
    const first = await eventually(() => gateway!.ready(), 60_000, 'the first answer');
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ status: 'unavailable', statusCode: 503 });
    await gateway.started();
    expect(await gateway.login(password)).toBe(200);
    expect((await gateway.ready()).status).toBe(503); // badrabbit still refuses
    expect((await gateway.api('DELETE', '/routes/logs-refused')).status).toBe(204);
    const ready = await eventually(async () => {
      const r = await gateway!.ready();
      if (r.status !== 200) throw new Error(String(r.body.message));
      return r;
    }, 30_000);
    expect(ready.body).toMatchObject({ status: 'ok', checks: { startup: 'ok', database: 'ok' } });
  }, 120_000);

  it('a database that cannot be reached: one line naming DATABASE_URL and host:port, exit 1, within seconds', async () => {
    const closed = await freePort();
    const startedAt = Date.now();
    gateway = new Gateway(port, {
      DATABASE_URL: `postgres://junction@127.0.0.1:${closed}/junction`,
    });
    const code = await gateway.process.exited(20_000);
    const took = Date.now() - startedAt;
    expect(code).toBe(1);
    expect(took).toBeLessThan(10_000);
    const output = gateway.output().split('\n').filter(Boolean);
    expect(output).toHaveLength(1);
    const [line] = gateway.lines();
    expect(line).toMatchObject({ level: 'fatal' });
    expect(line.msg).toContain('DATABASE_URL');
    expect(line.msg).toContain(`127.0.0.1:${closed}`);
    expect(output[0]).not.toMatch(/\n\s+at /);
  }, 30_000);
});
