/**
 * Signed anchors against the real Postgres: the signer checks and signs what was appended since
 * its last anchor, the verifier compares the database with every anchor, retention's whole-day
 * drops are told apart from deleted records, and a chain that does not extend the last anchor
 * is never signed.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@junction/database';
import type { MessageRecord } from '@junction/runtime';
import { MIGRATIONS } from '../../../migrations';
import { AnchorSigner } from './anchor-signer';
import { checkAnchors } from './anchor-verifier';
import { AnchorDirectory, checkAnchor } from './anchors';
import { AmqpAnchorPublisher } from './anchor-publishers';
import { connect } from 'amqplib';
import net from 'node:net';
import { AuditTrail } from './audit-trail';
import { AuditRepository } from './audit.repository';
import type { Chained, ChainTable } from './audit-tables';
import { PartitionMaintenance } from './partition-maintenance';

/** A port nothing listens on (the OS gave it a moment ago): a broker that is down. */
function freePortNow(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

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

describe('signed audit anchors on Postgres', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let repo: AuditRepository;
  let trail: AuditTrail;
  let dir: string;
  let directory: AnchorDirectory;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const errors: string[] = [];
  let signer: AnchorSigner;

  const write = async (n: number) => {
    for (let i = 0; i < n; i++) await trail.recordMessage(record(randomUUID()));
  };
  // The verifier's clock: moved on where retention is made to drop a day.
  let now = () => new Date();
  const check = async () =>
    checkAnchors(repo, await directory.readAll(), publicKey, undefined, now());

  beforeAll(async () => {
    db = await createTestDatabase('anchors');
    ds = new DataSource({ type: 'postgres', url: db.url, migrations: MIGRATIONS, logging: false });
    await ds.initialize();
    await ds.runMigrations();
    repo = new AuditRepository(ds);
    trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
    dir = mkdtempSync(join(tmpdir(), 'junction-anchors-int-'));
    directory = new AnchorDirectory(dir);
    signer = new AnchorSigner(repo, directory, privateKey, {
      ...quiet,
      error: (m) => errors.push(m),
    });
  });

  afterAll(async () => {
    await trail?.close();
    await ds?.destroy();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs only when a chain moved, each anchor going on from the last; a restarted signer too', async () => {
    expect(await signer.anchorNow()).toBeUndefined();
    await write(7);
    const first = await signer.anchorNow();
    expect(first?.chains).toEqual([
      expect.objectContaining({ table: 'audit_messages', fromSeq: '0', seq: '7' }),
    ]);
    expect(await signer.anchorNow()).toBeUndefined();
    await write(3);
    await trail.recordEvent({ type: 'route.updated', outcome: 'success', actor: 'alice' });
    const restarted = new AnchorSigner(repo, directory, privateKey, quiet);
    const second = await restarted.anchorNow();
    expect(second?.chains.map((c) => [c.table, c.fromSeq, c.seq])).toEqual([
      ['audit_messages', '7', '10'],
      ['audit_events', '0', '1'],
    ]);
    expect(await check()).toMatchObject({ ok: true, checked: 2, droppedByRetention: 0 });
  });

  it('refuses to sign a chain that does not extend the last anchor, naming the record', async () => {
    await write(2);
    await ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
      UPDATE audit_messages SET route_id = 'changed' WHERE seq = 11; COMMIT`);
    await expect(signer.anchorNow()).rejects.toMatchObject({ code: 'ANCHOR_REFUSED' });
    expect(errors.join('\n')).toMatch(/record 11 does not match its hash/);
    await ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
      UPDATE audit_messages SET route_id = 'orders' WHERE seq = 11; COMMIT`);
    // This signer goes on from its own last anchor (the restarted one's overlaps it: both verify).
    expect((await signer.anchorNow())?.chains[0]).toMatchObject({ fromSeq: '7', seq: '12' });
  });

  it('tells records deleted from records dropped whole by retention', async () => {
    await ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
      DELETE FROM audit_messages WHERE seq = 5; COMMIT`);
    expect(await check()).toMatchObject({
      ok: false,
      firstBrokenId: '5',
      firstBrokenTable: 'audit_messages',
      reason: expect.stringMatching(/^record 5 of audit_messages is missing/),
    });
    // Retention drops today's day whole (as if two days had passed), keeping where it ended.
    const maintenance = new PartitionMaintenance(
      trail,
      repo,
      { aheadDays: 0, retentionDays: 1 },
      quiet,
    );
    const later = Date.now() + 2 * 86_400_000;
    now = () => new Date(later);
    await maintenance.dropOlderThan(1, now());
    expect(await check()).toMatchObject({ ok: true, droppedByRetention: 13 });
    // The chain goes on from where retention cut it, two days on (the database's clock, as a
    // writer that starts then reads it through the head), and is signed from there.
    await trail.close();
    await ds.query(
      `UPDATE audit_chain_heads SET recorded_at = $1 WHERE table_name = 'audit_messages'`,
      [now().toISOString()],
    );
    trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
    await write(4);
    expect(
      (await signer.anchorNow())?.chains.find((c) => c.table === 'audit_messages'),
    ).toMatchObject({
      fromSeq: '12',
      seq: '16',
    });
    expect(await check()).toMatchObject({ ok: true });
  });

  it('publishes each anchor to a RabbitMQ queue too, and a broker that is down costs only a logged error', async () => {
    const queue = `junction.test.anchors.${randomUUID()}`;
    const amqpUrl = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
    const down: string[] = [];
    const publishing = new AnchorSigner(
      repo,
      directory,
      privateKey,
      { ...quiet, error: (m) => down.push(m) },
      undefined,
      [
        new AmqpAnchorPublisher(amqpUrl, queue),
        new AmqpAnchorPublisher(`amqp://guest:guest@127.0.0.1:${await freePortNow()}`, queue),
      ],
    );
    await write(3);
    const anchor = await publishing.anchorNow();
    expect(anchor).toBeDefined();
    expect(down).toEqual([
      expect.stringMatching(/^audit anchor anchor-.*\.json was not published to amqp queue/),
    ]);
    const connection = await connect(amqpUrl);
    try {
      const channel = await connection.createChannel();
      const message = await channel.get(queue, { noAck: true });
      expect(message).not.toBe(false);
      if (message === false) return;
      expect(message.properties.deliveryMode).toBe(2);
      const published = JSON.parse(message.content.toString()) as unknown;
      expect(published).toEqual(anchor);
      expect(checkAnchor(published, publicKey)).toEqual(anchor);
      await channel.deleteQueue(queue);
    } finally {
      await connection.close();
    }
  });

  it('compares a record still there even where a retention mark says it was dropped', async () => {
    await write(3);
    const anchored = (await signer.anchorNow())!.chains.find((c) => c.table === 'audit_messages')!;
    const changed = BigInt(anchored.seq) - 1n;
    // The owner rewrites a record (its chain recomputed: a new hash), then marks it as dropped.
    await ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
      UPDATE audit_messages SET hash = sha256(hash) WHERE seq = ${changed};
      INSERT INTO audit_chain_anchors (table_name, seq, hash, recorded_at, reason)
        VALUES ('audit_messages', ${anchored.seq}, sha256('x'), now(), 'retention'); COMMIT`);
    expect(await check()).toMatchObject({
      ok: false,
      firstBrokenId: String(changed),
      firstBrokenTable: 'audit_messages',
      reason: expect.stringMatching(/differs from what the anchor signed/),
    });
  });
});

describe('retention marks against signed anchors', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let repo: AuditRepository;
  let trail: AuditTrail;
  let dir: string;
  let directory: AnchorDirectory;
  let signer: AnchorSigner;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const write = async (n: number) => {
    for (let i = 0; i < n; i++) await trail.recordMessage(record(randomUUID()));
  };
  const check = async () => checkAnchors(repo, await directory.readAll(), publicKey);
  /** What the owner of the database can do: delete records and mark them as dropped by retention. */
  const deleteAndMark = (upTo: number) =>
    ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
      INSERT INTO audit_chain_anchors (table_name, seq, hash, recorded_at, reason)
        SELECT 'audit_messages', seq, hash, recorded_at - interval '1 day', 'retention dropped audit_messages_p20200101'
          FROM audit_messages WHERE seq = ${upTo};
      DELETE FROM audit_messages WHERE seq <= ${upTo}; COMMIT`);

  beforeAll(async () => {
    db = await createTestDatabase('anchors_retention');
    ds = new DataSource({ type: 'postgres', url: db.url, migrations: MIGRATIONS, logging: false });
    await ds.initialize();
    await ds.runMigrations();
    repo = new AuditRepository(ds);
    trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
    dir = mkdtempSync(join(tmpdir(), 'junction-anchors-retention-int-'));
    directory = new AnchorDirectory(dir);
    signer = new AnchorSigner(repo, directory, privateKey, quiet);
  });

  afterAll(async () => {
    await trail?.close();
    await ds?.destroy();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names records deleted under a retention mark while records of their day are kept', async () => {
    await write(5);
    await signer.anchorNow();
    await write(5);
    await signer.anchorNow();
    await write(5);
    await signer.anchorNow();
    await deleteAndMark(12);
    expect(await check()).toMatchObject({
      ok: false,
      firstBrokenId: '5',
      firstBrokenTable: 'audit_messages',
      // Records 5 and 13 share their day, unless written either side of midnight (UTC): then
      // record 5 is still too young for retention to have dropped its day.
      reason: expect.stringMatching(
        /^record 5 of audit_messages is missing: it was recorded (on \d{4}-\d\d-\d\d, the day of record 13 that is still there, and retention drops whole days only|.*too recently for retention to drop its day)/,
      ),
    });
  });

  it('names records deleted up to the head under a retention mark, younger than any retention', async () => {
    await deleteAndMark(15);
    expect(await check()).toMatchObject({
      ok: false,
      firstBrokenId: '5',
      reason: expect.stringMatching(/too recently for retention to drop its day/),
    });
  });
});

/** A describe's own database (migrated), audit trail and anchor folder: made before its tests, gone after. */
function ownChain(name: string): {
  db: TestDatabase;
  ds: DataSource;
  trail: AuditTrail;
  dir: string;
} {
  const own = {} as { db: TestDatabase; ds: DataSource; trail: AuditTrail; dir: string };
  beforeAll(async () => {
    own.db = await createTestDatabase(name);
    own.ds = new DataSource({
      type: 'postgres',
      url: own.db.url,
      migrations: MIGRATIONS,
      logging: false,
    });
    await own.ds.initialize();
    await own.ds.runMigrations();
    own.trail = new AuditTrail({ databaseUrl: own.db.url, log: quiet });
    own.dir = mkdtempSync(join(tmpdir(), `junction-${name}-int-`));
  });
  afterAll(async () => {
    await own.trail?.close();
    await own.ds?.destroy();
    await own.db?.drop();
    if (own.dir) rmSync(own.dir, { recursive: true, force: true });
  });
  return own;
}

describe('signed anchors while retention drops a day', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');

  /** Retention drops the day (as two days on) just as the check first reads rows of the chain. */
  class DroppingRepository extends AuditRepository {
    dropOnRead = false;
    override async bySeq<R>(
      table: ChainTable<R>,
      after: string,
      upTo: string,
      limit: number,
    ): Promise<Array<Chained<R>>> {
      if (this.dropOnRead) {
        this.dropOnRead = false;
        await new PartitionMaintenance(own.trail, this, { aheadDays: 0 }, quiet).dropOlderThan(
          1,
          new Date(Date.now() + 2 * 86_400_000),
        );
      }
      return super.bySeq(table, after, upTo, limit);
    }
  }

  const own = ownChain('anchors_dropping');

  it('takes records retention dropped during the check for dropped, not for removed', async () => {
    const repo = new DroppingRepository(own.ds);
    const directory = new AnchorDirectory(own.dir);
    for (let i = 0; i < 5; i++) await own.trail.recordMessage(record(randomUUID()));
    await new AnchorSigner(repo, directory, privateKey, quiet).anchorNow();
    repo.dropOnRead = true;
    const later = new Date(Date.now() + 2 * 86_400_000);
    expect(
      await checkAnchors(repo, await directory.readAll(), publicKey, undefined, later),
    ).toMatchObject({ ok: true, checked: 1 });
    expect(repo.dropOnRead).toBe(false);
  });
});

describe('signed anchors while the owner cuts the chain during a check', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');

  const own = ownChain('anchors_forging');

  it('holds a cut made during the check to what retention can do, as the first', async () => {
    /** The owner deletes every record up to the head under a retention mark as the check reads. */
    class ForgingRepository extends AuditRepository {
      forgeUpTo?: string;
      override async bySeq<R>(
        table: ChainTable<R>,
        after: string,
        upTo: string,
        limit: number,
      ): Promise<Array<Chained<R>>> {
        const cut = this.forgeUpTo;
        // As the anchors are compared (in batches; the cut's own check reads one row).
        if (cut !== undefined && limit > 1) {
          this.forgeUpTo = undefined;
          await own.ds.query(`BEGIN; SET LOCAL session_replication_role = replica;
            INSERT INTO audit_chain_anchors (table_name, seq, hash, recorded_at, reason)
              SELECT 'audit_messages', seq, hash, recorded_at, 'retention' FROM audit_messages WHERE seq = ${BigInt(cut)};
            DELETE FROM audit_messages WHERE seq <= ${BigInt(cut)}; COMMIT`);
        }
        return super.bySeq(table, after, upTo, limit);
      }
    }
    const repo = new ForgingRepository(own.ds);
    const directory = new AnchorDirectory(own.dir);
    for (let i = 0; i < 5; i++) await own.trail.recordMessage(record(randomUUID()));
    await new AnchorSigner(repo, directory, privateKey, quiet).anchorNow();
    const [{ head }] = (await own.ds.query(
      `SELECT seq::text AS head FROM audit_chain_heads WHERE table_name = 'audit_messages'`,
    )) as Array<{ head: string }>;
    repo.forgeUpTo = head;
    const result = await checkAnchors(repo, await directory.readAll(), publicKey);
    expect(repo.forgeUpTo).toBeUndefined();
    expect(result).toMatchObject({ ok: false });
    expect(result.reason).toMatch(/retention drops whole days only|too recently for retention/);
  });
});
