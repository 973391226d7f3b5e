/**
 * The embedded default's role split, on the real embedded Postgres: an owner that runs the
 * migrations and a runtime role the gateway runs as, which cannot alter or rewrite the audit
 * trail; also for a data folder that an earlier version migrated as the superuser.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  EMBEDDED_OWNER_ROLE,
  EMBEDDED_RUNTIME_ROLE,
  EmbeddedPostgresServer,
  setUpEmbeddedRoles,
} from '@junction/database';
import { MIGRATIONS } from '../../../migrations';
import { prepareDatabase } from '../src/database-roles';

jest.setTimeout(120_000);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

async function sqlState(url: string, sql: string): Promise<string> {
  return query(url, sql).then(
    () => 'allowed',
    (err: { code?: string }) => err.code ?? 'no code',
  );
}

describe('the embedded default sets up an owner and a runtime role', () => {
  let root: string;
  let server: EmbeddedPostgresServer | undefined;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'junction-embedded-roles-'));
    chmodSync(root, 0o755);
  });

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const start = async (dir: string) =>
    (server = await EmbeddedPostgresServer.start({
      dataDir: join(root, dir),
      port: await freePort(),
    }));

  async function expectSplit(superuserUrl: string, ownerUrl: string, runtimeUrl: string) {
    const roles = await query<{ rolname: string; rolsuper: boolean; rolcreaterole: boolean }>(
      superuserUrl,
      `SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
      [[EMBEDDED_OWNER_ROLE, EMBEDDED_RUNTIME_ROLE]],
    );
    expect(roles).toEqual([
      { rolname: EMBEDDED_OWNER_ROLE, rolsuper: false, rolcreaterole: false },
      { rolname: EMBEDDED_RUNTIME_ROLE, rolsuper: false, rolcreaterole: false },
    ]);
    // Everything in the schema belongs to the owner, nothing to the runtime role or the superuser.
    const owners = await query<{ owner: string }>(
      superuserUrl,
      `SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'S', 'v')`,
    );
    expect(owners).toEqual([{ owner: EMBEDDED_OWNER_ROLE }]);
    // The runtime role does the gateway's work...
    expect(await sqlState(runtimeUrl, `SELECT count(*) FROM users`)).toBe('allowed');
    expect(await sqlState(runtimeUrl, `SELECT count(*) FROM audit_messages`)).toBe('allowed');
    expect(
      await sqlState(
        runtimeUrl,
        `BEGIN; SET LOCAL ROLE junction_audit_writer; SELECT audit_ensure_partition(current_date); COMMIT`,
      ),
    ).toBe('allowed');
    // ...and cannot rewrite, drop or unprotect the audit trail.
    for (const sql of [
      `UPDATE audit_events SET actor = 'x'`,
      `DELETE FROM audit_events`,
      `TRUNCATE audit_messages`,
      `ALTER TABLE audit_messages DISABLE TRIGGER ALL`,
      `DROP TABLE audit_events`,
      `CREATE TABLE public.planted (id int)`,
      `SET session_replication_role = replica`,
    ])
      expect({ sql, state: await sqlState(runtimeUrl, sql) }).toEqual({ sql, state: '42501' });
    // The owner may (it runs the migrations), so the split is real and not a broken schema.
    expect(
      await sqlState(
        ownerUrl,
        `ALTER TABLE audit_messages DISABLE TRIGGER USER; ALTER TABLE audit_messages ENABLE TRIGGER USER`,
      ),
    ).toBe('allowed');
  }

  it('on a fresh folder: migrations as the owner, the runtime role with only what it needs; again at the next start', async () => {
    const s = await start('fresh');
    const { ownerUrl, runtimeUrl } = await setUpEmbeddedRoles(s.url);
    expect(new URL(ownerUrl).username).toBe(EMBEDDED_OWNER_ROLE);
    expect(new URL(runtimeUrl).username).toBe(EMBEDDED_RUNTIME_ROLE);
    expect(await prepareDatabase(ownerUrl, runtimeUrl, undefined)).toMatchObject({
      owner: EMBEDDED_OWNER_ROLE,
      runtime: EMBEDDED_RUNTIME_ROLE,
      runtimeIsSuperuser: false,
    });
    await expectSplit(s.url, ownerUrl, runtimeUrl);
    await s.stop();

    const again = await start('fresh');
    const urls = await setUpEmbeddedRoles(again.url);
    await prepareDatabase(urls.ownerUrl, urls.runtimeUrl, 30);
    await expectSplit(again.url, urls.ownerUrl, urls.runtimeUrl);
    expect(await query(again.url, `SELECT keep_days FROM audit_retention_policy`)).toEqual([
      { keep_days: 30 },
    ]);
    // Retention as the runtime role: only what the owner's policy lets go, through the owner's function.
    const day = (offset: number) => {
      const d = new Date(Date.now() + offset * 86_400_000);
      return d.toISOString().slice(0, 10);
    };
    const part = (offset: number) => `audit_messages_p${day(offset).replace(/-/g, '')}`;
    for (const offset of [-31, -29])
      await query(
        urls.runtimeUrl,
        `BEGIN; SET LOCAL ROLE junction_audit_writer; SELECT audit_ensure_partition('${day(offset)}'); COMMIT`,
      );
    const drop = (offset: number) =>
      sqlState(urls.runtimeUrl, `SELECT audit_drop_partition('audit_messages', '${part(offset)}')`);
    expect(await drop(-29)).toBe('42501');
    expect(await drop(0)).toBe('42501');
    expect(await drop(-31)).toBe('allowed');
    expect(await sqlState(urls.runtimeUrl, `SELECT audit_set_retention(0)`)).toBe('42501');
    const left = await query<{ name: string }>(
      again.url,
      `SELECT relname AS name FROM pg_class WHERE relname = ANY($1)`,
      [[part(-31), part(-29), part(0)]],
    );
    expect(left.map((r) => r.name).sort()).toEqual([part(-29), part(0)].sort());
  });

  it('hands a folder migrated as the superuser (before the split) over to the owner', async () => {
    const s = await start('legacy');
    const old = new DataSource({
      type: 'postgres',
      url: s.url,
      migrations: MIGRATIONS.slice(0, 3),
      logging: false,
    });
    await old.initialize();
    await old.runMigrations();
    await old.destroy();
    expect(
      await query(
        s.url,
        `SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'audit_messages'`,
      ),
    ).toEqual([{ owner: 'postgres' }]);
    const { ownerUrl, runtimeUrl } = await setUpEmbeddedRoles(s.url);
    await prepareDatabase(ownerUrl, runtimeUrl, undefined);
    await expectSplit(s.url, ownerUrl, runtimeUrl);
  });
});
