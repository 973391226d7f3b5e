import { MigrationInterface, QueryRunner } from 'typeorm';

/** Messages that could not be delivered: kept encrypted for inspection and replay. */
export class DeadLetters1764170000000 implements MigrationInterface {
  name = 'DeadLetters1764170000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE dead_letters (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        message_id        text NOT NULL,
        route_id          text NOT NULL,
        route_version     integer NOT NULL,
        source            jsonb NOT NULL,
        reason_code       text NOT NULL,
        reason            text NOT NULL,
        failed_at         text,
        attempts          integer NOT NULL,
        sealed            text NOT NULL,
        payload_sha256    text NOT NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        replayed_at       timestamptz,
        replays           integer NOT NULL DEFAULT 0,
        last_replay_error text
      )`);
    await q.query(
      `CREATE INDEX dead_letters_route_created_idx ON dead_letters (route_id, created_at DESC)`,
    );
    await q.query(`CREATE INDEX dead_letters_created_idx ON dead_letters (created_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE dead_letters`);
  }
}
