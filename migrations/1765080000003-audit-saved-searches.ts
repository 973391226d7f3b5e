import { MigrationInterface, QueryRunner } from 'typeorm';

/** Audit searches a user (or API key) saved for later: a name and the list's query parameters. */
export class AuditSavedSearches1765080000003 implements MigrationInterface {
  name = 'AuditSavedSearches1765080000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_saved_searches (
        id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner      text NOT NULL,
        name       text NOT NULL,
        kind       text NOT NULL CHECK (kind IN ('messages', 'events')),
        query      jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (owner, name)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_saved_searches`);
  }
}
