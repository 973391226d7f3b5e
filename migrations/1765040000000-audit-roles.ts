import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail under split database roles: the schema owner runs migrations, the gateway's
 * runtime role is not the owner, so it can neither ALTER nor DROP an audit table nor disable its
 * triggers. What the runtime role still has to do that needs the owner's rights goes through
 * SECURITY DEFINER functions that check their caller:
 *
 * - `audit_drop_partition(parent, partition)`: retention. The owner (or a superuser) may drop any
 *   day; any other caller only a day older than the owner's policy (`audit_set_retention`, kept in
 *   a table only the owner can write). Before the drop, where the day's chain ended is kept in
 *   `audit_chain_anchors` so that the rest still verifies.
 * - `audit_ensure_partition(day)` (made by the audit trail migration) makes day partitions.
 *
 * Also an index on `seq`, for checking the rows a signed anchor covers by their place in the chain.
 */
export class AuditRoles1765040000000 implements MigrationInterface {
  name = 'AuditRoles1765040000000';

  async up(q: QueryRunner): Promise<void> {
    const [{ schema }] = (await q.query(`SELECT current_schema() AS schema`)) as Array<{
      schema: string;
    }>;
    const schemaIdent = `"${schema.replace(/"/g, '""')}"`;
    await q.query(`CREATE INDEX audit_messages_seq_idx ON audit_messages (seq)`);
    await q.query(`CREATE INDEX audit_events_seq_idx ON audit_events (seq)`);

    await q.query(`
      CREATE TABLE audit_retention_policy (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        keep_days integer CHECK (keep_days IS NULL OR keep_days >= 1)
      )`);
    await q.query(`INSERT INTO audit_retention_policy (keep_days) VALUES (NULL)`);
    await q.query(`REVOKE ALL ON audit_retention_policy FROM PUBLIC`);

    // Owner only (no EXECUTE for anyone else): the runtime role may apply the policy, never set it.
    await q.query(`
      CREATE FUNCTION audit_set_retention(days integer) RETURNS void
      LANGUAGE sql SECURITY INVOKER AS $$
        UPDATE audit_retention_policy SET keep_days = days
      $$`);
    await q.query(`REVOKE ALL ON FUNCTION audit_set_retention(integer) FROM PUBLIC`);

    await q.query(`
      CREATE FUNCTION audit_drop_partition(parent text, part text) RETURNS boolean
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = ${schemaIdent}, pg_temp AS $$
      DECLARE
        day date;
        keep integer;
        owner_oid oid;
        last record;
      BEGIN
        IF parent NOT IN ('audit_messages', 'audit_events') OR part !~ ('^' || parent || '_p[0-9]{8}$') THEN
          RAISE EXCEPTION 'not an audit day partition: %', part USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = parent::regclass AND c.relname = part
                          AND c.relnamespace = current_schema()::regnamespace) THEN
          RETURN false;
        END IF;
        day := to_date(right(part, 8), 'YYYYMMDD');
        SELECT relowner INTO owner_oid FROM pg_class WHERE oid = parent::regclass;
        -- session_user: whoever logged in, whatever SET ROLE it did since.
        IF NOT pg_has_role(session_user, owner_oid, 'USAGE') THEN
          SELECT keep_days INTO keep FROM audit_retention_policy;
          IF keep IS NULL OR day >= (now() AT TIME ZONE 'UTC')::date - keep THEN
            RAISE EXCEPTION 'the retention policy (% days) keeps %', coalesce(keep::text, 'all'), part
              USING ERRCODE = 'insufficient_privilege';
          END IF;
        END IF;
        EXECUTE format('SELECT seq, hash, recorded_at FROM %I ORDER BY recorded_at DESC, seq DESC LIMIT 1', part)
          INTO last;
        IF last.seq IS NOT NULL THEN
          INSERT INTO audit_chain_anchors (table_name, seq, hash, recorded_at, reason)
            VALUES (parent, last.seq, last.hash, last.recorded_at, 'retention dropped ' || part)
            ON CONFLICT DO NOTHING;
        END IF;
        EXECUTE format('DROP TABLE %I', part);
        RETURN true;
      END $$`);
    await q.query(`REVOKE ALL ON FUNCTION audit_drop_partition(text, text) FROM PUBLIC`);
    await q.query(
      `GRANT EXECUTE ON FUNCTION audit_drop_partition(text, text) TO junction_audit_writer`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION audit_drop_partition(text, text)`);
    await q.query(`DROP FUNCTION audit_set_retention(integer)`);
    await q.query(`DROP TABLE audit_retention_policy`);
    await q.query(`DROP INDEX audit_events_seq_idx`);
    await q.query(`DROP INDEX audit_messages_seq_idx`);
  }
}
