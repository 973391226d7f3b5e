/**
 * Throw-away databases for integration tests on a shared Postgres server: each test file gets
 * its own database, so parallel jest workers (and other developers' runs on the same server)
 * never see each other's rows, and a migration runs on an empty schema every time.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DatabaseError } from './database.error';

/** A database made for one test run; `drop()` removes it, ending any session left open on it. */
export interface TestDatabase {
  /** Connection URL of the new database, same server and user as the admin URL. */
  url: string;
  name: string;
  drop(): Promise<void>;
}

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const NAME_PREFIX = 'junction_';
/**
 * Written as the database comment so `dropStaleTestDatabases` drops only databases made here,
 * and knows their age: Postgres keeps no creation time for a database.
 */
const MARKER = 'junction-test-database';

interface Marker {
  createdBy: typeof MARKER;
  createdAt: string;
}

function adminUrl(): string {
  return process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_ADMIN_URL;
}

/**
 * Creates `junction_<label>_<pid>_<random>` on the server of `TEST_DATABASE_ADMIN_URL`
 * (default `postgres://postgres@127.0.0.1:5432/postgres`); that user needs CREATEDB.
 */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const admin = adminUrl();
  const name = testDatabaseName(label);
  await withAdmin(admin, `create test database ${name}`, async (client) => {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    const marker: Marker = { createdBy: MARKER, createdAt: new Date().toISOString() };
    await client.query(
      `COMMENT ON DATABASE ${client.escapeIdentifier(name)} IS ${client.escapeLiteral(JSON.stringify(marker))}`,
    );
  });
  let dropped: Promise<void> | undefined;
  return {
    url: urlFor(admin, name),
    name,
    drop: () => (dropped ??= dropDatabase(admin, name)),
  };
}

/**
 * Drops test databases made by {@link createTestDatabase} longer ago than the given minutes:
 * what a run killed before its `afterAll` left behind. Returns the names dropped.
 */
export async function dropStaleTestDatabases(olderThanMinutes = 60): Promise<string[]> {
  const admin = adminUrl();
  const cutoff = Date.now() - olderThanMinutes * 60_000;
  const candidates = await withAdmin(admin, 'list test databases', async (client) => {
    const result = await client.query<{ datname: string; comment: string | null }>(
      `SELECT datname, shobj_description(oid, 'pg_database') AS comment
         FROM pg_database WHERE datname LIKE $1`,
      [`${NAME_PREFIX.replace(/_/g, '\\_')}%`],
    );
    return result.rows;
  });
  const stale = candidates
    .filter(({ comment }) => {
      const createdAt = parseMarker(comment);
      return createdAt !== undefined && createdAt < cutoff;
    })
    .map(({ datname }) => datname);
  for (const name of stale) await dropDatabase(admin, name);
  return stale;
}

/** Lower-case, at most 63 bytes (Postgres truncates longer names silently), unique per call. */
function testDatabaseName(label: string): string {
  const suffix = `_${process.pid}_${randomBytes(4).toString('hex')}`;
  const room = 63 - NAME_PREFIX.length - suffix.length;
  const safeLabel =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, room) || 'test';
  return `${NAME_PREFIX}${safeLabel}${suffix}`;
}

function urlFor(admin: string, database: string): string {
  const url = new URL(admin);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

function parseMarker(comment: string | null): number | undefined {
  if (!comment) return undefined;
  try {
    const marker = JSON.parse(comment) as Partial<Marker>;
    if (marker.createdBy !== MARKER || typeof marker.createdAt !== 'string') return undefined;
    const time = Date.parse(marker.createdAt);
    return Number.isNaN(time) ? undefined : time;
  } catch {
    // Someone else's comment on a database that merely shares our prefix: not ours to drop.
    return undefined;
  }
}

async function dropDatabase(admin: string, name: string): Promise<void> {
  await withAdmin(admin, `drop test database ${name}`, async (client) => {
    // FORCE (Postgres 13+) terminates sessions a test left open, and keeps new ones out while
    // it drops; a plain DROP would fail on the first pool that was not closed.
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  });
}

async function withAdmin<T>(
  admin: string,
  what: string,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ connectionString: admin });
  try {
    await client.connect();
    return await work(client);
  } catch (error) {
    throw new DatabaseError('SQL_FAILED', `could not ${what} on ${redact(admin)}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The admin URL may carry a password; errors and logs must not. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable admin URL)';
  }
}
