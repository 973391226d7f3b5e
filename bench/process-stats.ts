/**
 * What another process on this machine has used, read from /proc (Linux): the benches measure
 * the server they load from outside it, so the load generator's own work is not counted.
 */
import { readFileSync } from 'node:fs';
import type { Pool } from 'pg';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on every Linux we run). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds a process (all its threads) has used since it started; null if it cannot be read. */
export function processCpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return Number.isFinite(ticks) ? ticks / TICKS_PER_SECOND : null;
}

/** User + system CPU milliseconds a process has used since it started (0 once it is gone). */
export function cpuMs(pid: number): number {
  return (processCpuSeconds(pid) ?? 0) * 1000;
}

/** Resident memory of a process, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

/**
 * The CPU milliseconds of the Postgres backends serving one database (Postgres runs on this
 * machine), by backend pid: take one before and one after a run, and subtract with cpuSince.
 */
export async function postgresCpu(admin: Pool, database: string): Promise<Map<number, number>> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [database],
  );
  return new Map(rows.map((r) => [r.pid, cpuMs(r.pid)]));
}

/**
 * The CPU the backends of `after` used since `before`: a backend that started in between counts
 * whole; one that ended in between is missed (keep the server's pool warm before the first reading).
 */
export function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}
