/**
 * The audit writer against the real Postgres: group commit, durability before resolving,
 * outages (a TCP proxy we cut, backends we terminate), the writer role's missing UPDATE and
 * DELETE, partitions made on demand, retention by dropping days, and the hash chain throughout.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Client, Pool } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@junction/database';
import type { MessageRecord } from '@junction/runtime';
import { MIGRATIONS } from '../../../migrations';
import { canonicalJson } from './audit-json';
import { messageRow } from './audit-rows';
import { ChainAppender, MESSAGE_APPENDER, MessageRow, MESSAGES } from './audit-tables';
import { AuditTrail, AuditTrailOptions } from './audit-trail';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { AUDIT_WRITER_ROLE, AuditSession, auditSessionSetup } from './audit-session';
import { ChainWriter } from './chain-writer';
import { PartitionMaintenance } from './partition-maintenance';

const PG = { host: '127.0.0.1', port: 5432 };
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

function record(messageId: string, extra: Partial<MessageRecord> = {}): MessageRecord {
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
    body: { id: messageId, total: 12.5 },
    payload: Buffer.from(JSON.stringify({ id: messageId })),
    auditPayload: 'masked',
    ...extra,
  };
}

/** Polls until `check` holds, or fails with what it last saw. */
async function until(check: () => Promise<boolean> | boolean, what: string, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP proxy in front of Postgres that the test can cut, slow down, or make lose a COMMIT's answer. */
class Proxy {
  private server?: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  up = true;
  /** Delay on the way to the server: a writer that resolved early would be caught. */
  delayMs = 0;
  /**
   * Forward the next commit (a COMMIT, or the one-statement append that commits by itself),
   * then drop the connection before its answer comes back.
   */
  loseNextCommitAnswer = false;
  lostCommits = 0;

  async start(): Promise<number> {
    this.server = net.createServer((client) => this.connect(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  private connect(client: net.Socket): void {
    if (!this.up) {
      client.destroy();
      return;
    }
    const upstream = net.connect(PG.port, PG.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    let mute = false;
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('data', (chunk: Buffer) => {
      const forward = () => {
        if (upstream.destroyed) return;
        upstream.write(chunk);
        const commits = chunk.includes('COMMIT') || chunk.includes('append-if-head');
        if (this.loseNextCommitAnswer && commits) {
          this.loseNextCommitAnswer = false;
          this.lostCommits += 1;
          mute = true;
          setTimeout(end, 200); // the server has committed by then; the client never hears it
        }
      };
      if (this.delayMs > 0) setTimeout(forward, this.delayMs);
      else forward();
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!mute && !client.destroyed) client.write(chunk);
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  cut(): void {
    this.up = false;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

// Every case with one batch at a time and with batches pipelined (the default).
describe.each([1, 2])('audit writer against real Postgres, pipelineDepth %i', (pipelineDepth) => {
  let db: TestDatabase;
  let ds: DataSource;
  let admin: Pool;
  let adminEnded = false;
  const adminErrors: Error[] = [];
  let repo: AuditRepository;
  let service: AuditService;
  const trails: AuditTrail[] = [];

  const trail = (options: Partial<AuditTrailOptions> = {}) => {
    const t = new AuditTrail({
      databaseUrl: db.url,
      log: quiet,
      retryMinMs: 20,
      retryMaxMs: 200,
      pipelineDepth,
      ...options,
    });
    trails.push(t);
    return t;
  };
  const count = async (sql: string, params: unknown[] = []) =>
    Number((await admin.query<{ n: string }>(sql, params)).rows[0].n);
  const urlThrough = (port: number) => {
    const url = new URL(db.url);
    url.host = `127.0.0.1:${port}`;
    return url.toString();
  };

  beforeAll(async () => {
    db = await createTestDatabase('audit_writer');
    ds = new DataSource({
      type: 'postgres',
      url: db.url,
      migrations: MIGRATIONS,
      migrationsTransactionMode: 'each',
    });
    await ds.initialize();
    await ds.runMigrations();
    repo = new AuditRepository(ds);
    service = new AuditService(repo);
    admin = new Pool({ connectionString: db.url, max: 4 });
    // pg-pool re-emits an idle client's error on the pool: with no listener, an unhandled 'error'
    // event. afterAll's DROP DATABASE ... WITH (FORCE) terminates the clients admin.end() has
    // only begun to close (it does not wait for the server), and did so under a loaded machine
    // while the next describe ran. Errors after the end are that; any before fails the test.
    admin.on('error', (err) => {
      if (!adminEnded) adminErrors.push(err);
    });
  }, 60_000);

  afterEach(() => {
    expect(adminErrors).toEqual([]);
  });

  afterAll(async () => {
    for (const t of trails) await t.close().catch(() => undefined);
    adminEnded = true;
    await admin?.end();
    await ds?.destroy();
    await db?.drop();
  });

  it('writes many records with few INSERTs (group commit) and chains them', async () => {
    const t = trail({ maxBatch: 500, maxDelayMs: 5 });
    const ids = Array.from({ length: 2_000 }, () => randomUUID());
    await Promise.all(ids.map((id) => t.recordMessage(record(id))));
    const stats = t.stats().messages;
    expect(stats.rows).toBe(2_000);
    expect(stats.batches).toBeLessThanOrEqual(8); // 2000 rows in batches of at most 500, plus stragglers
    expect(stats.pending).toBe(0);
    expect(await count(`SELECT count(DISTINCT message_id) AS n FROM audit_messages`)).toBe(2_000);
    const verify = await service.verify({}, 'messages');
    expect(verify).toMatchObject({ ok: true, checked: 2_000 });
  });

  it('serialises appends from several processes into one chain (a locked head row per table)', async () => {
    const writers = [trail({ maxBatch: 100 }), trail({ maxBatch: 100 }), trail({ maxBatch: 100 })];
    const ids = Array.from({ length: 3_000 }, () => randomUUID());
    await Promise.all(
      ids.map((id, i) =>
        Promise.all([
          writers[i % 3].recordMessage(record(id)),
          writers[(i + 1) % 3].recordEvent({
            type: 'route.updated',
            outcome: 'success',
            actor: `a${i}`,
          }),
        ]),
      ),
    );
    expect(writers.map((w) => w.stats().messages.rows)).toEqual([1_000, 1_000, 1_000]);
    const gaps = await admin.query(
      `SELECT count(*) AS n FROM (SELECT seq - lag(seq) OVER (ORDER BY recorded_at, seq) AS step FROM audit_messages) s WHERE step <> 1`,
    );
    expect(Number(gaps.rows[0].n)).toBe(0);
    expect(await service.verify({})).toMatchObject({ ok: true });
  }, 60_000); // real Postgres under a loaded CI machine: seconds, not jest's 5 s default

  it('runs as the writer role, which may insert but never UPDATE, DELETE or TRUNCATE audit rows', async () => {
    const session = new Client({ connectionString: db.url });
    await session.connect();
    try {
      // Exactly what every writer session runs first, on a superuser connection as in the tests.
      await session.query(auditSessionSetup());
      expect((await session.query(`SELECT current_user AS u`)).rows[0].u).toBe(AUDIT_WRITER_ROLE);
      const partition = `audit_messages_p${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
      expect(await count(`SELECT count(*) AS n FROM ${partition}`)).toBeGreaterThan(0);
      for (const sql of [
        `UPDATE audit_messages SET outcome = 'filtered'`,
        `DELETE FROM audit_messages`,
        `TRUNCATE audit_messages`,
        `UPDATE audit_events SET actor = 'x'`,
        `DELETE FROM audit_events`,
        `UPDATE ${partition} SET outcome = 'filtered'`,
        `DELETE FROM ${partition}`,
        `TRUNCATE ${partition}`,
        `DELETE FROM audit_chain_heads`,
        `INSERT INTO audit_chain_anchors (table_name, seq, hash, recorded_at, reason) VALUES ('audit_messages', 1, '\\x00', now(), 'x')`,
        `DROP TABLE ${partition}`,
      ]) {
        await expect(session.query(sql)).rejects.toMatchObject({ code: '42501' });
      }
      // ...and the real writer's connection, though it logs in as the superuser, is refused too:
      await admin.query(`REVOKE INSERT ON audit_messages FROM ${AUDIT_WRITER_ROLE}`);
      const t = trail();
      await expect(t.recordMessage(record(randomUUID()))).rejects.toMatchObject({
        code: 'REJECTED',
      });
      await admin.query(`GRANT INSERT ON audit_messages TO ${AUDIT_WRITER_ROLE}`);
    } finally {
      await session.end();
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE to the owner and a superuser too (triggers)', async () => {
    await trail().recordEvent({ type: 'route.updated', outcome: 'success', actor: 'alice' });
    for (const sql of [
      `UPDATE audit_messages SET outcome = 'filtered'`,
      `DELETE FROM audit_messages`,
      `TRUNCATE audit_messages`,
      `DELETE FROM audit_events`,
      `TRUNCATE audit_events`,
      `UPDATE audit_chain_heads SET seq = 0`,
      `DELETE FROM audit_chain_heads`,
    ]) {
      await expect(admin.query(sql)).rejects.toMatchObject({ code: '42501' });
    }
  });

  it('as a login role that is not the owner (the production set-up), the same', async () => {
    const name = `junction_app_${randomUUID().slice(0, 8)}`;
    await admin.query(`CREATE ROLE ${name} LOGIN`);
    await admin.query(`GRANT ${AUDIT_WRITER_ROLE} TO ${name}`);
    const url = new URL(db.url);
    url.username = name;
    const app = new Client({ connectionString: url.toString() });
    try {
      await app.connect();
      await app.query(auditSessionSetup());
      await expect(app.query(`UPDATE audit_messages SET attempts = 9`)).rejects.toMatchObject({
        code: '42501',
      });
      await expect(app.query(`DELETE FROM audit_messages`)).rejects.toMatchObject({
        code: '42501',
      });
      await app.query(`RESET ROLE`);
      await expect(app.query(`DELETE FROM audit_messages`)).rejects.toMatchObject({
        code: '42501',
      });
      const t = trail({ databaseUrl: url.toString() });
      await t.recordMessage(record(randomUUID()));
    } finally {
      await app.end().catch(() => undefined);
      for (const t of trails.splice(0)) await t.close();
      await admin.query(`REVOKE ${AUDIT_WRITER_ROLE} FROM ${name}`);
      await admin.query(`DROP ROLE ${name}`);
    }
  });

  it('keeps records pending while Postgres is unreachable, resolves none before it is committed, loses none', async () => {
    const proxy = new Proxy();
    const port = await proxy.start();
    const t = trail({ databaseUrl: urlThrough(port), connectTimeoutMs: 1_000 });
    try {
      await t.recordMessage(record(randomUUID())); // connected and working

      proxy.cut();
      const ids = Array.from({ length: 500 }, () => randomUUID());
      const resolved = new Set<string>();
      const all = Promise.all(
        ids.map((id) => t.recordMessage(record(id)).then(() => void resolved.add(id))),
      );
      await until(() => t.stats().messages.retries >= 5, 'the writer to retry');
      expect(resolved.size).toBe(0);
      expect(t.stats().messages).toMatchObject({ pending: 500, failing: true });
      expect(
        await count(`SELECT count(*) AS n FROM audit_messages WHERE message_id = ANY($1)`, [ids]),
      ).toBe(0);

      // Back, but slow on the way to the server: a record that resolved before its COMMIT
      // reached the server would not be found by the direct query made as soon as it resolves.
      proxy.delayMs = 100;
      const seenWhenResolved: Array<Promise<number>> = [];
      const later = Array.from({ length: 100 }, () => randomUUID());
      const laterDone = Promise.all(
        later.map((id) =>
          t.recordMessage(record(id)).then(() => {
            seenWhenResolved.push(
              count(`SELECT count(*) AS n FROM audit_messages WHERE message_id = $1`, [id]),
            );
          }),
        ),
      );
      proxy.restore();
      await all;
      await laterDone;
      expect((await Promise.all(seenWhenResolved)).every((n) => n === 1)).toBe(true);
      expect(
        await count(`SELECT count(*) AS n FROM audit_messages WHERE message_id = ANY($1)`, [
          [...ids, ...later],
        ]),
      ).toBe(600);
      expect(t.stats().messages.failing).toBe(false);
      expect(await service.verify({}, 'messages')).toMatchObject({ ok: true });
    } finally {
      await t.close();
      await proxy.close();
    }
  }, 60_000);

  it('a COMMIT whose answer was lost is found on the next try, not written twice', async () => {
    const proxy = new Proxy();
    const port = await proxy.start();
    const t = trail({ databaseUrl: urlThrough(port), connectTimeoutMs: 1_000 });
    try {
      await t.recordMessage(record(randomUUID()));
      // First the one-round-trip append (the writer knows the head it left), then, the head
      // in doubt after that failure, the locked BEGIN ... COMMIT.
      for (const lost of [1, 2]) {
        proxy.loseNextCommitAnswer = true;
        const ids = Array.from({ length: 50 }, () => randomUUID());
        await Promise.all(ids.map((id) => t.recordMessage(record(id))));
        expect(proxy.lostCommits).toBe(lost);
        expect(t.stats().messages.retries).toBeGreaterThanOrEqual(lost);
        expect(
          await count(`SELECT count(*) AS n FROM audit_messages WHERE message_id = ANY($1)`, [ids]),
        ).toBe(50);
      }
      expect(await service.verify({}, 'messages')).toMatchObject({ ok: true });
    } finally {
      await t.close();
      await proxy.close();
    }
  }, 30_000);

  it('survives its backends being terminated again and again (pg_terminate_backend)', async () => {
    const t = trail({ applicationName: 'junction-audit-victim' });
    let stop = false;
    let terminated = 0;
    const killer = (async () => {
      while (!stop) {
        const r = await admin.query(
          `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
            WHERE application_name = 'junction-audit-victim' AND pid <> pg_backend_pid()`,
        );
        terminated += r.rows.filter((row: { done: boolean }) => row.done).length;
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    const ids = Array.from({ length: 3_000 }, () => randomUUID());
    const done = Promise.all(ids.map((id) => t.recordMessage(record(id))));
    await until(() => terminated >= 5, 'backends to be terminated');
    stop = true;
    await killer;
    await done;
    expect(
      await count(
        `SELECT count(*) AS n FROM (SELECT message_id FROM audit_messages WHERE message_id = ANY($1) GROUP BY 1 HAVING count(*) = 1) x`,
        [ids],
      ),
    ).toBe(3_000);
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true });
  }, 60_000);

  it('takes a writer backend terminated under it, batches on the wire or idle, as a failure to retry', async () => {
    // A termination reaches the writer's pg client as an ErrorResponse (a batch on the wire) or
    // as an 'error' event (idle): either must become a retry, never an unhandled 'error' event
    // (jest fails the test on one). The head held meanwhile keeps the batches on the wire.
    const t = trail({ applicationName: `junction-audit-terminated-${pipelineDepth}` });
    await t.recordMessage(record(randomUUID())); // connected; the writer knows the head
    const terminate = async () => {
      const pid = t.stats().messages.backendPid;
      expect(pid).not.toBeNull();
      await admin.query(`SELECT pg_terminate_backend($1)`, [pid]);
    };
    const lock = await admin.connect();
    const ids = Array.from({ length: 20 }, () => randomUUID());
    let settled: Promise<unknown>;
    try {
      await lock.query('BEGIN');
      await lock.query(
        `SELECT 1 FROM audit_chain_heads WHERE table_name = 'audit_messages' FOR UPDATE`,
      );
      const first = ids.slice(0, 10).map((id) => t.recordMessage(record(id)));
      await until(() => t.stats().messages.roundTrips >= 2, 'the first batch to be sent');
      const second = ids.slice(10).map((id) => t.recordMessage(record(id)));
      // With pipelineDepth 2 the second batch is on the wire behind the first; else it waits.
      expect(t.stats().messages.pipelined).toBe(pipelineDepth === 2 ? 1 : 0);
      settled = Promise.all([...first, ...second]);
      await terminate();
      await until(() => t.stats().messages.retries >= 1, 'the writer to take the failure');
      expect(t.stats().messages.pending).toBe(20);
      await lock.query('COMMIT');
    } finally {
      lock.release();
    }
    await settled;

    // Idle: the termination comes as an 'error' event on a client with no query running.
    await terminate();
    await until(() => t.stats().messages.backendPid === null, 'the writer to drop its session');
    const after = randomUUID();
    await t.recordMessage(record(after));

    expect(
      await count(
        `SELECT count(*) AS n FROM (SELECT message_id FROM audit_messages WHERE message_id = ANY($1) GROUP BY 1 HAVING count(*) = 1) x`,
        [[...ids, after]],
      ),
    ).toBe(21);
    expect(t.stats().messages.failing).toBe(false);
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true });
  }, 60_000);

  it('refuses only the row at fault in a batch and writes the others', async () => {
    const t = trail({ maxDelayMs: 20 });
    const good = Array.from({ length: 9 }, () => randomUUID());
    const bad = record(randomUUID(), { outcome: 'lost' as MessageRecord['outcome'] });
    const results = await Promise.allSettled([
      ...good.slice(0, 4).map((id) => t.recordMessage(record(id))),
      t.recordMessage(bad),
      ...good.slice(4).map((id) => t.recordMessage(record(id))),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      ...Array(4).fill('fulfilled'),
      'rejected',
      ...Array(5).fill('fulfilled'),
    ]);
    expect((results[4] as PromiseRejectedResult).reason).toMatchObject({ code: 'REJECTED' });
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true });
  }, 60_000); // real Postgres under a loaded CI machine: seconds, not jest's 5 s default

  it('stores odd texts exactly as hashed (the batch goes as one JSON document)', async () => {
    const t = trail();
    const id = randomUUID();
    const odd =
      'quote " backslash \\ tab \t newline \n \u2028 emoji \u{1F600} lone \uD800 nul \u0000 {a,b} é';
    await t.recordMessage(
      record(id, {
        body: { [odd]: [odd, 1.5, -0, 1e21, null, true, { z: 1, a: [] }], n: 12345678901234 },
        receipts: [
          { destination: 0, receipt: { kind: 'amqp', exchange: odd, routingKey: '"{}' } },
          { destination: 1, receipt: { kind: 'kafka', topic: 'a,b', partition: 0, offset: '1' } },
        ],
        error: { code: 'X', message: odd, where: odd },
        outcome: 'dead-lettered',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      }),
    );
    await t.recordMessage(record(randomUUID(), { auditPayload: 'none', body: undefined }));
    const rows = await admin.query(
      `SELECT body, targets, error_message, trace_id FROM audit_messages WHERE message_id = $1`,
      [id],
    );
    const clean = odd.replace('\uD800', '\uFFFD').replace('\u0000', '\uFFFD');
    expect(rows.rows[0]).toEqual({
      body: { [clean]: [clean, 1.5, 0, 1e21, null, true, { z: 1, a: [] }], n: 12345678901234 },
      targets: [`amqp:${clean}/"{}`, 'kafka:a,b'],
      error_message: clean,
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    expect(
      await count(
        `SELECT count(*) AS n FROM audit_messages WHERE body IS NULL AND route_id = 'orders'`,
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true });
  });

  it('verifies one chain across rows written the two-pass way (before) and the one-pass way', async () => {
    // The writer as it was before the one-pass texts: rows as values, each field's text made by
    // canonicalJson over safeJson's copy (messageRow), then hashed and sent.
    const twoPass: ChainAppender<MessageRow> = {
      ...MESSAGE_APPENDER,
      canonical: (row) => MESSAGES.content(row).map(canonicalJson),
      appendParams: (rows, head) =>
        MESSAGE_APPENDER.appendParams(
          rows.map((c) => ({
            ...c,
            row: { content: twoPass.canonical(c.row), targets: c.row.targets },
          })),
          head,
        ),
    };
    const odd = {
      z: 'card 4111 1111 1111 1111',
      a: ['x\uD800y', 'nul \u0000', 4111111111111111, -0, 1e21, { b: 1, a: 2 }],
      é: JSON.parse('{"10":1,"2":2,"__proto__":{"x":1}}') as unknown,
    };
    const oneRound = async (before: boolean) => {
      const records = Array.from({ length: 5 }, () =>
        record(randomUUID(), { body: odd, error: { code: 'X', message: 'pan 4111111111111111' } }),
      );
      if (before) {
        const session = new AuditSession({ databaseUrl: db.url, pipeline: pipelineDepth > 1 });
        const writer = new ChainWriter(twoPass, session, { log: quiet, pipelineDepth });
        await Promise.all(records.map((r) => writer.append(messageRow(r))));
        await writer.close();
      } else {
        const t = trail();
        await Promise.all(records.map((r) => t.recordMessage(r)));
      }
      return records.map((r) => r.messageId);
    };
    const ids = [...(await oneRound(true)), ...(await oneRound(false)), ...(await oneRound(true))];
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true });
    const bodies = await admin.query<{ body: unknown }>(
      `SELECT DISTINCT body::text AS body FROM audit_messages WHERE message_id = ANY($1)`,
      [ids],
    );
    expect(bodies.rows).toHaveLength(1); // the same body stored, whichever way it was written
  });

  it('pipelines: a batch sent behind one that fails goes in only after it, chained again', async () => {
    const t = trail({ pipelineDepth: 2 });
    await t.recordMessage(record(randomUUID())); // the writer knows the head
    const lock = await admin.connect();
    try {
      // Hold the head: the next batch waits on it in Postgres, the one after is sent behind it.
      await lock.query('BEGIN');
      await lock.query(
        `SELECT 1 FROM audit_chain_heads WHERE table_name = 'audit_messages' FOR UPDATE`,
      );
      const first = Array.from({ length: 10 }, () => randomUUID());
      const bad = record(randomUUID(), { outcome: 'lost' as MessageRecord['outcome'] });
      const settled = [
        ...first.map((id) => t.recordMessage(record(id))),
        t.recordMessage(bad), // fails the first batch: the one behind it must not go in before it
      ];
      await until(() => t.stats().messages.roundTrips >= 2, 'the first batch to be sent');
      const second = Array.from({ length: 10 }, () => randomUUID());
      settled.push(...second.map((id) => t.recordMessage(record(id))));
      expect(t.stats().messages.pipelined).toBe(1);
      await lock.query('COMMIT');
      const results = await Promise.allSettled(settled);
      expect(results.map((r) => r.status)).toEqual([
        ...Array(10).fill('fulfilled'),
        'rejected',
        ...Array(10).fill('fulfilled'),
      ]);
    } finally {
      lock.release();
    }
    const gaps = await admin.query(
      `SELECT count(*) AS n FROM (SELECT seq - lag(seq) OVER (ORDER BY recorded_at, seq) AS step FROM audit_messages) s WHERE step <> 1`,
    );
    expect(Number(gaps.rows[0].n)).toBe(0);
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true });
  });

  it('sends nothing ahead while a refused batch is written in halves: the chain keeps arrival order', async () => {
    const t = trail({ pipelineDepth: 2 });
    await t.recordMessage(record(randomUUID())); // the writer knows the head
    // A gate: the INSERT of one row waits on an advisory lock the test holds, so that a half
    // of the split batch is on the wire (on a head the writer knows) for as long as the test
    // wants, with more halves to come behind it.
    const gate = `gate-${randomUUID()}`;
    const GATE_LOCK = 815_001;
    await admin.query(`
      CREATE FUNCTION audit_test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.message_id = '${gate}' THEN
          PERFORM pg_advisory_lock(${GATE_LOCK});
          PERFORM pg_advisory_unlock(${GATE_LOCK});
        END IF;
        RETURN NEW;
      END $$`);
    await admin.query(`CREATE TRIGGER audit_test_gate BEFORE INSERT ON audit_messages
      FOR EACH ROW EXECUTE FUNCTION audit_test_gate()`);
    const holder = await admin.connect();
    const head = await admin.connect();
    /** Backends of this database waiting on a lock (a row lock, or the gate's advisory lock). */
    const waiting = () =>
      count(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
    try {
      await holder.query(`SELECT pg_advisory_lock(${GATE_LOCK})`);
      // 30 rows wait on the chain head's row lock (the first alone, 29 sent behind it), so that
      // the next rows form one batch of their own, taken by the drain once those commit.
      await head.query('BEGIN');
      await head.query(
        `SELECT 1 FROM audit_chain_heads WHERE table_name = 'audit_messages' FOR UPDATE`,
      );
      const first = Array.from({ length: 30 }, () => randomUUID());
      const settled = first.map((id) => t.recordMessage(record(id)));
      await until(async () => (await waiting()) === 1, 'the batch of 30 to wait on the head');
      // The bad row first: the batch fails on it, then its halves down to the bad row alone;
      // then [good] goes, and [gate] on the head it left, with [3 rows] and [5 rows] to come.
      const bad = record(randomUUID(), { outcome: 'lost' as MessageRecord['outcome'] });
      const split = [randomUUID(), gate, ...Array.from({ length: 8 }, () => randomUUID())];
      settled.push(t.recordMessage(bad), ...split.map((id) => t.recordMessage(record(id))));
      await head.query('COMMIT');
      await until(async () => (await waiting()) === 1, 'the half with the gate row to wait');
      // Rows that come now must go after every half of the batch before them.
      const later = Array.from({ length: 10 }, () => randomUUID());
      settled.push(...later.map((id) => t.recordMessage(record(id))));
      await holder.query(`SELECT pg_advisory_unlock(${GATE_LOCK})`);
      const results = await Promise.allSettled(settled);
      expect(results.map((r) => r.status)).toEqual([
        ...Array(first.length).fill('fulfilled'),
        'rejected',
        ...Array(split.length + later.length).fill('fulfilled'),
      ]);
      const stored = await admin.query<{ message_id: string }>(
        `SELECT message_id FROM audit_messages WHERE message_id = ANY($1) ORDER BY seq`,
        [[...first, ...split, ...later]],
      );
      expect(stored.rows.map((r) => r.message_id)).toEqual([...first, ...split, ...later]);
    } finally {
      await head.query('ROLLBACK').catch(() => undefined);
      head.release();
      holder.release();
      await admin.query(`DROP TRIGGER audit_test_gate ON audit_messages`);
      await admin.query(`DROP FUNCTION audit_test_gate()`);
    }
    expect(await service.verify({}, 'messages')).toMatchObject({ ok: true });
  });

  it('drops whole days for retention, makes a missing day on demand, and the chain still verifies', async () => {
    const t = trail();
    await t.recordMessage(record(randomUUID()));
    await t.recordEvent({ type: 'route.updated', outcome: 'success', actor: 'alice' });
    const before = await service.verify({});
    expect(before.ok).toBe(true);

    // Two days from now, keeping one whole day: today's partitions go, as whole tables.
    const maintenance = new PartitionMaintenance(
      t,
      repo,
      { aheadDays: 0, retentionDays: 1 },
      quiet,
    );
    const inTwoDays = new Date(Date.now() + 2 * 86_400_000);
    const dropped = await maintenance.dropOlderThan(1, inTwoDays);
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    expect(dropped).toEqual(
      expect.arrayContaining([`audit_messages_p${today}`, `audit_events_p${today}`]),
    );
    expect(await count(`SELECT count(*) AS n FROM audit_messages`)).toBe(0);
    expect(await service.verify({})).toMatchObject({ ok: true, checked: 0 });

    // Today's partition is gone: the writer makes it again on demand, and the chain goes on.
    await t.recordMessage(record(randomUUID()));
    await t.recordEvent({ type: 'route.updated', outcome: 'success', actor: 'bob' });
    expect(await service.verify({})).toMatchObject({ ok: true, checked: 2 });
  }, 60_000); // real Postgres under a loaded CI machine: seconds, not jest's 5 s default
});
