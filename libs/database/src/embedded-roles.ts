import { Client } from 'pg';
import { DatabaseError } from './database.error';

/** The embedded default's roles: the schema owner runs migrations, the gateway runs as the runtime role. */
export const EMBEDDED_OWNER_ROLE = 'junction_owner';
export const EMBEDDED_RUNTIME_ROLE = 'junction_runtime';
/** Made here too (the audit migration needs it, and a non-superuser owner may not create roles). */
const AUDIT_WRITER_ROLE = 'junction_audit_writer';

export interface EmbeddedRoleUrls {
  ownerUrl: string;
  runtimeUrl: string;
}

function withUser(url: string, user: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = '';
  return parsed.toString();
}

/**
 * As the superuser of `superuserUrl`: makes the owner and the runtime login roles (neither a
 * superuser, neither able to create roles or databases), gives the database and its `public`
 * schema to the owner, and hands over what an earlier start made as the superuser (tables,
 * sequences, functions, types of `public`), so that migrations run as the owner from now on and
 * the runtime role owns nothing. Idempotent: every start runs it.
 */
export async function setUpEmbeddedRoles(superuserUrl: string): Promise<EmbeddedRoleUrls> {
  const client = new Client({ connectionString: superuserUrl });
  try {
    await client.connect();
    await client.query(`
      DO $$
      DECLARE
        r text;
      BEGIN
        FOREACH r IN ARRAY ARRAY['${EMBEDDED_OWNER_ROLE}', '${EMBEDDED_RUNTIME_ROLE}'] LOOP
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', r);
          END IF;
        END LOOP;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${AUDIT_WRITER_ROLE}') THEN
          CREATE ROLE ${AUDIT_WRITER_ROLE} NOLOGIN;
        END IF;
      END $$`);
    await client.query(
      `GRANT ${AUDIT_WRITER_ROLE} TO ${EMBEDDED_OWNER_ROLE}, ${EMBEDDED_RUNTIME_ROLE}`,
    );
    const [{ db }] = (await client.query<{ db: string }>(`SELECT current_database() AS db`)).rows;
    await client.query(
      `ALTER DATABASE ${client.escapeIdentifier(db)} OWNER TO ${EMBEDDED_OWNER_ROLE}`,
    );
    await client.query(`ALTER SCHEMA public OWNER TO ${EMBEDDED_OWNER_ROLE}`);
    // What a start before the role split made as the superuser. Sequences that belong to a
    // column follow their table; partitions are tables of their own.
    await client.query(`
      DO $$
      DECLARE
        o record;
      BEGIN
        FOR o IN
          SELECT c.oid::regclass AS name FROM pg_class c
           WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = 'postgres'::regrole
             AND (c.relkind IN ('r', 'p', 'v', 'm', 'f')
               OR (c.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM pg_depend d
                     WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))))
        LOOP
          EXECUTE format('ALTER TABLE %s OWNER TO ${EMBEDDED_OWNER_ROLE}', o.name);
        END LOOP;
        FOR o IN
          SELECT p.oid::regprocedure AS name FROM pg_proc p
           WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'postgres'::regrole
        LOOP
          EXECUTE format('ALTER FUNCTION %s OWNER TO ${EMBEDDED_OWNER_ROLE}', o.name);
        END LOOP;
        FOR o IN
          SELECT t.oid::regtype AS name FROM pg_type t
           WHERE t.typnamespace = 'public'::regnamespace AND t.typowner = 'postgres'::regrole
             AND t.typtype IN ('e', 'd')
        LOOP
          EXECUTE format('ALTER TYPE %s OWNER TO ${EMBEDDED_OWNER_ROLE}', o.name);
        END LOOP;
      END $$`);
    return {
      ownerUrl: withUser(superuserUrl, EMBEDDED_OWNER_ROLE),
      runtimeUrl: withUser(superuserUrl, EMBEDDED_RUNTIME_ROLE),
    };
  } catch (error) {
    throw new DatabaseError('SQL_FAILED', 'could not set up the embedded database roles', {
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}
