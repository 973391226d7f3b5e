import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The refresh token an OpenID provider issued at a user's last sign-in (sealed with a key
 * derived from the master key, bound to the user's id), and when the provider was last asked
 * whether the user's grant still stands: the provider check withdraws the roles of users the
 * provider no longer knows, as the directory check does for LDAP.
 */
export class ProviderRefreshToken1765160000000 implements MigrationInterface {
  name = 'ProviderRefreshToken1765160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN provider_token text`);
    await q.query(`ALTER TABLE users ADD COLUMN provider_checked_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN provider_checked_at`);
    await q.query(`ALTER TABLE users DROP COLUMN provider_token`);
  }
}
