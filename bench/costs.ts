/**
 * What an audited run costs, per process: this process's CPU (process.cpuUsage), the CPU of the
 * Postgres backend serving the audit writer and of the RabbitMQ broker (from /proc/<pid>/stat:
 * both run on this machine in the benches; kafkaPid finds a local Kafka broker the same way for
 * bench:kafka), the WAL written (pg_current_wal_lsn, the whole server's: other
 * databases' writes meanwhile count too), and the writer's own counters.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { AuditTrail } from '@junction/audit';
import { processCpuSeconds } from './process-stats';

/** The local RabbitMQ's Erlang VM (a beam.smp whose command line names rabbit); null if none runs here. */
export function rabbitmqPid(): number | null {
  return localPid('beam.smp', 'rabbit');
}

/** The local Kafka broker's JVM (scripts/kafka.sh: a java running kafka.Kafka); null if none runs here. */
export function kafkaPid(): number | null {
  return localPid('java', 'kafka.Kafka');
}

/** Whether a host name (as a URL's hostname or a `host:port`'s host) is this machine's loopback. */
export function onThisMachine(host: string): boolean {
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);
}

/** A process of this machine named `comm` whose command line holds `needle`; null if none. */
function localPid(comm: string, needle: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== comm) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return null;
}

/** Runs SQL as a superuser on the bench's database; answers the rows. */
type Sql = (text: string) => Promise<Array<Record<string, unknown>>>;

export interface AuditCosts {
  records: number;
  /** This process, microseconds of CPU per record. */
  gatewayUsPerRecord: number;
  /** The message writer's Postgres backend, microseconds of CPU per record (null: not readable). */
  postgresUsPerRecord: number | null;
  /** The whole RabbitMQ broker (every queue it serves meanwhile), microseconds of CPU per record (null: no local broker). */
  brokerUsPerRecord: number | null;
  /** WAL bytes the server wrote per record (whole server). */
  walBytesPerRecord: number;
  batches: number;
  meanBatchRows: number;
  maxBatchRows: number;
  roundTripsPer100k: number;
  /** Batches sent behind one still committing; tries that found the head moved; tries again after an error. */
  pipelined: number;
  headMoved: number;
  retries: number;
  /** Mean time a batch waited for its commit's answer, in ms. */
  meanCommitWaitMs: number;
}

/** Starts measuring; `stop` is to be called before the trail is closed (its backend still there). */
export async function measureAudit(sql: Sql) {
  const lsn = async () => String((await sql(`SELECT pg_current_wal_lsn() AS l`))[0].l);
  const walFrom = await lsn();
  const cpuFrom = process.cpuUsage();
  const broker = rabbitmqPid();
  const brokerFrom = broker === null ? null : processCpuSeconds(broker);
  return {
    async stop(trail: AuditTrail, records: number): Promise<AuditCosts> {
      const cpu = process.cpuUsage(cpuFrom);
      const brokerTo = broker === null ? null : processCpuSeconds(broker);
      const stats = trail.stats().messages;
      // The writer's backend started within the run (it connects on the first batch).
      const pg = stats.backendPid === null ? null : processCpuSeconds(stats.backendPid);
      const wal = Number(
        (
          await sql(
            `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${walFrom}'::pg_lsn)::float8 AS b`,
          )
        )[0].b,
      );
      const per = (value: number) => value / Math.max(1, records);
      return {
        records,
        gatewayUsPerRecord: per(cpu.user + cpu.system),
        postgresUsPerRecord: pg === null ? null : per(pg * 1e6),
        brokerUsPerRecord:
          brokerFrom === null || brokerTo === null ? null : per((brokerTo - brokerFrom) * 1e6),
        walBytesPerRecord: per(wal),
        batches: stats.batches,
        meanBatchRows: stats.rows / Math.max(1, stats.batches),
        maxBatchRows: stats.maxBatchRows,
        roundTripsPer100k: (stats.roundTrips / Math.max(1, records)) * 100_000,
        pipelined: stats.pipelined,
        headMoved: stats.headMoved,
        retries: stats.retries,
        meanCommitWaitMs: stats.commitWaitMs / Math.max(1, stats.batches),
      };
    },
  };
}

/** One line: the columns every audit bench prints. */
export function costLine(c: AuditCosts): string {
  const us = (value: number | null) => (value === null ? 'n/a' : value.toFixed(1));
  const per100k = (value: number | null) =>
    value === null ? 'n/a' : `${((value * 100_000) / 1e6).toFixed(2)} s`;
  return (
    `CPU us/record: gateway ${us(c.gatewayUsPerRecord)}, postgres ${us(c.postgresUsPerRecord)}, broker ${us(c.brokerUsPerRecord)}` +
    ` (per 100k: ${per100k(c.gatewayUsPerRecord)} + ${per100k(c.postgresUsPerRecord)} + ${per100k(c.brokerUsPerRecord)});` +
    ` WAL ${c.walBytesPerRecord.toFixed(0)} B/record (whole server);` +
    ` ${c.batches} batches, mean ${c.meanBatchRows.toFixed(1)} rows, max ${c.maxBatchRows};` +
    ` ${c.pipelined} pipelined, ${c.headMoved} found the head moved, ${c.retries} retries;` +
    ` ${c.roundTripsPer100k.toFixed(0)} round trips per 100k; commit wait ${c.meanCommitWaitMs.toFixed(2)} ms per batch`
  );
}
