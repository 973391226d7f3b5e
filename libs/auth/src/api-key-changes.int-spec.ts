import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { until } from '../../connectors/src/conformance/eventually';
import { MIGRATIONS } from '../../../migrations';
import { ApiKeyCache, API_KEY_CACHE_TTL_MS } from './api-key-cache';
import { API_KEY_CHANNEL, ApiKeyChanges } from './api-key-changes';
import { ApiKeysRepository } from './api-keys.repository';
import { AuthService, hashApiKey, newApiKey } from './auth.service';
import { AUTH_ENTITIES } from './index';
import { UsersRepository } from './users.repository';

/**
 * Two gateway processes on one real database: a key verified (and cached) in one is refused there
 * once the other revokes it or disables its owner, with the first one's cache clock stopped, so
 * only the announcement (NOTIFY) can have made it forget. A lost listening connection makes the
 * process forget everything once it is back.
 */
interface Gateway {
  ds: DataSource;
  changes: ApiKeyChanges;
  keys: ApiKeysRepository;
  users: UsersRepository;
  auth: AuthService;
}

jest.setTimeout(30_000);

let db: TestDatabase;
const gateways: Gateway[] = [];
// The caches' clock never moves: their time to live cannot be what makes them forget.
const now = () => 1_000_000;

async function gateway(): Promise<Gateway> {
  const ds = new DataSource({ type: 'postgres', url: db.url, entities: AUTH_ENTITIES });
  await ds.initialize();
  const cache = new ApiKeyCache(API_KEY_CACHE_TTL_MS, now);
  const changes = new ApiKeyChanges(ds, cache);
  await changes.onApplicationBootstrap();
  const keys = new ApiKeysRepository(ds, changes);
  const users = new UsersRepository(ds, changes);
  const unused = undefined as never;
  const auth = new AuthService(users, unused, keys, cache, unused, unused, unused, unused);
  const made = { ds, changes, keys, users, auth };
  gateways.push(made);
  return made;
}

async function keyOf(
  g: Gateway,
  username: string,
): Promise<{ key: string; id: string; owner: string }> {
  const user = await g.users.create(
    { username, provider: 'local', passwordHash: null },
    ['operator', 'ingest'],
    'test',
  );
  const { key, prefix } = newApiKey();
  const row = await g.keys.create({
    name: `${username}-key`,
    prefix,
    keyHash: hashApiKey(key),
    roles: ['ingest'],
    ownerId: user.id,
    ingestRoutes: null,
    createdBy: 'test',
    expiresAt: null,
  });
  return { key, id: row.id, owner: user.id };
}

beforeAll(async () => {
  db = await createTestDatabase('apikeychanges');
  const ds = new DataSource({ type: 'postgres', url: db.url, migrations: MIGRATIONS });
  await ds.initialize();
  await ds.runMigrations();
  await ds.destroy();
  jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
}, 60_000);

afterAll(async () => {
  for (const g of gateways) {
    await g.changes.onApplicationShutdown();
    await g.ds.destroy();
  }
  await db?.drop();
});

describe('API key changes across gateway processes', () => {
  it('a key revoked through one process is refused by another at its next request', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const { key, id } = await keyOf(a, 'alice');
    expect((await b.auth.principalFromApiKey(key))?.id).toBe(id);
    // Revoked behind both processes' backs (no announcement): B's cache still serves it.
    await a.ds.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [id]);
    expect((await b.auth.principalFromApiKey(key))?.id).toBe(id);
    await a.ds.query('UPDATE api_keys SET revoked_at = NULL WHERE id = $1', [id]);

    expect(await a.keys.revoke(id)).toBe(true);
    await until(
      async () => (await b.auth.principalFromApiKey(key)) === null,
      'B to refuse the key',
    );
    expect(await a.auth.principalFromApiKey(key)).toBeNull();
  });

  it('a user disabled through one process loses its keys in another, and reduced roles apply', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const { key, owner } = await keyOf(a, 'bob');
    expect((await b.auth.principalFromApiKey(key))?.roles).toEqual(['ingest']);
    await a.users.update(owner, { roles: ['viewer'] }, 'test');
    await until(
      async () => (await b.auth.principalFromApiKey(key))?.roles.length === 0,
      "B to drop the role bob's key lost with him",
    );
    await a.users.update(owner, { disabled: true }, 'test');
    await until(
      async () => (await b.auth.principalFromApiKey(key)) === null,
      'B to refuse the key',
    );
  });

  it('forgets every cached key once its lost listening connection is back', async () => {
    const b = await gateway();
    const { key, id } = await keyOf(b, 'carol');
    expect((await b.auth.principalFromApiKey(key))?.id).toBe(id);
    // A revocation B cannot hear: written directly, while its listener is cut off.
    await b.ds.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [id]);
    const listeners = async () =>
      (
        await b.ds.query<{ pid: number }[]>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = $1`,
          [`LISTEN ${API_KEY_CHANNEL}`],
        )
      ).map((row) => row.pid);
    const before = await listeners();
    expect(before.length).toBeGreaterThan(0);
    for (const pid of before) await b.ds.query('SELECT pg_terminate_backend($1)', [pid]);
    await until(
      async () => (await b.auth.principalFromApiKey(key)) === null,
      'B to forget the key',
    );
  });
});
