/**
 * Audit reads on the real Postgres share the gateway's pool: a search no index serves scans,
 * and many at once must not take every connection (sign-in, readiness and the API need them).
 */
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { MIGRATIONS } from '../../../migrations';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { AuditTrail } from './audit-trail';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('audit reads on Postgres', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let locker: Client;

  beforeAll(async () => {
    db = await createTestDatabase('audit_reads');
    ds = new DataSource({
      type: 'postgres',
      url: db.url,
      migrations: MIGRATIONS,
      extra: { max: 4, application_name: 'audit-reads-spec' },
    });
    await ds.initialize();
    await ds.runMigrations();
    locker = new Client({ connectionString: db.url });
    await locker.connect();
  }, 60_000);

  afterAll(async () => {
    await locker?.end();
    await ds?.destroy();
    await db?.drop();
  });

  /** Backends of the pool waiting for the test's lock on the audit tables. */
  async function waiting(): Promise<number> {
    // The locker is inside a transaction, where pg_stat_activity is otherwise read once.
    await locker.query('SELECT pg_stat_clear_snapshot()');
    const [row] = (
      await locker.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = 'audit-reads-spec' AND wait_event_type = 'Lock'`,
      )
    ).rows as Array<{ n: number }>;
    return row.n;
  }

  async function until(check: () => Promise<boolean>, ms = 3_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('runs at most two reads at a time, so that a burst of searches leaves the pool to others', async () => {
    const repo = new AuditRepository(ds);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE');
    const reads = Array.from({ length: 6 }, (_, i) =>
      repo.events({ q: `nothing-${i}` }, { order: 'desc', limit: 51 }),
    );
    await until(async () => (await waiting()) === 2);
    // The pool (4) still answers: the other reads wait their turn, not for a connection.
    expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(await waiting()).toBe(2);
    await locker.query('COMMIT');
    expect(await Promise.all(reads)).toEqual(Array.from({ length: 6 }, () => []));
  });

  it('stops a read that runs past its time with a TIMEOUT that says to narrow the search', async () => {
    const repo = new AuditRepository(ds, 300);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_messages IN ACCESS EXCLUSIVE MODE');
    try {
      await expect(
        repo.messages({ q: 'anything' }, { order: 'desc', limit: 51 }),
      ).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/narrow/) });
    } finally {
      await locker.query('COMMIT');
    }
    expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('tells the story of a message whose records retention dropped by its replays', async () => {
    const trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
    try {
      // The records went with their day; the dead letter was kept, and replayed twice since.
      await trail.recordEvent({
        type: 'deadletter.replayed',
        outcome: 'success',
        actor: 'olivia',
        target: { type: 'deadLetter', id: 'dl-1' },
        details: { messageId: 'order-old', outcome: 'dead-lettered' },
      });
      await trail.recordEvent({
        type: 'deadletter.replayed',
        outcome: 'success',
        actor: 'replay-job',
        target: { type: 'deadLetter', id: 'dl-1' },
        details: { replayJob: 'job-1', outcome: 'dead-lettered' },
      });
      const service = new AuditService(new AuditRepository(ds), undefined, {
        idsOfMessage: (id) => Promise.resolve(id === 'order-old' ? ['dl-1'] : []),
      });
      const story = await service.message('order-old');
      expect(story).toMatchObject({ messageId: 'order-old', records: [] });
      expect(story.replays.map((e) => e.actor)).toEqual(['olivia', 'replay-job']);
      await expect(service.message('order-never')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await trail.close();
    }
  });

  it('exports the records written before the export began, however many come while it runs', async () => {
    const trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
    const write = (n: number) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          trail.recordMessage({
            messageId: `export-${i}`,
            routeId: 'exported',
            routeVersion: 1,
            source: { type: 'http', name: 'exported' },
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
    try {
      await write(1_500);
      const service = new AuditService(new AuditRepository(ds));
      const stream = await service.exportMessages({ routeId: 'exported' }, 'ndjson');
      // More than a batch of the export (1,000) arrives before the client reads any of it.
      await write(1_500);
      let text = '';
      for await (const chunk of stream) text += String(chunk);
      expect(text.trim().split('\n').length).toBe(1_500);
    } finally {
      await trail.close();
    }
  });

  it('a page and an export batch stop at a byte budget: big bodies come a few at a time, none lost', async () => {
    const trail = new AuditTrail({ databaseUrl: db.url, log: quiet });
    try {
      // 30 records of about 10 kB; a budget of 40 kB takes 4 of them a read (the one that
      // reaches it included), where the count alone would take all 30 at once.
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          trail.recordMessage({
            messageId: `big-${i}`,
            routeId: 'big-bodies',
            routeVersion: 1,
            source: { type: 'http', name: 'big' },
            outcome: 'delivered',
            receipts: [],
            attempts: 1,
            receivedAt: new Date().toISOString(),
            doneAt: new Date().toISOString(),
            body: { i, pad: 'x'.repeat(10_000) },
            payload: Buffer.from('{}'),
            auditPayload: 'masked',
          }),
        ),
      );
      const repo = new AuditRepository(ds);
      const sizes: number[] = [];
      const limits: number[] = [];
      const read = repo.messages.bind(repo);
      repo.messages = async (filter, options) => {
        const rows = await read(filter, options);
        sizes.push(rows.length);
        limits.push(options.limit);
        return rows;
      };
      const service = new AuditService(repo, undefined, undefined, 40_000);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await service.messages({ routeId: 'big-bodies' }, { limit: 500, cursor });
        seen.push(...page.items.map((m) => m.messageId));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `big-${i}`).sort());
      expect(Math.max(...sizes)).toBe(4);

      sizes.length = 0;
      limits.length = 0;
      const stream = await service.exportMessages({ routeId: 'big-bodies' }, 'ndjson');
      let text = '';
      for await (const chunk of stream) text += String(chunk);
      expect(text.trim().split('\n').length).toBe(30);
      expect(Math.max(...sizes)).toBe(4);
      // Past the first batch, Postgres sizes twice what fitted, not a full batch each time.
      expect(limits[0]).toBe(1_000);
      expect(Math.max(...limits.slice(1))).toBe(8);
      // Rows sized in all: 30 for the first read (all there are), at most 8 for each other one.
      expect(limits.length).toBeLessThanOrEqual(9);
    } finally {
      await trail.close();
    }
  });
});
