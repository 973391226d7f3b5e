import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A dead letter names the version that failed it by incarnation and number: a route id deleted
 * and created again counts its versions from 1 again. Existing rows are of the first incarnation
 * (before this, a re-created id went on numbering, so their numbers are unambiguous).
 */
export class DeadLetterIncarnation1765020000001 implements MigrationInterface {
  name = 'DeadLetterIncarnation1765020000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE dead_letters ADD COLUMN route_incarnation integer NOT NULL DEFAULT 1`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letters DROP COLUMN route_incarnation`);
  }
}
