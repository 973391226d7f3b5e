import { join } from 'node:path';
import { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { AuditRepository, AuditService, AuditTrail } from '@junction/audit';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { MIGRATIONS } from '../migrations';
import { spawnNode, Spawned } from './process';

/**
 * The audit writer sends a batch while the one before commits (pipelined group commit). A
 * process killed (-9) between the two leaves a chain that verifies, and no record it
 * acknowledged is missing: the batch sent behind goes in only on the head the first one left.
 */
describe('audit writer killed between two pipelined batches', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let admin: Pool;
  let service: AuditService;
  let child: Spawned | undefined;
  const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

  beforeAll(async () => {
    db = await createTestDatabase('audit_kill');
    ds = new DataSource({
      type: 'postgres',
      url: db.url,
      migrations: MIGRATIONS,
      migrationsTransactionMode: 'each',
    });
    await ds.initialize();
    await ds.runMigrations();
    service = new AuditService(new AuditRepository(ds));
    admin = new Pool({ connectionString: db.url, max: 3 });
    // An idle client terminated by the server (afterAll's DROP DATABASE ... WITH (FORCE) can reach
    // one that admin.end() has only begun to close) errors on the pool: never an unhandled event.
    admin.on('error', () => undefined);
  }, 60_000);

  afterAll(async () => {
    child?.child.kill('SIGKILL');
    await admin?.end();
    await ds?.destroy();
    await db?.drop();
  });

  const acked = () => [...(child?.output() ?? '').matchAll(/^acked (\S+)$/gm)].map((m) => m[1]);
  const stored = async (ids: string[]) =>
    Number(
      (
        await admin.query<{ n: string }>(
          `SELECT count(DISTINCT message_id) AS n FROM audit_messages WHERE message_id = ANY($1)`,
          [ids],
        )
      ).rows[0].n,
    );

  it('leaves a chain that verifies and every acknowledged record stored; a new writer goes on', async () => {
    child = spawnNode(
      [join(__dirname, 'audit-writer-child.js')],
      { DATABASE_URL: db.url },
      join(__dirname, '..'),
    );
    await child.waitFor(/^ready$/m);
    expect(acked()).toHaveLength(200);

    // Hold the chain head: the child's next batch waits on it in Postgres, and the batch after
    // it is sent behind it on the wire. Then kill the child, and let Postgres go on.
    let lock: PoolClient | undefined = await admin.connect();
    try {
      await lock.query('BEGIN');
      await lock.query(
        `SELECT 1 FROM audit_chain_heads WHERE table_name = 'audit_messages' FOR UPDATE`,
      );
      child.child.kill('SIGUSR2');
      await child.waitFor(/^pipelined$/m, 20_000);
      const ackedBeforeKill = acked();
      child.child.kill('SIGKILL');
      await child.exited();
      expect(ackedBeforeKill).toHaveLength(200); // nothing acknowledged while its batch waits
      await lock.query('COMMIT');
    } finally {
      lock.release();
      lock = undefined;
    }
    // The killed process's backend finishes what it had read, then notices the client is gone.
    for (let i = 0; ; i++) {
      const left = await admin.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = 'junction-audit-kill-child'`,
      );
      if (left.rowCount === 0) break;
      if (i > 500) throw new Error('the killed writer still has a backend');
      await new Promise((r) => setTimeout(r, 20));
    }

    const ids = acked();
    expect(await stored(ids)).toBe(ids.length);
    const total = Number((await admin.query(`SELECT count(*) AS n FROM audit_messages`)).rows[0].n);
    expect(total).toBeGreaterThanOrEqual(200);
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true, checked: total });

    // The gateway started again: its writer reads the head under the lock and chains on.
    const trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
    try {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          trail.recordMessage({
            messageId: `after-${i}`,
            routeId: 'orders',
            routeVersion: 1,
            source: { type: 'amqp', name: 'orders.in' },
            outcome: 'delivered',
            receipts: [],
            attempts: 1,
            receivedAt: new Date().toISOString(),
            doneAt: new Date().toISOString(),
            body: { i },
            payload: Buffer.from('{}'),
            auditPayload: 'masked',
          }),
        ),
      );
    } finally {
      await trail.close();
    }
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true, checked: total + 50 });
  }, 90_000);
});
