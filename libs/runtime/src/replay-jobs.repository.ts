import { DataSource } from 'typeorm';
import { JunctionError } from '@junction/common';
import { DeadLetterEntity } from './dead-letter.entity';
import { DeadLetterFilter, whereDeadLetters } from './dead-letters.repository';

/**
 * Replay jobs open (queued or running) at once, gateway-wide: each holds a row per dead letter it
 * covers, and they run one at a time per process anyway (a bound, not a tuning knob).
 */
export const MAX_OPEN_REPLAY_JOBS = 20;

/**
 * Dead letters one replay job may cover. Its items are copied in one statement when it is made:
 * over millions of letters that statement held the database for minutes and the job a row per
 * letter. A larger backlog is replayed by several jobs, each over a narrower filter (a time
 * window, a reason code); a dry run tells how many a filter matches.
 */
export const MAX_REPLAY_JOB_ITEMS = 100_000;

export type ReplayJobState = 'queued' | 'running' | 'done' | 'cancelled' | 'failed';

/** The filter as stored with a job (dates as ISO text). */
export interface StoredFilter {
  routeId?: string;
  reasonCodes?: string[];
  from?: string;
  to?: string;
  q?: string;
}

export interface ReplayJobRow {
  id: string;
  state: ReplayJobState;
  filter: StoredFilter;
  routeVersion: number | null;
  /** The route's active version when a job pinned to `routeVersion` was made (else null). */
  routeActiveVersion: number | null;
  /** The count of the route's activations then (RouteEntity.activations; null: not pinned, or older). */
  routeActivations: number | null;
  ratePerSecond: number | null;
  total: number;
  done: number;
  failed: number;
  startedBy: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  cancelRequested: boolean;
  leaseOwner: string | null;
  error: string | null;
}

export interface ClaimedItem {
  seq: number;
  deadLetterId: string;
}

const COLUMNS = `id, state, filter, route_version AS "routeVersion",
  route_active_version AS "routeActiveVersion", route_activations AS "routeActivations",
  rate_per_second AS "ratePerSecond",
  total, done, failed, started_by AS "startedBy", created_at AS "createdAt", started_at AS "startedAt",
  finished_at AS "finishedAt", cancel_requested AS "cancelRequested", lease_owner AS "leaseOwner", error`;

export function storedFilter(filter: DeadLetterFilter): StoredFilter {
  return {
    ...(filter.routeId ? { routeId: filter.routeId } : {}),
    ...(filter.reasonCodes ? { reasonCodes: filter.reasonCodes } : {}),
    ...(filter.from ? { from: filter.from.toISOString() } : {}),
    ...(filter.to ? { to: filter.to.toISOString() } : {}),
    ...(filter.q ? { q: filter.q } : {}),
  };
}

/**
 * Replay jobs and their items. Every step of a running job is fenced by its lease: a process
 * whose lease expired (and was taken over) can neither take another item nor finish the job.
 */
export class ReplayJobsRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Creates a job over every dead letter the filter matches now (oldest first); returns its id.
   * One job is made at a time (gateway-wide: another caller is told to send again, not queued
   * on a connection), and at most MAX_OPEN_REPLAY_JOBS are open, since each holds a row per
   * dead letter it covers until it ends.
   */
  async create(job: {
    filter: DeadLetterFilter;
    routeVersion: number | null;
    routeActiveVersion: number | null;
    routeActivations: number | null;
    ratePerSecond: number | null;
    startedBy: string;
  }): Promise<string> {
    return this.db.transaction(async (m) => {
      const [{ locked }] = (await m.query(
        `SELECT pg_try_advisory_xact_lock(hashtext('junction.replay-jobs.create')) AS locked`,
      )) as Array<{ locked: boolean }>;
      if (!locked)
        throw new JunctionError(
          'SATURATED',
          'another replay job is being created just now; send the request again in a moment',
          undefined,
          { retryAfterSeconds: 2 },
        );
      const [{ open }] = (await m.query(
        `SELECT count(*)::int AS open FROM dead_letter_replay_jobs WHERE state IN ('queued', 'running')`,
      )) as Array<{ open: number }>;
      if (open >= MAX_OPEN_REPLAY_JOBS)
        throw new JunctionError(
          'CONFLICT',
          `${open} replay jobs are open (queued or running), the most there may be at once; wait for one to end, or cancel one`,
          { code: 'TOO_MANY_REPLAY_JOBS', open, max: MAX_OPEN_REPLAY_JOBS },
        );
      const letters = () =>
        whereDeadLetters(m.getRepository(DeadLetterEntity).createQueryBuilder('d'), job.filter);
      // Counted no further than one past the most a job takes (no order: it stops there).
      const [counting, countParams] = letters()
        .select('1')
        .limit(MAX_REPLAY_JOB_ITEMS + 1)
        .getQueryAndParameters();
      const [{ matched }] = (await m.query(
        `SELECT count(*)::int AS matched FROM (${counting}) s`,
        countParams,
      )) as Array<{ matched: number }>;
      if (matched > MAX_REPLAY_JOB_ITEMS)
        throw new JunctionError(
          'BAD_REQUEST',
          `the filter matches more than ${MAX_REPLAY_JOB_ITEMS} dead letters, the most one replay job takes: narrow it (filter.from and filter.to, filter.reasonCode, filter.routeId) and replay the rest with further jobs (a dry run counts what a filter matches)`,
          { code: 'REPLAY_JOB_TOO_LARGE', max: MAX_REPLAY_JOB_ITEMS },
        );
      const [{ id }] = (await m.query(
        `INSERT INTO dead_letter_replay_jobs
           (filter, route_version, route_active_version, route_activations, rate_per_second,
            total, started_by)
         VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING id`,
        [
          JSON.stringify(storedFilter(job.filter)),
          job.routeVersion,
          job.routeActiveVersion,
          job.routeActivations,
          job.ratePerSecond,
          job.startedBy,
        ],
      )) as Array<{ id: string }>;
      const [select, params] = letters()
        .select('d.id', 'id')
        .orderBy('d.createdAt', 'ASC')
        .addOrderBy('d.id', 'ASC')
        .limit(MAX_REPLAY_JOB_ITEMS)
        .getQueryAndParameters();
      const n = params.length;
      await m.query(
        `INSERT INTO dead_letter_replay_job_items (job_id, seq, dead_letter_id)
         SELECT $${n + 1}, row_number() OVER ()::int, s.id FROM (${select}) s`,
        [...params, id],
      );
      await m.query(
        `UPDATE dead_letter_replay_jobs
            SET total = (SELECT count(*) FROM dead_letter_replay_job_items WHERE job_id = $1)
          WHERE id = $1`,
        [id],
      );
      return id;
    });
  }

  async count(filter: DeadLetterFilter): Promise<number> {
    return whereDeadLetters(
      this.db.getRepository(DeadLetterEntity).createQueryBuilder('d'),
      filter,
    ).getCount();
  }

  async find(id: string): Promise<ReplayJobRow | null> {
    const rows = (await this.db.query(
      `SELECT ${COLUMNS} FROM dead_letter_replay_jobs WHERE id = $1`,
      [id],
    )) as ReplayJobRow[];
    return rows[0] ?? null;
  }

  list(limit: number, state?: ReplayJobState): Promise<ReplayJobRow[]> {
    return this.db.query(
      `SELECT ${COLUMNS} FROM dead_letter_replay_jobs
        WHERE ($2::text IS NULL OR state = $2)
        ORDER BY created_at DESC, id DESC LIMIT $1`,
      [limit, state ?? null],
    ) as Promise<ReplayJobRow[]>;
  }

  /**
   * Asks a job to stop. A queued one (or one whose lease lapsed) is cancelled here and now and
   * answers `cancelled: true`; a running one stops before its next item.
   */
  async requestCancel(id: string): Promise<{ cancelledNow: boolean } | null> {
    // Cancelled here and now: its items go in the same statement (see `end`).
    const rows = (await this.db.query(
      `WITH changed AS (
         UPDATE dead_letter_replay_jobs
            SET cancel_requested = true,
                state = CASE WHEN lease_until IS NULL OR lease_until < now() THEN 'cancelled' ELSE state END,
                finished_at = CASE WHEN lease_until IS NULL OR lease_until < now() THEN now() ELSE finished_at END,
                lease_owner = CASE WHEN lease_until IS NULL OR lease_until < now() THEN NULL ELSE lease_owner END
          WHERE id = $1 AND state IN ('queued', 'running')
          RETURNING id, state),
       dropped AS (
         DELETE FROM dead_letter_replay_job_items
          WHERE job_id IN (SELECT id FROM changed WHERE state = 'cancelled'))
       SELECT state FROM changed`,
      [id],
    )) as [Array<{ state: string }>, number] | Array<{ state: string }>;
    const list = Array.isArray(rows[0])
      ? (rows[0] as Array<{ state: string }>)
      : (rows as Array<{ state: string }>);
    if (list.length === 0) return (await this.find(id)) ? { cancelledNow: false } : null;
    return { cancelledNow: list[0]!.state === 'cancelled' };
  }

  /**
   * Takes the oldest open job whose lease is free or expired: a job another process left is
   * resumed here. Items a dead process had taken but not finished are settled first.
   */
  async claim(owner: string, leaseMs: number): Promise<ReplayJobRow | null> {
    return this.db.transaction(async (m) => {
      const rows = (await m.query(
        `SELECT id FROM dead_letter_replay_jobs
          WHERE state IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < now())
          ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
      )) as Array<{ id: string }>;
      if (rows.length === 0) return null;
      const id = rows[0]!.id;
      await m.query(
        `UPDATE dead_letter_replay_jobs
            SET state = 'running', lease_owner = $2,
                lease_until = now() + $3 * interval '1 millisecond',
                started_at = coalesce(started_at, now())
          WHERE id = $1`,
        [id, owner, leaseMs],
      );
      await this.settleOrphans(m.query.bind(m), id);
      const [job] = (await m.query(`SELECT ${COLUMNS} FROM dead_letter_replay_jobs WHERE id = $1`, [
        id,
      ])) as ReplayJobRow[];
      return job ?? null;
    });
  }

  /**
   * An item a process took and never finished (it died mid-replay): replayed if the dead letter
   * counts a replay more than when it was taken, otherwise failed as interrupted. It is never
   * replayed again: the dead process may have delivered it without recording so.
   */
  private async settleOrphans(
    query: (sql: string, params?: unknown[]) => Promise<unknown>,
    jobId: string,
  ): Promise<void> {
    await query(
      `WITH settled AS (
         UPDATE dead_letter_replay_job_items i
            SET state = CASE WHEN d.replays > i.replays_before AND d.last_replay_error IS NULL
                             THEN 'replayed' ELSE 'failed' END,
                outcome = CASE WHEN d.replays > i.replays_before AND d.last_replay_error IS NULL
                               THEN 'replayed' ELSE 'interrupted' END,
                error = CASE WHEN d.replays > i.replays_before AND d.last_replay_error IS NULL THEN NULL
                             ELSE 'INTERRUPTED: the process replaying it stopped; not replayed again (it may have been delivered); replay it alone if needed' END
           FROM dead_letters d
          WHERE i.job_id = $1 AND i.state = 'started' AND d.id = i.dead_letter_id
          RETURNING i.state)
       UPDATE dead_letter_replay_jobs
          SET done = done + (SELECT count(*) FROM settled WHERE state = 'replayed'),
              failed = failed + (SELECT count(*) FROM settled WHERE state = 'failed')
        WHERE id = $1`,
      [jobId],
    );
    // The dead letter itself is gone (deleted, or replayed and removed): nothing to tell.
    await query(
      `WITH gone AS (
         UPDATE dead_letter_replay_job_items i SET state = 'failed', outcome = 'interrupted',
                error = 'INTERRUPTED: the process replaying it stopped'
          WHERE i.job_id = $1 AND i.state = 'started'
          RETURNING 1)
       UPDATE dead_letter_replay_jobs SET failed = failed + (SELECT count(*) FROM gone) WHERE id = $1`,
      [jobId],
    );
  }

  /**
   * Renews the lease; false when it is no longer this owner's (expired and taken over, or the
   * job finished). Also says whether a cancel was asked.
   */
  async renew(
    id: string,
    owner: string,
    leaseMs: number,
  ): Promise<{ held: boolean; cancelRequested: boolean }> {
    const rows = (await this.db.query(
      `UPDATE dead_letter_replay_jobs SET lease_until = now() + $3 * interval '1 millisecond'
        WHERE id = $1 AND lease_owner = $2 AND lease_until > now() AND state = 'running'
        RETURNING cancel_requested AS "cancelRequested"`,
      [id, owner, leaseMs],
    )) as [Array<{ cancelRequested: boolean }>, number];
    const list = rows[0];
    if (!list || list.length === 0) return { held: false, cancelRequested: false };
    return { held: true, cancelRequested: list[0]!.cancelRequested };
  }

  /**
   * Takes the next item, only while the lease is this owner's and no cancel was asked: the
   * fence that keeps a process that lost its lease from replaying anything more.
   */
  async takeNext(id: string, owner: string): Promise<ClaimedItem | null> {
    const rows = (await this.db.query(
      `UPDATE dead_letter_replay_job_items i
          SET state = 'started',
              replays_before = coalesce((SELECT replays FROM dead_letters d WHERE d.id = i.dead_letter_id), 0)
        WHERE i.job_id = $1
          AND i.seq = (SELECT min(seq) FROM dead_letter_replay_job_items WHERE job_id = $1 AND state = 'pending')
          AND EXISTS (SELECT 1 FROM dead_letter_replay_jobs j
                       WHERE j.id = $1 AND j.lease_owner = $2 AND j.lease_until > now()
                         AND j.state = 'running' AND NOT j.cancel_requested)
        RETURNING i.seq, i.dead_letter_id AS "deadLetterId"`,
      [id, owner],
    )) as [ClaimedItem[], number];
    return rows[0]?.[0] ?? null;
  }

  async hasPending(id: string): Promise<boolean> {
    const rows = (await this.db.query(
      `SELECT 1 FROM dead_letter_replay_job_items WHERE job_id = $1 AND state = 'pending' LIMIT 1`,
      [id],
    )) as unknown[];
    return rows.length > 0;
  }

  /** Records an item's result and counts it on the job. */
  async finishItem(
    id: string,
    seq: number,
    result: { ok: boolean; outcome: string; error: string | null },
  ): Promise<void> {
    await this.db.query(
      `WITH item AS (
         UPDATE dead_letter_replay_job_items SET state = $3, outcome = $4, error = $5
          WHERE job_id = $1 AND seq = $2 AND state = 'started' RETURNING 1)
       UPDATE dead_letter_replay_jobs
          SET done = done + CASE WHEN $3 = 'replayed' THEN (SELECT count(*) FROM item) ELSE 0 END,
              failed = failed + CASE WHEN $3 = 'failed' THEN (SELECT count(*) FROM item) ELSE 0 END
        WHERE id = $1`,
      [id, seq, result.ok ? 'replayed' : 'failed', result.outcome, result.error],
    );
  }

  /**
   * Ends a job this owner holds; false when the lease was lost meanwhile. Its items go in the
   * same statement: nothing reads them once it has ended (its counts are on the job, each
   * replay is in the audit trail), and kept they would let a loop of create and cancel grow the
   * table by a row per dead letter each time.
   */
  async end(
    id: string,
    owner: string,
    state: 'done' | 'cancelled' | 'failed',
    error: string | null = null,
  ): Promise<boolean> {
    const rows = (await this.db.query(
      `WITH ended AS (
         UPDATE dead_letter_replay_jobs
            SET state = $3, finished_at = now(), lease_owner = NULL, lease_until = NULL, error = $4
          WHERE id = $1 AND lease_owner = $2 AND state = 'running'
          RETURNING id),
       dropped AS (DELETE FROM dead_letter_replay_job_items WHERE job_id IN (SELECT id FROM ended))
       SELECT id FROM ended`,
      [id, owner, state, error],
    )) as unknown[];
    return rows.length > 0;
  }

  /** Gives a lease back at shutdown, so another process resumes the job at once. */
  async release(id: string, owner: string): Promise<void> {
    await this.db.query(
      `UPDATE dead_letter_replay_jobs SET lease_until = now() WHERE id = $1 AND lease_owner = $2 AND state = 'running'`,
      [id, owner],
    );
  }
}
