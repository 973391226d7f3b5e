import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The route's active version when a replay job pinned to a version was made. A job through a
 * version that is not the active one was approved for the route as it then ran: once another
 * version is activated (a rollback from the pinned one, say), the job stops instead of replaying
 * on through a version someone took out of service. Null for jobs that follow the active version,
 * and for pinned jobs made before this column (those are held to the sample guard only).
 */
export class ReplayJobApprovedActive1765180000000 implements MigrationInterface {
  name = 'ReplayJobApprovedActive1765180000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letter_replay_jobs ADD COLUMN route_active_version integer`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letter_replay_jobs DROP COLUMN route_active_version`);
  }
}
