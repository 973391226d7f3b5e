import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Credentials that die with their owner, and sign-in limits that every gateway process shares.
 *
 * - `api_keys.owner_id`: the user a key acts for. A key is honoured only while its owner exists
 *   and is enabled, and never with more roles than the owner holds now. Keys made before this
 *   migration get the user whose name is their `created_by` (when exactly one user has it); a key
 *   left without an owner is refused until an admin makes a new one.
 * - `login_throttle`: one row per counted thing (`ip:<address>`, `account:<provider>:<name>`),
 *   updated in place with one atomic upsert per attempt, so two processes count together.
 */
export class AccountHardening1765030000000 implements MigrationInterface {
  name = 'AccountHardening1765030000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE api_keys ADD COLUMN owner_id uuid REFERENCES users (id) ON DELETE SET NULL`,
    );
    await q.query(`
      UPDATE api_keys k SET owner_id = (SELECT u.id FROM users u WHERE u.username = k.created_by)
        WHERE (SELECT count(*) FROM users u WHERE u.username = k.created_by) = 1`);
    await q.query(`CREATE INDEX api_keys_owner_idx ON api_keys (owner_id)`);
    await q.query(`
      CREATE TABLE login_throttle (
        key          text PRIMARY KEY,
        window_start timestamptz NOT NULL,
        failures     integer NOT NULL DEFAULT 0,
        locked_until timestamptz,
        lockouts     integer NOT NULL DEFAULT 0,
        updated_at   timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX login_throttle_updated_idx ON login_throttle (updated_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE login_throttle`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN owner_id`);
  }
}
