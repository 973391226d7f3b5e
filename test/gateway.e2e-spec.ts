import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, Spawned, spawnNode } from './process';

const ROOT = join(__dirname, '..');
const order = readFileSync(join(ROOT, 'examples/messages/order-de.json'), 'utf8');

/**
 * `npm start` as a newcomer runs it: the built gateway as a process, no DATABASE_URL (the
 * embedded default), driven over real HTTP.
 */
describe('the gateway process on the embedded default', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let base: string;
  let gateway: Spawned | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'junction-e2e-'));
    const port = await freePort();
    env = {
      JUNCTION_DATA_DIR: dataDir,
      PORT: String(port),
      JUNCTION_EMBEDDED_PG_PORT: String(await freePort()),
      DATABASE_URL: '',
      JUNCTION_MASTER_KEY: '',
      JUNCTION_ADMIN_PASSWORD: '',
    };
    base = `http://127.0.0.1:${port}`;
  });

  afterEach(async () => {
    if (gateway && gateway.child.exitCode === null) {
      gateway.child.kill('SIGTERM');
      await gateway.exited();
    }
  });

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function start(): Promise<Spawned> {
    gateway = spawnNode(['bin/gateway.js'], env, ROOT);
    await gateway.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    return gateway;
  }

  async function login(password: string): Promise<Response> {
    return fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
  }

  let password = '';

  it('first start prints the URL and a generated admin password, and the demo route answers curl', async () => {
    const g = await start();
    password = (await g.waitFor(/admin:\s+admin \/ (\S+)/))[1];
    expect(g.output()).toMatch(
      /demo:\s+curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/ingest\/demo\/orders/,
    );
    const reply = await fetch(`${base}/ingest/demo/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: order,
    });
    expect(reply.status).toBe(200);
    const body = (await reply.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      orderId: 'ORD-2026-000123',
      email: 'j***@example.com',
      card: { pan: '411111******1111' },
    });
    expect(JSON.stringify(body)).not.toContain('4111111111111111');
    expect(g.output()).not.toContain('4111111111111111');
    expect((await login(password)).status).toBe(200);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /^junction_messages_total\{route="demo-orders",outcome="delivered"\} 1$/m,
    );
  }, 90_000);

  it('stops cleanly on SIGTERM and keeps everything across a restart', async () => {
    gateway!.child.kill('SIGTERM');
    expect(await gateway!.exited()).toBe(0);
    const g = await start();
    expect(g.output()).not.toMatch(/admin:/); // created once only
    const res = await login(password);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const routes = (await (
      await fetch(`${base}/api/v1/routes`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as Array<{ id: string }>;
    expect(routes.map((r) => r.id)).toEqual(['demo-orders']);
  }, 90_000);

  it('comes back after kill -9 (the orphaned embedded Postgres is recovered)', async () => {
    gateway!.child.kill('SIGKILL');
    await gateway!.exited();
    await start();
    expect((await login(password)).status).toBe(200);
  }, 90_000);

  it('a lost admin password: --reset-admin-password sets a new one, ends the old sessions, and is audited', async () => {
    await start();
    const before = await login(password);
    const { token: oldToken } = (await before.json()) as { token: string };
    gateway!.child.kill('SIGTERM');
    await gateway!.exited();
    gateway = spawnNode(['bin/gateway.js', '--reset-admin-password'], env, ROOT);
    await gateway.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    const fresh = (await gateway.waitFor(/admin:\s+admin \/ (\S+)/))[1];
    expect(fresh).not.toBe(password);
    expect((await login(password)).status).toBe(401);
    const signedIn = await login(fresh);
    expect(signedIn.status).toBe(200);
    const { token } = (await signedIn.json()) as { token: string };
    const me = (t: string) =>
      fetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${t}` } });
    expect((await me(oldToken)).status).toBe(401);
    const events = (await (
      await fetch(`${base}/api/v1/audit/events?actor=system&targetType=user`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { items: Array<{ type: string; actorKind: string; details: { reason: string } }> };
    // Newest first: the reset, then the admin made on first start.
    expect(events.items.map((e) => [e.type, e.actorKind, e.details.reason])).toEqual([
      ['user.password-reset', 'system', '--reset-admin-password at start-up'],
      ['user.created', 'system', 'first start'],
    ]);
    password = fresh;
    // The flag holds for that start only: the next start keeps the password.
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited()).toBe(0);
    const again = await start();
    expect(again.output()).not.toMatch(/admin:/);
    expect((await login(fresh)).status).toBe(200);
  }, 90_000);

  it('refuses bad configuration with a message naming the variable', async () => {
    gateway!.child.kill('SIGTERM');
    await gateway!.exited();
    const bad = spawnNode(
      ['bin/gateway.js'],
      { ...env, PORT: 'eighty', JUNCTION_MASTER_KEY: 'too-short' },
      ROOT,
    );
    expect(await bad.exited()).toBe(1);
    expect(bad.output()).toMatch(/PORT="eighty": must be a whole number/);
    expect(bad.output()).toMatch(/JUNCTION_MASTER_KEY=\(value hidden\): must be 32 bytes/);
    expect(bad.output()).not.toContain('too-short');
  }, 30_000);
});
