import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { freePort, MASTER_KEY } from '../gateway-process';
import { Spawned, spawnNode } from '../process';

/**
 * The first admin's password (JUNCTION_ADMIN_PASSWORD) meets the password policy of every other
 * user, on the built gateway as a process: a weak one stops the first start (or a reset) naming
 * the variable and makes no admin; a weak value left set once an admin exists stops nothing.
 */
const ROOT = join(__dirname, '..', '..');
const STRONG = `first-admin-${randomBytes(6).toString('hex')}`;

jest.setTimeout(180_000);

describe('the first admin', () => {
  let db: TestDatabase;
  const started: Spawned[] = [];

  afterEach(() => {
    // A start that should have stopped by itself and did not.
    for (const proc of started.splice(0)) proc.child.kill('SIGKILL');
  });

  beforeAll(async () => {
    db = await createTestDatabase('first_admin');
  });

  afterAll(async () => {
    await db?.drop();
  });

  const start = async (password: string, args: string[] = [], env: Record<string, string> = {}) => {
    const port = await freePort();
    const proc = spawnNode(
      ['bin/gateway.js', ...args],
      {
        DATABASE_URL: db.url,
        JUNCTION_MASTER_KEY: MASTER_KEY,
        JUNCTION_ADMIN_PASSWORD: password,
        JUNCTION_SEED_DEMO: 'false',
        JUNCTION_LOG: 'silent',
        PORT: String(port),
        ...env,
      },
      ROOT,
    );
    started.push(proc);
    return { port, proc };
  };

  const login = async (port: number, password: string) =>
    (
      await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }),
      })
    ).status;

  const admins = async () => {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      return Number((await client.query('SELECT count(*) AS n FROM users')).rows[0].n);
    } finally {
      await client.end();
    }
  };

  it('refuses a weak password at the first start, naming the variable, and makes no admin', async () => {
    for (const [weak, why] of [
      ['passwordpassword', /list of common passwords/],
      ['aaaaaaaaaaaaaaaa', /one character repeated/],
    ] as const) {
      const { proc } = await start(weak);
      expect(await proc.exited(90_000)).toBe(1);
      expect(proc.output()).toMatch(/invalid configuration: JUNCTION_ADMIN_PASSWORD: /);
      expect(proc.output()).toMatch(why);
      expect(proc.output()).not.toContain(weak);
      expect(await admins()).toBe(0);
    }
  });

  it('refuses a first admin name no user may have, naming the variable, and makes no admin', async () => {
    for (const [name, why] of [
      [' admin', /cannot start or end with a space/],
      ['ad\u200bmin', /control or invisible characters/],
      ['(system)', /reserved name/],
      ['4111 1111 1111 1111', /must not hold a card number/],
      ['(4111 1111 1111 1111)', /must not hold a card number/],
    ] as const) {
      const { proc } = await start(STRONG, [], { JUNCTION_ADMIN_USER: name });
      expect(await proc.exited(90_000)).toBe(1);
      expect(proc.output()).toMatch(/invalid configuration: JUNCTION_ADMIN_USER: /);
      expect(proc.output()).toMatch(why);
      expect(proc.output()).not.toMatch(/4111 1111 1111 1111/);
      expect(await admins()).toBe(0);
    }
  });

  it('takes a strong one; a weak value left set later stops neither a start nor the admin', async () => {
    const first = await start(STRONG);
    await first.proc.waitFor(/listening on/, 90_000);
    expect(await login(first.port, STRONG)).toBe(200);
    first.proc.child.kill('SIGTERM');
    await first.proc.exited();

    // Not used (an admin exists): no reason to stop.
    const later = await start('passwordpassword');
    await later.proc.waitFor(/listening on/, 90_000);
    expect(await login(later.port, STRONG)).toBe(200);
    later.proc.child.kill('SIGTERM');
    await later.proc.exited();

    // Used by a reset: refused, and the admin keeps its password.
    const reset = await start('passwordpassword', ['--reset-admin-password']);
    expect(await reset.proc.exited(90_000)).toBe(1);
    expect(reset.proc.output()).toMatch(/invalid configuration: JUNCTION_ADMIN_PASSWORD: /);
    const after = await start(STRONG);
    await after.proc.waitFor(/listening on/, 90_000);
    expect(await login(after.port, STRONG)).toBe(200);
    after.proc.child.kill('SIGTERM');
    await after.proc.exited();
  });
});
