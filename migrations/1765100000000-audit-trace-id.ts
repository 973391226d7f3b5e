import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The W3C trace id of each message record (issue #14, traces): the trace the message travelled
 * in, from its `traceparent` or started by tracing. Null for the records written before, and for
 * messages that had none. Hashed into the chain only when set, so older rows verify as before.
 */
export class AuditTraceId1765100000000 implements MigrationInterface {
  name = 'AuditTraceId1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_messages ADD COLUMN trace_id text
      CHECK (trace_id ~ '^[0-9a-f]{32}$')`);
    // Every record of one trace, across routes: "what happened to this request?"
    await q.query(
      `CREATE INDEX audit_messages_trace_idx ON audit_messages (trace_id) WHERE trace_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_messages_trace_idx`);
    await q.query(`ALTER TABLE audit_messages DROP COLUMN trace_id`);
  }
}
