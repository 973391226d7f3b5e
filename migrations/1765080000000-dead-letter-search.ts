import { MigrationInterface, QueryRunner } from 'typeorm';
import { redactPanText } from '@junction/pipeline';

/**
 * Dead letters are searched by their reason text, and a reason may quote a card number (a
 * validation message that echoes a field): the search runs over a copy with card numbers
 * redacted, never over the original, so a query cannot probe for a number. Existing rows get
 * their redacted copy here (the PAN detector is TypeScript, not SQL). Also indexes for the
 * console's filters and counts.
 */
export class DeadLetterSearch1765080000000 implements MigrationInterface {
  name = 'DeadLetterSearch1765080000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letters ADD COLUMN reason_redacted text`);
    for (;;) {
      const rows = (await q.query(
        `SELECT id, reason FROM dead_letters WHERE reason_redacted IS NULL LIMIT 1000`,
      )) as Array<{ id: string; reason: string }>;
      if (rows.length === 0) break;
      await q.query(
        `UPDATE dead_letters d SET reason_redacted = v.r
           FROM unnest($1::uuid[], $2::text[]) AS v(id, r) WHERE d.id = v.id`,
        [rows.map((r) => r.id), rows.map((r) => redactPanText(r.reason))],
      );
    }
    await q.query(`ALTER TABLE dead_letters ALTER COLUMN reason_redacted SET NOT NULL`);
    await q.query(
      `CREATE INDEX dead_letters_reason_created_idx ON dead_letters (reason_code, created_at DESC, id DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX dead_letters_reason_created_idx`);
    await q.query(`ALTER TABLE dead_letters DROP COLUMN reason_redacted`);
  }
}
