/**
 * Against the real Postgres at TEST_DATABASE_ADMIN_URL (default 127.0.0.1:5432): a connection
 * of the pool that fails as it is handed out, before its user listens, does not end the process.
 */
import type { EventEmitter } from 'node:events';
import { DataSource } from 'typeorm';
import { guardPoolConnections } from './pool-connections';
import { createTestDatabase, TestDatabase } from './test-database';

jest.setTimeout(60_000);

interface Pool extends EventEmitter {
  connect(
    cb: (err: Error | undefined, client: EventEmitter, release: (err?: unknown) => void) => void,
  ): void;
}

let db: TestDatabase;
let source: DataSource;

beforeAll(async () => {
  db = await createTestDatabase('pool');
  source = guardPoolConnections(
    await new DataSource({ type: 'postgres', url: db.url, extra: { max: 2 } }).initialize(),
  );
});

afterAll(async () => {
  await source.destroy().catch(() => undefined);
  await db.drop();
});

/** What pg does when the FATAL of a terminated backend comes in the read that made it ready. */
function terminatedAsHandedOut(pool: Pool): Promise<unknown> {
  return new Promise((resolve) => {
    pool.connect((err, client, release) => {
      if (err) return resolve(err);
      const fatal = Object.assign(
        new Error('terminating connection due to administrator command'),
        {
          code: '57P01',
        },
      );
      try {
        // Synchronously, as pg does: its user has had no turn to listen yet.
        client.emit('error', fatal);
        resolve(undefined);
      } catch (thrown) {
        resolve(thrown);
      } finally {
        release(fatal);
      }
    });
  });
}

it('keeps a new connection that fails before its user listens from ending the process', async () => {
  const pool = (source.driver as unknown as { master: Pool }).master;
  // Both connections new: the pool's first one is idle, so hold it while asking for another.
  const runner = source.createQueryRunner();
  await runner.connect();
  try {
    expect(await terminatedAsHandedOut(pool)).toBeUndefined();
  } finally {
    await runner.release();
  }
  // The pool goes on: the failed connection was dropped, a query gets a good one.
  await expect(source.query('SELECT 1 AS one')).resolves.toEqual([{ one: 1 }]);
});
