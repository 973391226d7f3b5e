import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which API key an API key or a user came from: a key made by a key, a user made by a key, or a
 * user made by a user that came from one. Revoking a leaked key with `cascade` ends what was made
 * through it too, which otherwise outlives it (a key minted by the leaked one acts for the leaked
 * key's owner; a user it made has a password its maker knows).
 */
export class KeyProvenance1765170000000 implements MigrationInterface {
  name = 'KeyProvenance1765170000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN created_by_key_id uuid`);
    await q.query(`ALTER TABLE users ADD COLUMN created_by_key_id uuid`);
    await q.query(
      `CREATE INDEX api_keys_created_by_key_idx ON api_keys (created_by_key_id) WHERE created_by_key_id IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX users_created_by_key_idx ON users (created_by_key_id) WHERE created_by_key_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX users_created_by_key_idx`);
    await q.query(`DROP INDEX api_keys_created_by_key_idx`);
    await q.query(`ALTER TABLE users DROP COLUMN created_by_key_id`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN created_by_key_id`);
  }
}
