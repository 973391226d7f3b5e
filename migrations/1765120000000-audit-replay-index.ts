import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The story of a message finds its replays by the message id in `deadletter.replayed` events
 * (an index over just those, on the parent: every day partition, present and to come, gets it),
 * and a bulk job's replays by the dead letters that hold the message id.
 */
export class AuditReplayIndex1765120000000 implements MigrationInterface {
  name = 'AuditReplayIndex1765120000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX audit_events_replay_message_idx ON audit_events ((details->>'messageId'), recorded_at, seq)
         WHERE type = 'deadletter.replayed'`,
    );
    await q.query(`CREATE INDEX dead_letters_message_idx ON dead_letters (message_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX dead_letters_message_idx`);
    await q.query(`DROP INDEX audit_events_replay_message_idx`);
  }
}
