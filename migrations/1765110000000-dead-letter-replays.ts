import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every replay of a dead letter, one row each (by hand or by a job): when, through which
 * version, what came of it, the error (card numbers redacted) and who asked. The dead letter
 * itself keeps only the count and the last error; an operator inspecting one sees every attempt.
 */
export class DeadLetterReplays1765110000000 implements MigrationInterface {
  name = 'DeadLetterReplays1765110000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE dead_letter_replays (
        id             bigserial PRIMARY KEY,
        dead_letter_id uuid NOT NULL REFERENCES dead_letters (id) ON DELETE CASCADE,
        replayed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
        route_version  integer,
        outcome        text NOT NULL,
        error          text,
        replayed_by    text,
        job_id         uuid
      )`);
    await q.query(
      `CREATE INDEX dead_letter_replays_letter_idx ON dead_letter_replays (dead_letter_id, id)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE dead_letter_replays`);
  }
}
