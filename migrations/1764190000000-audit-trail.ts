import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail: what happened to every message (`audit_messages`) and who did what
 * (`audit_events`). Both are partitioned by day of `recorded_at`, hash-chained in `seq` order,
 * and append-only:
 *
 * - The gateway writes them only through sessions that `SET ROLE junction_audit_writer`, a
 *   NOLOGIN role made here that may SELECT and INSERT audit rows, move the chain heads forward
 *   and create day partitions (through a SECURITY DEFINER function), and nothing else: no
 *   UPDATE, DELETE or TRUNCATE, whoever the gateway connects as (a superuser included).
 * - Triggers refuse UPDATE, DELETE and TRUNCATE on audit rows for every other session too, the
 *   owner's and a superuser's included (short of disabling triggers, which tamper evidence, the
 *   hash chain, then shows).
 * - Retention drops whole day partitions (the owner's job), never deletes rows; the chain
 *   position where a dropped day ended is kept in `audit_chain_anchors` so that verification
 *   still proves the rest.
 */
export class AuditTrail1764190000000 implements MigrationInterface {
  name = 'AuditTrail1764190000000';

  async up(q: QueryRunner): Promise<void> {
    const [{ schema }] = (await q.query(`SELECT current_schema() AS schema`)) as Array<{
      schema: string;
    }>;
    const schemaIdent = `"${schema.replace(/"/g, '""')}"`;

    // Roles are cluster-wide: the first database to migrate makes it, the others reuse it.
    await q.query(`
      DO $$
      DECLARE
        hint text := format(
          'as a superuser: CREATE ROLE junction_audit_writer NOLOGIN; GRANT junction_audit_writer TO %I;',
          current_user);
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'junction_audit_writer') THEN
          BEGIN
            CREATE ROLE junction_audit_writer NOLOGIN;
          EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL; -- made meanwhile by another migration
            WHEN insufficient_privilege THEN
              RAISE EXCEPTION 'the audit trail needs the role junction_audit_writer, and % may not create roles', current_user
                USING HINT = hint;
          END;
        END IF;
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
          IF current_setting('server_version_num')::int >= 160000 THEN
            IF NOT pg_has_role(current_user, 'junction_audit_writer', 'SET') THEN
              BEGIN
                EXECUTE format('GRANT junction_audit_writer TO %I WITH SET TRUE', current_user);
              EXCEPTION WHEN insufficient_privilege THEN
                RAISE EXCEPTION '% must be able to SET ROLE junction_audit_writer', current_user USING HINT = hint;
              END;
            END IF;
          ELSIF NOT pg_has_role(current_user, 'junction_audit_writer', 'MEMBER') THEN
            BEGIN
              EXECUTE format('GRANT junction_audit_writer TO %I', current_user);
            EXCEPTION WHEN insufficient_privilege THEN
              RAISE EXCEPTION '% must be a member of junction_audit_writer', current_user USING HINT = hint;
            END;
          END IF;
        END IF;
      END $$`);

    await q.query(`
      CREATE FUNCTION junction_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);

    await q.query(`
      CREATE TABLE audit_messages (
        seq            bigint      NOT NULL,
        recorded_at    timestamptz NOT NULL,
        message_id     text        NOT NULL,
        route_id       text        NOT NULL,
        route_version  integer     NOT NULL,
        source         jsonb       NOT NULL,
        outcome        text        NOT NULL
          CHECK (outcome IN ('delivered', 'filtered', 'unroutable', 'dead-lettered', 'replayed')),
        destinations   jsonb       NOT NULL,
        targets        text[]      NOT NULL,
        attempts       integer     NOT NULL,
        received_at    timestamptz NOT NULL,
        done_at        timestamptz NOT NULL,
        error_code     text,
        error_message  text,
        error_where    text,
        body           jsonb,
        payload_sha256 bytea       NOT NULL,
        prev_hash      bytea       NOT NULL,
        hash           bytea       NOT NULL,
        PRIMARY KEY (recorded_at, seq),
        -- Milliseconds, as the writer makes them: a (recorded_at, seq) cursor is then exact.
        CHECK (recorded_at = date_trunc('milliseconds', recorded_at))
      ) PARTITION BY RANGE (recorded_at)`);
    // Newest first everywhere: (recorded_at, seq) is the chain order and the paging key.
    await q.query(`CREATE INDEX audit_messages_message_idx ON audit_messages (message_id)`);
    await q.query(
      `CREATE INDEX audit_messages_route_idx ON audit_messages (route_id, recorded_at, seq)`,
    );
    // What went wrong on a route (a tenth of the rows at most): a small index, cheap to keep.
    await q.query(`
      CREATE INDEX audit_messages_route_outcome_idx ON audit_messages (route_id, outcome, recorded_at, seq)
        WHERE outcome <> 'delivered'`);

    await q.query(`
      CREATE TABLE audit_events (
        seq          bigint      NOT NULL,
        recorded_at  timestamptz NOT NULL,
        occurred_at  timestamptz NOT NULL,
        type         text        NOT NULL,
        outcome      text        NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
        actor        text        NOT NULL,
        actor_kind   text,
        provider     text,
        ip           text,
        target_type  text,
        target_id    text,
        details      jsonb       NOT NULL,
        before       jsonb,
        after        jsonb,
        diff         jsonb,
        prev_hash    bytea       NOT NULL,
        hash         bytea       NOT NULL,
        PRIMARY KEY (recorded_at, seq),
        CHECK (recorded_at = date_trunc('milliseconds', recorded_at))
      ) PARTITION BY RANGE (recorded_at)`);
    await q.query(`CREATE INDEX audit_events_type_idx ON audit_events (type, recorded_at, seq)`);
    await q.query(`CREATE INDEX audit_events_actor_idx ON audit_events (actor, recorded_at, seq)`);
    await q.query(
      `CREATE INDEX audit_events_target_idx ON audit_events (target_type, target_id, recorded_at, seq)`,
    );

    for (const table of ['audit_messages', 'audit_events']) {
      await q.query(`
        CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table}
          FOR EACH ROW EXECUTE FUNCTION junction_audit_append_only()`);
      await q.query(`
        CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
          FOR EACH STATEMENT EXECUTE FUNCTION junction_audit_append_only()`);
    }

    // One row per chain: locked by each batch, so that appends from several processes serialise.
    await q.query(`
      CREATE TABLE audit_chain_heads (
        table_name  text PRIMARY KEY CHECK (table_name IN ('audit_messages', 'audit_events')),
        seq         bigint      NOT NULL,
        hash        bytea       NOT NULL,
        recorded_at timestamptz NOT NULL
      )`);
    await q.query(`
      INSERT INTO audit_chain_heads (table_name, seq, hash, recorded_at) VALUES
        ('audit_messages', 0, decode(repeat('00', 32), 'hex'), 'epoch'),
        ('audit_events',   0, decode(repeat('00', 32), 'hex'), 'epoch')`);
    await q.query(`
      CREATE FUNCTION junction_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'UPDATE' OR NEW.table_name <> OLD.table_name OR NEW.seq < OLD.seq
           OR NEW.recorded_at < OLD.recorded_at THEN
          RAISE EXCEPTION 'audit chain heads only move forward' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_chain_heads_forward BEFORE UPDATE OR DELETE ON audit_chain_heads
        FOR EACH ROW EXECUTE FUNCTION junction_audit_head_forward()`);
    await q.query(`
      CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads
        FOR EACH STATEMENT EXECUTE FUNCTION junction_audit_append_only()`);

    // Where a dropped (retention) day ended: the chain goes on from there.
    await q.query(`
      CREATE TABLE audit_chain_anchors (
        table_name  text        NOT NULL,
        seq         bigint      NOT NULL,
        hash        bytea       NOT NULL,
        recorded_at timestamptz NOT NULL,
        reason      text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (table_name, seq)
      )`);
    await q.query(`
      CREATE TRIGGER audit_chain_anchors_append_only BEFORE UPDATE OR DELETE ON audit_chain_anchors
        FOR EACH ROW EXECUTE FUNCTION junction_audit_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_chain_anchors_no_truncate BEFORE TRUNCATE ON audit_chain_anchors
        FOR EACH STATEMENT EXECUTE FUNCTION junction_audit_append_only()`);

    // Day partitions, made ahead by the gateway and on demand by the writer (which may not run
    // DDL itself: this runs with the owner's rights, for a date near today only).
    await q.query(`
      CREATE FUNCTION audit_ensure_partition(day date) RETURNS void
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = ${schemaIdent}, pg_temp AS $$
      DECLARE
        parent text;
        part text;
      BEGIN
        IF day IS NULL OR day < current_date - 31 OR day > current_date + 366 THEN
          RAISE EXCEPTION 'audit partitions are made for days near today, not %', day;
        END IF;
        FOREACH parent IN ARRAY ARRAY['audit_messages', 'audit_events'] LOOP
          part := parent || '_p' || to_char(day, 'YYYYMMDD');
          CONTINUE WHEN to_regclass(part) IS NOT NULL;
          BEGIN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent,
              (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION junction_audit_append_only()',
              part || '_no_truncate', part);
          EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL; -- another process made it meanwhile
          END;
        END LOOP;
      END $$`);
    await q.query(`REVOKE ALL ON FUNCTION audit_ensure_partition(date) FROM PUBLIC`);
    await q.query(
      `GRANT EXECUTE ON FUNCTION audit_ensure_partition(date) TO junction_audit_writer`,
    );
    for (let day = -1; day <= 2; day++) {
      await q.query(`SELECT audit_ensure_partition((now() AT TIME ZONE 'UTC')::date + $1::int)`, [
        day,
      ]);
    }

    await q.query(`GRANT USAGE ON SCHEMA ${schemaIdent} TO junction_audit_writer`);
    await q.query(`GRANT SELECT, INSERT ON audit_messages, audit_events TO junction_audit_writer`);
    await q.query(
      `GRANT SELECT, UPDATE (seq, hash, recorded_at) ON audit_chain_heads TO junction_audit_writer`,
    );
    await q.query(`GRANT SELECT ON audit_chain_anchors TO junction_audit_writer`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Only an empty trail should ever be rolled back; the role stays (other databases may use it).
    await q.query(
      `DROP TABLE audit_messages, audit_events, audit_chain_heads, audit_chain_anchors`,
    );
    await q.query(`DROP FUNCTION audit_ensure_partition(date)`);
    await q.query(`DROP FUNCTION junction_audit_head_forward()`);
    await q.query(`DROP FUNCTION junction_audit_append_only()`);
    const [{ schema }] = (await q.query(`SELECT current_schema() AS schema`)) as Array<{
      schema: string;
    }>;
    await q.query(
      `REVOKE USAGE ON SCHEMA "${schema.replace(/"/g, '""')}" FROM junction_audit_writer`,
    );
  }
}
