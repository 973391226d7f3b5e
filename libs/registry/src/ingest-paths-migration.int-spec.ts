import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { MIGRATIONS } from '../../../migrations';

const PATHS_MIGRATION = MIGRATIONS.findIndex((m) => m.name.startsWith('IngestPathsAndScopes'));

async function migrate(url: string, upTo: number): Promise<void> {
  const db = new DataSource({
    type: 'postgres',
    url,
    migrations: MIGRATIONS.slice(0, upTo),
    migrationsTransactionMode: 'each',
    logging: false,
  });
  await db.initialize();
  try {
    await db.runMigrations();
  } finally {
    await db.destroy();
  }
}

/**
 * A database from before paths were unique, where routes shared paths (in several spellings):
 * after the upgrade, the oldest route holds the path and the others are stopped, so no request
 * can reach the one without a key check.
 */
describe('migration: ingest path claims from a database that had shared paths', () => {
  let tdb: TestDatabase;
  let db: DataSource;

  beforeAll(async () => {
    expect(PATHS_MIGRATION).toBeGreaterThan(0);
    tdb = await createTestDatabase('paths_migration');
    await migrate(tdb.url, PATHS_MIGRATION);
    db = new DataSource({ type: 'postgres', url: tdb.url, logging: false });
    await db.initialize();
    const routes: Array<[string, string, string]> = [
      ['first', 'shop/orders', '2026-01-01'],
      ['second', 'shop//orders/', '2026-02-01'],
      ['third', 'shop/orders', '2026-03-01'],
      ['alone', 'shop/returns', '2026-01-15'],
    ];
    for (const [id, path, created] of routes) {
      await db.query(
        `INSERT INTO routes (id, latest_version, active_version, desired_state, created_at)
         VALUES ($1, 1, NULL, 'running', $2)`,
        [id, created],
      );
      await db.query(
        `INSERT INTO route_versions (route_id, version, document, checksum, author)
         VALUES ($1, 1, $2, 'x', 'test')`,
        [id, { id, source: { type: 'http', path, auth: id === 'first' ? 'apiKey' : 'none' } }],
      );
      await db.query(`UPDATE routes SET active_version = 1 WHERE id = $1`, [id]);
    }
    await db.query(
      `INSERT INTO api_keys (name, prefix, key_hash, roles, created_by) VALUES ('old', 'abcabcabcabc', 'x', '{viewer}', 'test')`,
    );
    await migrate(tdb.url, MIGRATIONS.length);
  }, 60_000);

  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  it('gives each path to its oldest route and stops the others', async () => {
    expect(await db.query(`SELECT path, route_id FROM ingest_paths ORDER BY path`)).toEqual([
      { path: 'shop/orders', route_id: 'first' },
      { path: 'shop/returns', route_id: 'alone' },
    ]);
    expect(await db.query(`SELECT id, desired_state, incarnation FROM routes ORDER BY id`)).toEqual(
      [
        { id: 'alone', desired_state: 'running', incarnation: 1 },
        { id: 'first', desired_state: 'running', incarnation: 1 },
        { id: 'second', desired_state: 'stopped', incarnation: 1 },
        { id: 'third', desired_state: 'stopped', incarnation: 1 },
      ],
    );
  });

  it('keeps a key its roles, with no route list and no ingest grant it did not have', async () => {
    expect(await db.query(`SELECT roles, ingest_routes FROM api_keys`)).toEqual([
      { roles: ['viewer'], ingest_routes: null },
    ]);
  });

  it('refuses a second claim of a path in the database itself', async () => {
    await expect(
      db.query(`INSERT INTO ingest_paths (path, route_id) VALUES ('shop/orders', 'second')`),
    ).rejects.toThrow(/duplicate key/);
    await expect(
      db.query(`INSERT INTO ingest_paths (path, route_id) VALUES ('Shop/Orders', 'second')`),
    ).rejects.toThrow(/check constraint/);
  });
});
