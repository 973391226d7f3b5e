/**
 * The chain check against the real Postgres, as the database's own roles could tamper with it:
 * the writer role (which the gateway's runtime role may take) can INSERT audit rows, and an
 * owner with triggers off can change any column. Each tamper is named precisely, then undone.
 */
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@junction/database';
import type { MessageRecord } from '@junction/runtime';
import { MIGRATIONS } from '../../../migrations';
import { Chained, chainHash, ChainTable, MESSAGES } from './audit-tables';
import { AuditTrail } from './audit-trail';
import { AuditRepository, ReadOptions } from './audit.repository';
import { PartitionMaintenance } from './partition-maintenance';
import { AuditService } from './audit.service';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

function record(messageId: string): MessageRecord {
  const now = new Date().toISOString();
  return {
    messageId,
    routeId: 'orders',
    routeVersion: 1,
    source: { type: 'http', name: 'orders/in' },
    outcome: 'delivered',
    receipts: [{ destination: 0, receipt: { kind: 'log' } }],
    attempts: 1,
    receivedAt: now,
    doneAt: now,
    body: { id: messageId },
    payload: Buffer.from(JSON.stringify({ id: messageId })),
    auditPayload: 'masked',
  };
}

describe('the chain check names records tampered with in the database', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let repo: AuditRepository;
  let service: AuditService;
  let trail: AuditTrail;

  /** As the owner with its triggers off. */
  const asOwner = (sql: string, params: unknown[] = []) =>
    ds.transaction(async (m) => {
      await m.query('SET LOCAL session_replication_role = replica');
      return m.query(sql, params) as Promise<unknown>;
    });
  /** As the writer role: INSERT only, what the gateway's runtime role may do. */
  const asWriter = (sql: string, params: unknown[] = []) =>
    ds.transaction(async (m) => {
      await m.query('SET LOCAL ROLE junction_audit_writer');
      return m.query(sql, params) as Promise<unknown>;
    });
  const times = async () =>
    (
      (await ds.query(
        `SELECT seq::text, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
           FROM audit_messages ORDER BY seq`,
      )) as Array<{ seq: string; at: string }>
    ).map((r) => r.at);
  /** A copy of record `seq` as another seq, at another time, with a hash of its own content. */
  const forge = async (seq: string, as: string, at: string) => {
    const [row] = await repo.bySeq(MESSAGES, String(BigInt(seq) - 1n), seq, 1);
    const hash = chainHash('audit_messages', row.prevHash, as, at, MESSAGES.content(row.row));
    await asWriter(
      `INSERT INTO audit_messages
         SELECT (jsonb_populate_record(m, jsonb_build_object('seq', $2::bigint, 'recorded_at', $3::timestamptz, 'hash', $4::text))).*
           FROM audit_messages m WHERE seq = $1`,
      [seq, as, at, `\\x${hash.toString('hex')}`],
    );
  };

  beforeAll(async () => {
    db = await createTestDatabase('chain_verifier');
    ds = new DataSource({ type: 'postgres', url: db.url, migrations: MIGRATIONS, logging: false });
    await ds.initialize();
    await ds.runMigrations();
    repo = new AuditRepository(ds);
    service = new AuditService(repo);
    trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
    for (let i = 0; i < 6; i++) await trail.recordMessage(record(randomUUID()));
  }, 60_000);

  afterAll(async () => {
    await trail?.close();
    await ds?.destroy();
    await db?.drop();
  });

  afterEach(async () => {
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true, checked: 6 });
  });

  it('names a record the writer role inserted past the head', async () => {
    const last = (await times())[5];
    await forge('6', '1000000', last);
    expect(await service.verify({}, 'messages')).toMatchObject({
      ok: false,
      firstBrokenId: '1000000',
      firstBrokenTable: 'audit_messages',
      reason: expect.stringMatching(/past the chain head.*inserted/),
    });
    // Over a time range that holds it too.
    expect(await service.verify({ from: last }, 'messages')).toMatchObject({
      ok: false,
      firstBrokenId: '1000000',
    });
    await asOwner(`DELETE FROM audit_messages WHERE seq = 1000000`);
  });

  it('names a second record with the seq of one on the chain', async () => {
    const last = (await times())[5];
    await forge('2', '2', last);
    expect(await service.verify({}, 'messages')).toMatchObject({
      ok: false,
      firstBrokenId: '2',
      reason: expect.stringMatching(/a second record 2 was inserted, or its time was changed/),
    });
    await asOwner(`DELETE FROM audit_messages WHERE seq = 2 AND recorded_at = $1`, [last]);
  });

  it('names records deleted from the end of the chain, over a range that holds only them', async () => {
    const at = await times();
    await asOwner(`CREATE TABLE tail AS SELECT * FROM audit_messages WHERE seq >= 5;
      DELETE FROM audit_messages WHERE seq >= 5`);
    expect(await service.verify({ from: at[4] }, 'messages')).toMatchObject({
      ok: false,
      checked: 0,
      firstBrokenId: '5',
      reason: 'rows 5 to 6 (the end of the chain) are missing',
    });
    await asOwner(`INSERT INTO audit_messages SELECT * FROM tail; DROP TABLE tail`);
  });

  it('finds nothing missing over a range whose records retention dropped, up to the head', async () => {
    const at = await times();
    await asOwner(`CREATE TABLE all_rows AS SELECT * FROM audit_messages;
      INSERT INTO audit_chain_anchors (table_name, seq, hash, recorded_at, reason)
        SELECT 'audit_messages', seq, hash, recorded_at, 'retention' FROM audit_messages WHERE seq = 6;
      DELETE FROM audit_messages`);
    expect(await service.verify({ from: at[4] }, 'messages')).toMatchObject({
      ok: true,
      checked: 0,
    });
    await asOwner(`INSERT INTO audit_messages SELECT * FROM all_rows; DROP TABLE all_rows;
      DELETE FROM audit_chain_anchors`);
  });

  it('names a record whose time was moved later, not the one after it', async () => {
    const at = await times();
    await asOwner(
      `UPDATE audit_messages SET recorded_at = $1::timestamptz + interval '1 millisecond' WHERE seq = 3`,
      [at[5]],
    );
    expect(await service.verify({}, 'messages')).toMatchObject({
      ok: false,
      firstBrokenId: '3',
      reason: expect.stringMatching(/out of its place in time .*its time was changed/),
    });
    await asOwner(`UPDATE audit_messages SET recorded_at = $1 WHERE seq = 3`, [at[2]]);
  });

  it('names a record whose time was moved earlier, not a gap after it', async () => {
    const at = await times();
    await asOwner(`UPDATE audit_messages SET recorded_at = $1 WHERE seq = 4`, [at[0]]);
    expect(await service.verify({}, 'messages')).toMatchObject({
      ok: false,
      firstBrokenId: '4',
      reason: 'its content does not match its hash (it was changed)',
    });
    await asOwner(`UPDATE audit_messages SET recorded_at = $1 WHERE seq = 4`, [at[3]]);
  });
});

describe('the chain check while retention drops a day', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let trail: AuditTrail;

  /** Retention drops the older day (as two days on) just after the walk's first batch. */
  class DroppingRepository extends AuditRepository {
    reads = 0;
    override async chain<R>(
      table: ChainTable<R>,
      range: { from?: string; to?: string; maxSeq: string },
      options: ReadOptions,
    ): Promise<Array<Chained<R>>> {
      this.reads += 1;
      if (this.reads === 2)
        await new PartitionMaintenance(trail, this, { aheadDays: 0 }, quiet).dropOlderThan(
          1,
          new Date(Date.now() + 2 * 86_400_000),
        );
      return super.chain(table, range, options);
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase('chain_verifier_dropping');
    ds = new DataSource({ type: 'postgres', url: db.url, migrations: MIGRATIONS, logging: false });
    await ds.initialize();
    await ds.runMigrations();
    trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
  }, 60_000);

  afterAll(async () => {
    await trail?.close();
    await ds?.destroy();
    await db?.drop();
  });

  it('goes on from where retention cut the chain under it, and still names a row deleted', async () => {
    // More than one batch of the walk today; then the chain goes on tomorrow (the database's
    // clock, as a writer that starts then reads it through the head).
    for (let i = 0; i < 5; i++)
      await Promise.all(
        Array.from({ length: 500 }, () => trail.recordMessage(record(randomUUID()))),
      );
    await trail.close();
    await ds.query(
      `UPDATE audit_chain_heads SET recorded_at = recorded_at + interval '1 day' WHERE table_name = 'audit_messages'`,
    );
    trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
    for (let i = 0; i < 5; i++) await trail.recordMessage(record(randomUUID()));
    // Rows deleted from the middle, under a mark, are named all the same.
    const service = new AuditService(new AuditRepository(ds));
    await ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
      CREATE TEMP TABLE kept AS SELECT * FROM audit_messages WHERE seq BETWEEN 2101 AND 2200;
      INSERT INTO audit_chain_anchors (table_name, seq, hash, recorded_at, reason)
        SELECT 'audit_messages', seq, hash, recorded_at, 'retention' FROM audit_messages WHERE seq = 2200;
      DELETE FROM audit_messages WHERE seq BETWEEN 2101 AND 2200; COMMIT`);
    expect(await service.verify({}, 'messages')).toMatchObject({
      ok: false,
      firstBrokenId: '2201',
      reason: 'rows 2101 to 2200 are missing before it',
    });
    await ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
      INSERT INTO audit_messages SELECT * FROM kept;
      DELETE FROM audit_chain_anchors; COMMIT`);
    // Nor is a middle cut out under a mark while the walk is past its start (with the row it
    // read last): the rows before the cut are still there, so retention did not make it.
    class CuttingRepository extends AuditRepository {
      reads = 0;
      override async chain<R>(
        table: ChainTable<R>,
        range: { from?: string; to?: string; maxSeq: string },
        options: ReadOptions,
      ): Promise<Array<Chained<R>>> {
        if (++this.reads === 2)
          await ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
            CREATE TABLE cut_out AS SELECT * FROM audit_messages WHERE seq BETWEEN 2000 AND 2200;
            INSERT INTO audit_chain_anchors (table_name, seq, hash, recorded_at, reason)
              SELECT 'audit_messages', seq, hash, recorded_at, 'retention' FROM audit_messages WHERE seq = 2200;
            DELETE FROM audit_messages WHERE seq BETWEEN 2000 AND 2200; COMMIT`);
        return super.chain(table, range, options);
      }
    }
    expect(await new AuditService(new CuttingRepository(ds)).verify({}, 'messages')).toMatchObject({
      ok: false,
      firstBrokenId: '2201',
    });
    await ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
      INSERT INTO audit_messages SELECT * FROM cut_out; DROP TABLE cut_out;
      DELETE FROM audit_chain_anchors; COMMIT`);
    const dropping = new DroppingRepository(ds);
    expect(await new AuditService(dropping).verify({}, 'messages')).toMatchObject({
      ok: true,
      checked: 2000 + 5,
    });
    expect(dropping.reads).toBeGreaterThanOrEqual(2);
  });
});
