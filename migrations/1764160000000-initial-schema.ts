import { MigrationInterface, QueryRunner } from 'typeorm';

/** Connections, versioned routes, users, role grants, API keys and sign-in sessions. */
export class InitialSchema1764160000000 implements MigrationInterface {
  name = 'InitialSchema1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE connections (
        name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
        type        text NOT NULL CHECK (type IN ('amqp', 'kafka', 'http')),
        config      jsonb NOT NULL DEFAULT '{}',
        secrets     text,
        secret_keys text[] NOT NULL DEFAULT '{}',
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        updated_by  text NOT NULL
      )`);
    await q.query(`
      CREATE TABLE routes (
        id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        latest_version integer NOT NULL,
        active_version integer,
        desired_state  text NOT NULL DEFAULT 'running' CHECK (desired_state IN ('running', 'stopped')),
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        deleted_at     timestamptz
      )`);
    await q.query(`
      CREATE TABLE route_versions (
        route_id   text NOT NULL REFERENCES routes (id),
        version    integer NOT NULL CHECK (version > 0),
        document   jsonb NOT NULL,
        checksum   text NOT NULL,
        author     text NOT NULL,
        comment    text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (route_id, version)
      )`);
    await q.query(`
      ALTER TABLE routes ADD CONSTRAINT routes_active_version_fk
        FOREIGN KEY (id, active_version) REFERENCES route_versions (route_id, version)
        DEFERRABLE INITIALLY DEFERRED`);
    // A stored version is evidence of what ran: it can be added, never changed or removed.
    await q.query(`
      CREATE FUNCTION junction_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME;
      END $$`);
    await q.query(`
      CREATE TRIGGER route_versions_immutable BEFORE UPDATE OR DELETE ON route_versions
        FOR EACH ROW EXECUTE FUNCTION junction_refuse_change()`);
    await q.query(`
      CREATE TABLE users (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        username      text NOT NULL CHECK (length(username) BETWEEN 1 AND 256),
        provider      text NOT NULL DEFAULT 'local' CHECK (provider IN ('local', 'ldap', 'oidc')),
        password_hash text,
        display_name  text,
        email         text,
        disabled      boolean NOT NULL DEFAULT false,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        last_login_at timestamptz,
        UNIQUE (provider, username)
      )`);
    await q.query(`
      CREATE TABLE role_grants (
        user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role       text NOT NULL CHECK (role IN ('admin', 'editor', 'operator', 'auditor', 'viewer')),
        granted_by text NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, role)
      )`);
    await q.query(`
      CREATE TABLE api_keys (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name         text NOT NULL,
        prefix       text NOT NULL UNIQUE,
        key_hash     text NOT NULL,
        roles        text[] NOT NULL,
        created_by   text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        expires_at   timestamptz,
        last_used_at timestamptz,
        revoked_at   timestamptz
      )`);
    await q.query(`
      CREATE TABLE sessions (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        provider     text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        expires_at   timestamptz NOT NULL,
        revoked_at   timestamptz,
        ip           text,
        user_agent   text
      )`);
    await q.query(`CREATE INDEX sessions_user_idx ON sessions (user_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE sessions, api_keys, role_grants, users`);
    await q.query(`ALTER TABLE routes DROP CONSTRAINT routes_active_version_fk`);
    await q.query(`DROP TABLE route_versions, routes, connections`);
    await q.query(`DROP FUNCTION junction_refuse_change()`);
  }
}
