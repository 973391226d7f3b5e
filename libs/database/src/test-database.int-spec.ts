/**
 * Against the real Postgres at TEST_DATABASE_ADMIN_URL (default 127.0.0.1:5432): throw-away
 * databases are created, isolated, and dropped even with sessions left open.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, dropStaleTestDatabases, TestDatabase } from './test-database';

jest.setTimeout(60_000);

const adminUrl =
  process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const created: TestDatabase[] = [];
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
});

afterAll(async () => {
  await Promise.all(created.splice(0).map((db) => db.drop()));
});

async function newDatabase(label?: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  created.push(db);
  return db;
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  // drop() terminates sessions on purpose; that must not crash the worker.
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  return client;
}

async function databaseExists(name: string): Promise<boolean> {
  const admin = await connect(adminUrl);
  const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return found.rowCount === 1;
}

describe('createTestDatabase', () => {
  it('creates an empty database with a unique, recognisable name', async () => {
    const db = await newDatabase();
    expect(db.name).toMatch(new RegExp(`^junction_test_${process.pid}_[0-9a-f]{8}$`));
    const client = await connect(db.url);
    const { rows } = await client.query<{ name: string; tables: number }>(
      `SELECT current_database() AS name,
              (SELECT count(*)::int FROM pg_tables WHERE schemaname = 'public') AS tables`,
    );
    expect(rows[0]).toEqual({ name: db.name, tables: 0 });
  });

  it('gives each call its own database', async () => {
    const [a, b] = await Promise.all([newDatabase('iso'), newDatabase('iso')]);
    expect(a.name).not.toBe(b.name);
    const inA = await connect(a.url);
    await inA.query('CREATE TABLE only_in_a (x int)');
    const inB = await connect(b.url);
    const seen = await inB.query("SELECT to_regclass('only_in_a') AS t");
    expect(seen.rows[0]).toEqual({ t: null });
  });

  it('turns any label into a valid name of at most 63 bytes', async () => {
    const db = await newDatabase(`Route Registry! ${'x'.repeat(80)}`);
    expect(db.name).toMatch(/^junction_route_registry_x+_\d+_[0-9a-f]{8}$/);
    expect(db.name.length).toBeLessThanOrEqual(63);
    expect(await databaseExists(db.name)).toBe(true);
  });

  it('drops the database even with sessions left open on it, and twice safely', async () => {
    const db = await createTestDatabase('drop');
    const leftover = await connect(db.url);
    await leftover.query('SELECT 1');
    await db.drop();
    expect(await databaseExists(db.name)).toBe(false);
    await expect(leftover.query('SELECT 1')).rejects.toThrow();
    await expect(db.drop()).resolves.toBeUndefined();
  });
});

describe('dropStaleTestDatabases', () => {
  it('drops only databases it made that are older than the limit', async () => {
    const old = await newDatabase('stale');
    const fresh = await newDatabase('fresh');
    const admin = await connect(adminUrl);
    const backdated = JSON.stringify({
      createdBy: 'junction-test-database',
      createdAt: new Date(Date.now() - 3 * 60 * 60_000).toISOString(),
    });
    await admin.query(
      `COMMENT ON DATABASE ${admin.escapeIdentifier(old.name)} IS ${admin.escapeLiteral(backdated)}`,
    );
    // Same prefix, but not made by createTestDatabase: never ours to drop.
    const foreign = `junction_foreign_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(foreign)}`);
    try {
      const dropped = await dropStaleTestDatabases(120);
      expect(dropped).toContain(old.name);
      expect(dropped).not.toContain(fresh.name);
      expect(dropped).not.toContain(foreign);
      expect(await databaseExists(old.name)).toBe(false);
      expect(await databaseExists(fresh.name)).toBe(true);
      expect(await databaseExists(foreign)).toBe(true);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(foreign)} WITH (FORCE)`);
    }
  });
});
