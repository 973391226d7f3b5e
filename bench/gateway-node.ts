/**
 * The node flags the gateway runs with, for the benches: `npm start` and the image's CMD pass
 * V8 options on node's command line (`--max-semi-space-size=32`: V8 sizes the young generation
 * when the process starts, so the gateway cannot set it itself). A bench that runs a route in its
 * own process must run under the same flags, or it measures a route the gateway never runs: under
 * V8's defaults the Kafka route spent a quarter more CPU per message, most of it in scavenges.
 *
 * The flags are read from package.json's `start` script, the one place they are written (the
 * Dockerfile's CMD is checked against it by apps/gateway/test/containers.spec.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The project's package.json: the nearest one above this file (bench/ or dist/bench/). */
function packageJson(): { scripts?: Record<string, string> } {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
    if (dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

/**
 * The options of a `node --name=value ... script` command line. Only that form is read: a value
 * after a space, or anything before `node`, is refused rather than cut off.
 */
export function nodeFlagsOf(command: string): string[] {
  const words = command.trim().split(/\s+/);
  if (words[0] !== 'node')
    throw new Error(`not a "node [--name=value ...] script" line: ${command}`);
  const flags: string[] = [];
  for (const word of words.slice(1)) {
    if (!word.startsWith('-')) break;
    if (!/^--[a-z0-9_-]+=\S+$/i.test(word))
      throw new Error(`'${word}' in "${command}": write the gateway's node flags as --name=value`);
    flags.push(word);
  }
  return flags;
}

/** A flag's name as V8 and node compare it: before any `=`, `_` as `-`. */
export function flagName(flag: string): string {
  return flag.split('=')[0].replace(/_/g, '-');
}

function startScript(): string {
  const start = packageJson().scripts?.start;
  if (!start) throw new Error('package.json has no start script to take the node flags from');
  return start;
}

/** The gateway's node flags (package.json's `start`). */
export const GATEWAY_NODE_FLAGS: readonly string[] = nodeFlagsOf(startScript());

/** Flags (by flagName) under which a second process would defeat them (a profile, a debugger's port). */
const OWN_PROCESS = /^--(cpu-prof|heap-prof|prof|inspect)/;
/** Set on the child: a child never starts another, whatever it finds missing. */
const RERUN = 'BENCH_NODE_RERUN';

/**
 * Makes sure this process runs under the gateway's node flags. A flag already given, with any
 * value, on node's command line or in NODE_OPTIONS, is left as given. If one is missing, this
 * same script runs again as a child with it (output, exit status and SIGINT/SIGTERM passed
 * through) and this answers true: the caller returns, and this process ends as the child does.
 * Under a profiler or debugger it runs on as it is, and says which flags to add.
 * BENCH_NODE_DEFAULTS=1 adds nothing (V8's defaults, unless the flags were given).
 */
export function rerunWithGatewayFlags(): boolean {
  if (process.env.BENCH_NODE_DEFAULTS === '1' || process.env[RERUN] === '1') return false;
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map(
    flagName,
  );
  const missing = GATEWAY_NODE_FLAGS.filter((flag) => !given.includes(flagName(flag)));
  if (missing.length === 0) return false;
  if (given.some((name) => OWN_PROCESS.test(name))) {
    console.error(
      `bench: running without the gateway's node flags; add ${missing.join(' ')} to measure what it runs`,
    );
    return false;
  }
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...missing, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, [RERUN]: '1' } },
  );
  // A terminal's Ctrl-C reaches the child too (one process group): it may see SIGINT twice.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward).on('SIGTERM', forward);
  child.on('error', (err) => {
    console.error(err);
    process.exitCode = 1;
  });
  child.on('exit', (code, signal) => {
    process.off('SIGINT', forward).off('SIGTERM', forward);
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
  return true;
}

/** The node flags this process runs with: its command line's, then NODE_OPTIONS. */
export function nodeFlags(): string {
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ').trim();
}

/** A report's first line: node's version and flags. */
export function nodeFlagsLine(): string {
  return `node ${process.version} ${nodeFlags() || '(V8 defaults)'}`;
}
