import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A connection's type is a kind of the CONNECTORS map (amqp10 among them), which the API checks
 * on every write: the table stops listing the kinds (each protocol would need a migration) and
 * keeps a shape check. The MQTT work adds the same rule (ConnectionKinds1765140000000): this
 * one is written to run before or after it, or alone.
 */
export class ConnectionKindShape1765150000000 implements MigrationInterface {
  name = 'ConnectionKindShape1765150000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE connections DROP CONSTRAINT IF EXISTS connections_type_check`);
    await q.query(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'connections_type_kind') THEN
          ALTER TABLE connections
            ADD CONSTRAINT connections_type_kind CHECK (type ~ '^[a-z][a-z0-9]{0,31}$');
        END IF;
      END $$`);
  }

  async down(): Promise<void> {
    // Nothing: the shape check may be the MQTT migration's, and a kind list would refuse the
    // amqp10 connections stored meanwhile.
  }
}
