/**
 * Class 10 of the security hardening: the gateway's own database role cannot rewrite audit
 * history, and a rewrite by anyone else (the schema owner, a superuser) is caught against the
 * signed anchors the gateway publishes outside the database.
 *
 * The gateway runs as a process under a runtime role of its own (not the owner, not a
 * superuser); migrations run as a separate owner role, both made here as an operator would
 * (README, "Database roles and signed audit anchors") with names unique to this run.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { chainHash, EVENTS, GENESIS_HASH, MESSAGES } from '@junction/audit';
import { eventually, freePort, GatewayProcess } from '../gateway-process';
import { spawnNode } from '../process';

const ROOT = join(__dirname, '..', '..');
const ADMIN_URL =
  process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
type Table = 'audit_messages' | 'audit_events';

function urlAs(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
}

/** `junction audit verify`, as CI runs it. */
function auditVerify(
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['apps/cli/bin/junction.js', 'audit', 'verify', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: '', JUNCTION_AUDIT_ANCHOR_DIR: '' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A new Ed25519 signing key in `dir`, as an operator makes one: the private key's file (0600) and the public key's. */
function signingKeyIn(dir: string): { keyFile: string; publicKeyFile: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = join(dir, 'signing.pem');
  writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const publicKeyFile = join(dir, 'signing.pub.pem');
  writeFileSync(publicKeyFile, publicKey.export({ format: 'pem', type: 'spki' }));
  return { keyFile, publicKeyFile };
}

interface VerifyBody {
  ok: boolean;
  firstBrokenId?: string;
  firstBrokenTable?: string;
  reason?: string;
  tables: Array<{ table: string; ok: boolean }>;
  anchors: {
    configured: boolean;
    ok?: boolean;
    checked?: number;
    lastAnchor?: { file: string; matched: boolean; chains: Array<{ table: string; seq: string }> };
    firstBrokenId?: string;
  };
}

jest.setTimeout(60_000);

describe('database roles and signed audit anchors (gateway under a runtime role)', () => {
  let db: TestDatabase;
  let su: Client;
  let gw: GatewayProcess;
  let dir: string;
  let anchorsDir: string;
  let publicKeyFile: string;
  const suffix = randomBytes(4).toString('hex');
  const owner = `junction_t_owner_${suffix}`;
  const runtime = `junction_t_app_${suffix}`;
  let ownerUrl: string;
  let runtimeUrl: string;

  const verifyCli = () =>
    auditVerify('--database-url', db.url, '--anchors', anchorsDir, '--public-key', publicKeyFile);
  const verifyApi = async (): Promise<VerifyBody> => {
    const res = await gw.api('GET', '/audit/verify');
    expect(res.status).toBe(200);
    return res.body as VerifyBody;
  };

  async function heads(): Promise<Record<Table, string>> {
    const rows = (await su.query(`SELECT table_name, seq::text AS seq FROM audit_chain_heads`))
      .rows as Array<{
      table_name: Table;
      seq: string;
    }>;
    return Object.fromEntries(rows.map((r) => [r.table_name, r.seq])) as Record<Table, string>;
  }

  /** Waits (with a deadline) until the published anchors cover both chain heads as they are now. */
  async function anchored(): Promise<Record<Table, string>> {
    const want = await heads();
    await eventually(
      () => {
        const got: Record<string, bigint> = {};
        for (const f of readdirSync(anchorsDir).filter((n) => n.endsWith('.json'))) {
          const a = JSON.parse(readFileSync(join(anchorsDir, f), 'utf8')) as {
            chains: Array<{ table: string; seq: string }>;
          };
          for (const c of a.chains)
            if (!got[c.table] || BigInt(c.seq) > got[c.table]) got[c.table] = BigInt(c.seq);
        }
        for (const t of Object.keys(want) as Table[])
          if ((got[t] ?? 0n) < BigInt(want[t]))
            throw new Error(`${t} anchored up to ${got[t]}, head ${want[t]}`);
      },
      30_000,
      'anchors covering the chain heads',
    );
    return want;
  }

  /** As the superuser, with triggers off: give every row from `from` on a consistent hash again. */
  async function rechain(table: Table, from: bigint): Promise<void> {
    const t = table === 'audit_messages' ? MESSAGES : EVENTS;
    const rows = (
      await su.query(`SELECT * FROM ${table} WHERE seq >= $1 ORDER BY seq`, [String(from - 1n)])
    ).rows as Array<Record<string, unknown>>;
    let prev = from === 1n ? GENESIS_HASH : (rows.shift()!.hash as Buffer);
    for (const raw of rows) {
      const c = (t as typeof MESSAGES).fromDb(raw);
      const hash = chainHash(
        table,
        prev,
        c.seq,
        c.recordedAt,
        (t as typeof MESSAGES).content(c.row),
      );
      await su.query(`UPDATE ${table} SET prev_hash = $1, hash = $2 WHERE seq = $3`, [
        prev,
        hash,
        c.seq,
      ]);
      prev = hash;
    }
    await su.query(`UPDATE audit_chain_heads SET hash = $1 WHERE table_name = $2`, [prev, table]);
  }

  /** An edit as the superuser (triggers off), with the chain recomputed to look consistent. */
  async function rewrite(table: Table, seq: bigint, set: string, values: unknown[]): Promise<void> {
    await su.query('BEGIN');
    await su.query(`SET LOCAL session_replication_role = replica`);
    await su.query(`UPDATE ${table} SET ${set} WHERE seq = $1`, [String(seq), ...values]);
    await rechain(table, seq);
    await su.query('COMMIT');
  }

  beforeAll(async () => {
    db = await createTestDatabase('anchors');
    su = new Client({ connectionString: ADMIN_URL });
    await su.connect();
    // What the README tells an operator to run as a superuser.
    await su.query(`CREATE ROLE ${owner} LOGIN`);
    await su.query(`CREATE ROLE ${runtime} LOGIN`);
    await su.query(`DO $$ BEGIN CREATE ROLE junction_audit_writer NOLOGIN;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    await su.query(`GRANT junction_audit_writer TO ${owner}, ${runtime}`);
    await su.query(`ALTER DATABASE ${db.name} OWNER TO ${owner}`);
    await su.end();
    su = new Client({ connectionString: db.url });
    await su.connect();
    await su.query(`ALTER SCHEMA public OWNER TO ${owner}`);
    ownerUrl = urlAs(db.url, owner);
    runtimeUrl = urlAs(db.url, runtime);

    dir = mkdtempSync(join(tmpdir(), 'junction-anchors-'));
    anchorsDir = join(dir, 'anchors');
    const keys = signingKeyIn(dir);
    const keyFile = keys.keyFile;
    publicKeyFile = keys.publicKeyFile;

    gw = new GatewayProcess(await freePort(), runtimeUrl, {
      JUNCTION_MIGRATION_DATABASE_URL: ownerUrl,
      JUNCTION_AUDIT_SIGNING_KEY: keyFile,
      JUNCTION_AUDIT_ANCHOR_DIR: anchorsDir,
      JUNCTION_AUDIT_ANCHOR_INTERVAL_MS: '100',
    });
    await gw.start();
    const route = {
      id: 'anchored',
      source: { type: 'http', path: 'in/anchored', auth: 'none', mode: 'sync' },
      pipeline: [],
      destinations: [{ type: 'log' }],
    };
    expect([200, 201]).toContain((await gw.api('POST', '/routes', route)).status);
    for (let i = 0; i < 25; i++) {
      const res = await fetch(`${gw.base}/ingest/in/anchored`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          n: i,
          id: randomBytes(6).toString('hex'),
          total: randomInt(1, 10_000),
        }),
      });
      expect(res.status).toBe(200);
    }
    await anchored();
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await su?.end().catch(() => undefined);
    await db?.drop();
    const admin = new Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${runtime}`);
    await admin.query(`DROP ROLE IF EXISTS ${owner}`);
    await admin.end();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the gateway as the runtime role, which owns no audit table', async () => {
    const sessions = (
      await su.query(
        `SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'junction%'`,
        [db.name],
      )
    ).rows.map((r: { usename: string }) => r.usename);
    expect(sessions).toEqual([runtime]);
    const owners = (
      await su.query(`SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relname LIKE 'audit%'`)
    ).rows.map((r: { owner: string }) => r.owner);
    expect(owners).toEqual([owner]);
    expect(gw.process!.output()).not.toMatch(/runtime role owns the schema/);
  });

  it('a clean database verifies ok, offline against the anchors and through the API', async () => {
    const cli = await verifyCli();
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^ok: \d+ records verified/);
    expect(cli.stdout).toMatch(/matched/);
    const api = await verifyApi();
    expect(api).toMatchObject({ ok: true, anchors: { configured: true, ok: true } });
    expect(api.anchors.lastAnchor?.matched).toBe(true);
    expect(api.anchors.checked).toBeGreaterThan(0);
  });

  it('refuses the runtime role every change to audit history: UPDATE, DELETE, TRUNCATE, ALTER, DISABLE TRIGGER, DROP', async () => {
    const app = new Client({ connectionString: runtimeUrl });
    await app.connect();
    try {
      const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
      const statements: string[] = [];
      for (const table of [
        'audit_messages',
        'audit_events',
        `audit_messages_p${today}`,
        `audit_events_p${today}`,
      ]) {
        statements.push(
          `UPDATE ${table} SET recorded_at = recorded_at`,
          `DELETE FROM ${table} WHERE seq = (SELECT max(seq) FROM ${table})`,
          `TRUNCATE ${table}`,
          `ALTER TABLE ${table} DISABLE TRIGGER ALL`,
          `ALTER TABLE ${table} DISABLE TRIGGER USER`,
          `ALTER TABLE ${table} ADD COLUMN x int`,
          `CREATE TRIGGER t_${randomBytes(3).toString('hex')} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION junction_audit_append_only()`,
          `DROP TABLE ${table}`,
        );
      }
      statements.push(
        `ALTER TABLE audit_messages DETACH PARTITION audit_messages_p${today}`,
        `UPDATE audit_chain_heads SET seq = 0, hash = decode(repeat('00', 32), 'hex'), recorded_at = 'epoch'`,
        `DELETE FROM audit_chain_heads`,
        `DELETE FROM audit_chain_anchors`,
        `INSERT INTO audit_chain_anchors (table_name, seq, hash, recorded_at, reason) VALUES ('audit_messages', 999, '\\x00', now(), 'forged')`,
        `SELECT audit_drop_partition('audit_messages', 'audit_messages_p${today}')`,
        `SELECT audit_set_retention(1)`,
        `UPDATE audit_retention_policy SET keep_days = 1`,
        `SET session_replication_role = replica`,
        `ALTER FUNCTION junction_audit_append_only() OWNER TO ${runtime}`,
        `CREATE OR REPLACE FUNCTION junction_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
      );
      for (const asWriter of [false, true]) {
        for (const sql of statements) {
          await app.query('BEGIN');
          if (asWriter) await app.query('SET LOCAL ROLE junction_audit_writer');
          const outcome = await app.query(sql).then(
            () => 'allowed',
            (err: { code?: string }) => err.code,
          );
          await app.query('ROLLBACK');
          expect({ sql, asWriter, outcome }).toEqual({ sql, asWriter, outcome: '42501' });
        }
      }
    } finally {
      await app.end();
    }
    expect((await verifyApi()).ok).toBe(true);
  });

  it.each([
    ['audit_messages', 'route_id', `'tampered-route'`],
    ['audit_messages', 'outcome', `'filtered'`],
    ['audit_messages', 'body', `'{"n": -1}'::jsonb`],
    ['audit_events', 'actor', `'mallory'`],
  ] as Array<[Table, string, string]>)(
    'an edit of %s.%s as the superuser, its chain recomputed, is caught and the record named',
    async (table, column, value) => {
      const anchoredHeads = await anchored();
      const seq = BigInt(randomInt(1, Number(anchoredHeads[table]) + 1));
      const original = (
        await su.query(`SELECT ${column} AS v FROM ${table} WHERE seq = $1`, [String(seq)])
      ).rows[0].v;
      await rewrite(table, seq, `${column} = ${value}`, []);
      try {
        // The chain alone looks consistent: only the anchors catch it.
        const api = await verifyApi();
        expect(api.tables.every((t) => t.ok)).toBe(true);
        expect(api).toMatchObject({
          ok: false,
          firstBrokenId: String(seq),
          firstBrokenTable: table,
        });
        expect(api.anchors).toMatchObject({ ok: false, firstBrokenId: String(seq) });
        expect(api.anchors.lastAnchor).toBeDefined();
        const cli = await verifyCli();
        expect(cli.code).toBe(1);
        expect(cli.stdout).toContain(`first broken record ${seq} of ${table}`);
      } finally {
        await rewrite(table, seq, `${column} = $2`, [original]);
      }
      expect((await verifyCli()).code).toBe(0);
    },
  );

  it('an anchor file changed after signing fails the check', async () => {
    await anchored();
    const file = readdirSync(anchorsDir)
      .filter((n) => n.endsWith('.json'))
      .sort()[0];
    const path = join(anchorsDir, file);
    const text = readFileSync(path, 'utf8');
    const anchor = JSON.parse(text) as { chains: Array<{ hash: string }> };
    anchor.chains[0].hash = anchor.chains[0].hash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    writeFileSync(path, JSON.stringify(anchor));
    try {
      const cli = await verifyCli();
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain(`anchor ${file}: its signature does not verify`);
    } finally {
      writeFileSync(path, text);
    }
    expect((await verifyCli()).code).toBe(0);
  });

  it('deleting the newest anchor-covered rows, head moved back to match, is caught', async () => {
    const anchoredHeads = await anchored();
    const head = BigInt(anchoredHeads.audit_messages);
    const cut = head - BigInt(randomInt(1, 4)); // keep rows 1..cut
    await su.query('BEGIN');
    await su.query(`SET LOCAL session_replication_role = replica`);
    await su.query(`DELETE FROM audit_messages WHERE seq > $1`, [String(cut)]);
    await su.query(
      `UPDATE audit_chain_heads SET seq = $1, hash = (SELECT hash FROM audit_messages WHERE seq = $1),
         recorded_at = (SELECT recorded_at FROM audit_messages WHERE seq = $1) WHERE table_name = 'audit_messages'`,
      [String(cut)],
    );
    await su.query('COMMIT');
    const api = await verifyApi();
    expect(api.tables.every((t) => t.ok)).toBe(true);
    expect(api).toMatchObject({
      ok: false,
      firstBrokenTable: 'audit_messages',
      firstBrokenId: String(cut + 1n),
    });
    expect(api.reason).toMatch(/missing/);
    // The anchors caught it (the newest anchor may be a later one over the events chain alone:
    // every verification is itself an event, and the signer signs the chains that moved).
    expect(api.anchors).toMatchObject({ ok: false, firstBrokenId: String(cut + 1n) });
    const cli = await verifyCli();
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`first broken record ${cut + 1n} of audit_messages`);
  });
});

describe('signed audit anchors at a graceful stop', () => {
  let db: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase('anchorstop');
    dir = mkdtempSync(join(tmpdir(), 'junction-anchors-stop-'));
  });

  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs the records written since the last anchor when the gateway stops, not an interval later', async () => {
    const anchorsDir = join(dir, 'anchors');
    const { keyFile } = signingKeyIn(dir);
    // An hour between anchors: only the stop can sign what this test writes.
    const gw = new GatewayProcess(await freePort(), db.url, {
      JUNCTION_AUDIT_SIGNING_KEY: keyFile,
      JUNCTION_AUDIT_ANCHOR_DIR: anchorsDir,
      JUNCTION_AUDIT_ANCHOR_INTERVAL_MS: '3600000',
    });
    await gw.start();
    const route = {
      id: 'tail',
      source: { type: 'http', path: 'in/tail', auth: 'none', mode: 'sync' },
      pipeline: [],
      destinations: [{ type: 'log' }],
    };
    expect([200, 201]).toContain((await gw.api('POST', '/routes', route)).status);
    for (let i = 0; i < 3 + randomInt(5); i++) {
      const res = await fetch(`${gw.base}/ingest/in/tail`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ n: i }),
      });
      expect(res.status).toBe(200);
    }
    expect(await gw.stop()).toBe(0);

    const su = new Client({ connectionString: db.url });
    await su.connect();
    const heads = (
      await su.query<{ table_name: string; seq: string }>(
        `SELECT table_name, seq::text AS seq FROM audit_chain_heads`,
      )
    ).rows;
    await su.end();
    const signed = new Map<string, bigint>();
    for (const file of readdirSync(anchorsDir)) {
      const anchor = JSON.parse(readFileSync(join(anchorsDir, file), 'utf8')) as {
        chains: Array<{ table: string; seq: string }>;
      };
      for (const chain of anchor.chains)
        if ((signed.get(chain.table) ?? -1n) < BigInt(chain.seq))
          signed.set(chain.table, BigInt(chain.seq));
    }
    expect(heads.map((h) => h.table_name).sort()).toEqual(['audit_events', 'audit_messages']);
    for (const head of heads) {
      expect(BigInt(head.seq)).toBeGreaterThan(0n);
      expect(signed.get(head.table_name)).toBe(BigInt(head.seq));
    }
  });
});

describe('database roles and signed audit anchors (the embedded default)', () => {
  let dataDir: string;
  let pgPort: number;
  let gateway: ReturnType<typeof spawnNode> | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'junction-anchors-embedded-'));
    chmodSync(dataDir, 0o755);
    pgPort = await freePort();
  });

  afterAll(async () => {
    if (gateway && gateway.child.exitCode === null) {
      gateway.child.kill('SIGTERM');
      await gateway.exited();
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs as junction_runtime, migrated by junction_owner, with a generated key whose anchors verify', async () => {
    const port = await freePort();
    gateway = spawnNode(
      ['bin/gateway.js'],
      {
        JUNCTION_DATA_DIR: dataDir,
        PORT: String(port),
        JUNCTION_EMBEDDED_PG_PORT: String(pgPort),
        DATABASE_URL: '',
        JUNCTION_MASTER_KEY: '',
        JUNCTION_ADMIN_PASSWORD: 'embedded-admin-password',
        JUNCTION_AUDIT_ANCHOR_INTERVAL_MS: '100',
        JUNCTION_LOG: 'silent',
      },
      ROOT,
    );
    await gateway.waitFor(/Junction gateway listening on/, 90_000);
    expect(gateway.output()).not.toMatch(/WARNING/);
    const superuser = `postgres://postgres@127.0.0.1:${pgPort}/junction`;
    const client = new Client({ connectionString: superuser });
    await client.connect();
    try {
      const users = (
        await client.query(
          `SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'junction' AND application_name LIKE 'junction%'`,
        )
      ).rows.map((r: { usename: string }) => r.usename);
      expect(users).toEqual(['junction_runtime']);
      const owners = (
        await client.query(
          `SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')`,
        )
      ).rows.map((r: { owner: string }) => r.owner);
      expect(owners).toEqual(['junction_owner']);
      // The first admin's creation (and the demo route) are audited: wait until an anchor covers them.
      const anchors = join(dataDir, 'audit-anchors');
      await eventually(async () => {
        const head = (
          await client.query(
            `SELECT seq::text AS seq FROM audit_chain_heads WHERE table_name = 'audit_events'`,
          )
        ).rows[0] as { seq: string };
        expect(Number(head.seq)).toBeGreaterThan(0);
        const signed = readdirSync(anchors).flatMap(
          (f) =>
            (
              JSON.parse(readFileSync(join(anchors, f), 'utf8')) as {
                chains: Array<{ table: string; seq: string }>;
              }
            ).chains,
        );
        expect(signed.some((c) => c.table === 'audit_events' && c.seq === head.seq)).toBe(true);
      }, 30_000);
    } finally {
      await client.end();
    }
    const cli = await auditVerify(
      '--database-url',
      superuser,
      '--anchors',
      join(dataDir, 'audit-anchors'),
      '--public-key',
      join(dataDir, 'audit-signing.pub'),
    );
    expect(cli).toMatchObject({ code: 0, stderr: '' });
    expect(statSync(join(dataDir, 'audit-signing.key')).mode & 0o777).toBe(0o600);
  });
});
