import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One route per ingest path, scoped ingest keys, and route incarnations.
 *
 * - `ingest_paths`: the normalised paths routes claim (their active and latest versions' paths).
 *   Its primary key is what keeps two routes, in any number of gateway processes, from taking one
 *   path. Filled here from the routes there are: where several live routes shared a path, the
 *   oldest keeps it and the others are stopped (starting one again answers 409 until its path
 *   changes). The normalisation of existing paths is the trivial part of the rules (the old
 *   schema allowed only lower-case ASCII, digits, '/', '_' and '-'): doubled, leading and
 *   trailing slashes.
 * - `api_keys.ingest_routes`: the routes a key may post to (null: any); `ingest` joins the roles.
 *   Existing keys keep their roles: only `admin` (and the new `ingest`) implies ingest.
 * - `incarnation`: a route id deleted and created again starts a new incarnation, numbered on,
 *   whose versions start again at 1; the old incarnation's versions stay, under their number.
 */
export class IngestPathsAndScopes1765020000000 implements MigrationInterface {
  name = 'IngestPathsAndScopes1765020000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE routes ADD COLUMN incarnation integer NOT NULL DEFAULT 1`);
    await q.query(`ALTER TABLE route_versions ADD COLUMN incarnation integer NOT NULL DEFAULT 1`);
    await q.query(`ALTER TABLE routes DROP CONSTRAINT routes_active_version_fk`);
    await q.query(`ALTER TABLE route_versions DROP CONSTRAINT route_versions_pkey`);
    await q.query(`ALTER TABLE route_versions ADD PRIMARY KEY (route_id, incarnation, version)`);
    await q.query(`
      ALTER TABLE routes ADD CONSTRAINT routes_active_version_fk
        FOREIGN KEY (id, incarnation, active_version)
        REFERENCES route_versions (route_id, incarnation, version)
        DEFERRABLE INITIALLY DEFERRED`);

    await q.query(`
      CREATE TABLE ingest_paths (
        path       text PRIMARY KEY CHECK (path ~ '^[a-z0-9._~-]+(/[a-z0-9._~-]+)*$'),
        route_id   text NOT NULL REFERENCES routes (id),
        claimed_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX ingest_paths_route_idx ON ingest_paths (route_id)`);
    const rows: Array<{ id: string; path: string }> = await q.query(`
      SELECT r.id, v.document #>> '{source,path}' AS path
        FROM routes r
        JOIN route_versions v ON v.route_id = r.id
         AND v.version IN (r.active_version, r.latest_version)
       WHERE r.deleted_at IS NULL AND v.document #>> '{source,type}' = 'http'
       ORDER BY r.created_at, r.id`);
    const owner = new Map<string, string>();
    const losers = new Set<string>();
    for (const row of rows) {
      const key = row.path
        .toLowerCase()
        .split('/')
        .filter((s) => s !== '' && s !== '.')
        .join('/');
      if (!/^[a-z0-9._~-]+(\/[a-z0-9._~-]+)*$/.test(key)) continue;
      const held = owner.get(key);
      if (held === undefined) owner.set(key, row.id);
      else if (held !== row.id) losers.add(row.id);
    }
    for (const [path, routeId] of owner) {
      if (losers.has(routeId)) continue;
      await q.query(`INSERT INTO ingest_paths (path, route_id) VALUES ($1, $2)`, [path, routeId]);
    }
    for (const id of losers) {
      await q.query(
        `UPDATE routes SET desired_state = 'stopped', updated_at = now() WHERE id = $1`,
        [id],
      );
    }

    await q.query(`ALTER TABLE api_keys ADD COLUMN ingest_routes text[]`);
    await q.query(`ALTER TABLE role_grants DROP CONSTRAINT IF EXISTS role_grants_role_check`);
    await q.query(`
      ALTER TABLE role_grants ADD CONSTRAINT role_grants_role_check
        CHECK (role IN ('admin', 'editor', 'operator', 'auditor', 'viewer', 'ingest'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM role_grants WHERE role = 'ingest'`);
    await q.query(`ALTER TABLE role_grants DROP CONSTRAINT role_grants_role_check`);
    await q.query(`
      ALTER TABLE role_grants ADD CONSTRAINT role_grants_role_check
        CHECK (role IN ('admin', 'editor', 'operator', 'auditor', 'viewer'))`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN ingest_routes`);
    await q.query(`DROP TABLE ingest_paths`);
    await q.query(`ALTER TABLE routes DROP CONSTRAINT routes_active_version_fk`);
    await q.query(`ALTER TABLE route_versions DROP CONSTRAINT route_versions_pkey`);
    await q.query(`ALTER TABLE route_versions ADD PRIMARY KEY (route_id, version)`);
    await q.query(`ALTER TABLE route_versions DROP COLUMN incarnation`);
    await q.query(`ALTER TABLE routes DROP COLUMN incarnation`);
    await q.query(`
      ALTER TABLE routes ADD CONSTRAINT routes_active_version_fk
        FOREIGN KEY (id, active_version) REFERENCES route_versions (route_id, version)
        DEFERRABLE INITIALLY DEFERRED`);
  }
}
