/**
 * Against the real Postgres at TEST_DATABASE_ADMIN_URL (default 127.0.0.1:5432): a listener
 * whose connection is terminated reconnects, and a resync that fails is asked for again.
 */
import { Client } from 'pg';
import { PgListener } from './pg-listener';
import { createTestDatabase, TestDatabase } from './test-database';

jest.setTimeout(60_000);

const CHANNEL = 'junction_listener_test';
let db: TestDatabase;
let admin: Client;

beforeAll(async () => {
  db = await createTestDatabase('listener');
  admin = new Client({ connectionString: db.url });
  admin.on('error', () => undefined);
  await admin.connect();
});

afterAll(async () => {
  await admin.end().catch(() => undefined);
  await db.drop();
});

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function listenerSessions(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
    [`junction-listener-${CHANNEL}`],
  );
  return rows.map((r) => r.pid);
}

it('resyncs again after a failed resync, on one connection, and hears each notification once', async () => {
  const heard: string[] = [];
  const warnings: string[] = [];
  let resyncs = 0;
  let resynced = false;
  const listener = new PgListener(
    db.url,
    CHANNEL,
    (payload) => heard.push(payload),
    async () => {
      resyncs += 1;
      // The database that dropped the connection may refuse the first queries after it.
      if (resyncs < 3) throw new Error('terminating connection due to administrator command');
      resynced = true;
    },
    { warn: (message) => warnings.push(message) },
    10,
  );
  await listener.start();
  try {
    const [pid] = await listenerSessions();
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await until(() => resynced, 'a resync that succeeds');
    expect(resyncs).toBe(3);
    expect(warnings.filter((w) => w.includes('could not resync'))).toHaveLength(2);
    // One connection listens, not one per failed resync.
    expect(await listenerSessions()).toHaveLength(1);
    await admin.query('SELECT pg_notify($1, $2)', [CHANNEL, 'after']);
    await until(() => heard.includes('after'), 'the notification after the reconnect');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(heard).toEqual(['after']);
  } finally {
    await listener.stop();
  }
});
