import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bulk replays of dead letters as jobs any gateway process can run. The items a job covers are
 * fixed when it is created (so `total` means what it says), each with its own state, so a
 * process that resumes a job another one left (its lease expired) starts at the first item not
 * yet taken and replays nothing twice. The lease is a row lock-free claim: `lease_owner` and
 * `lease_until`, taken with FOR UPDATE SKIP LOCKED and renewed while the job runs.
 */
export class DeadLetterReplayJobs1765080000001 implements MigrationInterface {
  name = 'DeadLetterReplayJobs1765080000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE dead_letter_replay_jobs (
        id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        state            text NOT NULL DEFAULT 'queued'
                         CHECK (state IN ('queued', 'running', 'done', 'cancelled', 'failed')),
        filter           jsonb NOT NULL,
        route_version    integer,
        rate_per_second  double precision,
        total            integer NOT NULL,
        done             integer NOT NULL DEFAULT 0,
        failed           integer NOT NULL DEFAULT 0,
        started_by       text NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        started_at       timestamptz,
        finished_at      timestamptz,
        cancel_requested boolean NOT NULL DEFAULT false,
        lease_owner      text,
        lease_until      timestamptz,
        error            text
      )`);
    await q.query(
      `CREATE INDEX dead_letter_replay_jobs_created_idx ON dead_letter_replay_jobs (created_at DESC, id DESC)`,
    );
    await q.query(
      `CREATE INDEX dead_letter_replay_jobs_open_idx ON dead_letter_replay_jobs (created_at) WHERE state IN ('queued', 'running')`,
    );
    // No foreign key to dead_letters: a letter deleted while its job waits is skipped, not an error.
    await q.query(`
      CREATE TABLE dead_letter_replay_job_items (
        job_id         uuid NOT NULL REFERENCES dead_letter_replay_jobs (id) ON DELETE CASCADE,
        seq            integer NOT NULL,
        dead_letter_id uuid NOT NULL,
        state          text NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'started', 'replayed', 'failed')),
        replays_before integer,
        outcome        text,
        error          text,
        PRIMARY KEY (job_id, seq)
      )`);
    await q.query(
      `CREATE INDEX dead_letter_replay_job_items_pending_idx ON dead_letter_replay_job_items (job_id, seq) WHERE state = 'pending'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE dead_letter_replay_job_items`);
    await q.query(`DROP TABLE dead_letter_replay_jobs`);
  }
}
