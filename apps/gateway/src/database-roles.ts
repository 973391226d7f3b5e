import { DataSource } from 'typeorm';
import { AUDIT_WRITER_ROLE } from '@junction/audit';
import { MIGRATIONS } from '../../../migrations';

/** Tables the runtime role may only read (audit rows are written through the audit writer role). */
const READ_ONLY = ['audit_messages', 'audit_events', 'audit_chain_heads', 'audit_chain_anchors'];
/** Tables the runtime role gets nothing on. */
const OWNER_ONLY = ['audit_retention_policy', 'migrations'];

export interface DatabaseRoles {
  /** The runtime role, as the owner's session sees it. */
  runtime: string;
  owner: string;
  runtimeIsSuperuser: boolean;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The role a PostgreSQL URL logs in as (the server's default, the OS user, when none is given). */
export function urlRole(url: string): string | undefined {
  const user = decodeURIComponent(new URL(url).username);
  return user || undefined;
}

/**
 * As the schema owner: runs the migrations, sets the audit retention policy (which the runtime
 * role may apply and never change), and grants the runtime role what the gateway needs and no
 * more: read and write on its own tables, read only on the audit tables (audit rows go in through
 * the audit writer role, INSERT only), nothing on a table's definition (it owns none).
 */
export async function prepareDatabase(
  ownerUrl: string,
  runtimeUrl: string,
  retentionDays: number | undefined,
): Promise<DatabaseRoles> {
  const db = new DataSource({
    type: 'postgres',
    url: ownerUrl,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
    logging: false,
    extra: { max: 1, application_name: 'junction-migrations' },
  });
  await db.initialize();
  try {
    await db.runMigrations();
    await db.query(`SELECT audit_set_retention($1)`, [retentionDays ?? null]);
    const [{ owner, schema }] = (await db.query(
      `SELECT current_user AS owner, current_schema() AS schema`,
    )) as Array<{ owner: string; schema: string }>;
    const runtime = urlRole(runtimeUrl) ?? owner;
    const roles = (await db.query(`SELECT rolsuper FROM pg_roles WHERE rolname = $1`, [
      runtime,
    ])) as Array<{ rolsuper: boolean }>;
    if (roles.length === 0) throw new Error(`the runtime role ${runtime} does not exist`);
    if (runtime === owner) return { runtime, owner, runtimeIsSuperuser: roles[0].rolsuper };
    const partitions = (await db.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent IN ('audit_messages'::regclass, 'audit_events'::regclass)`,
    )) as Array<{ name: string }>;
    const r = ident(runtime);
    await db.transaction(async (m) => {
      await m.query(`GRANT USAGE ON SCHEMA ${ident(schema)} TO ${r}`);
      await m.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${ident(schema)} TO ${r}`,
      );
      await m.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${ident(schema)} TO ${r}`);
      const tables = [...READ_ONLY, ...OWNER_ONLY, ...partitions.map((p) => p.name)];
      await m.query(`REVOKE ALL ON ${tables.map(ident).join(', ')} FROM ${r}`);
      await m.query(`GRANT SELECT ON ${READ_ONLY.join(', ')} TO ${r}`);
    });
    const [{ member }] = (await db.query(`SELECT pg_has_role($1, $2, 'MEMBER') AS member`, [
      runtime,
      AUDIT_WRITER_ROLE,
    ])) as Array<{ member: boolean }>;
    if (!member) {
      try {
        await db.query(`GRANT ${AUDIT_WRITER_ROLE} TO ${r}`);
      } catch (err) {
        throw new Error(
          `the runtime role ${runtime} must be a member of ${AUDIT_WRITER_ROLE}; as a superuser: GRANT ${AUDIT_WRITER_ROLE} TO ${r};`,
          { cause: err },
        );
      }
    }
    return { runtime, owner, runtimeIsSuperuser: roles[0].rolsuper };
  } finally {
    await db.destroy();
  }
}
