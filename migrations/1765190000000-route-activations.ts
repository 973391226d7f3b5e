import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How many times a route's active version changed (an activation, a rollback, a new life of the
 * id), counted by the database on every change of `active_version` or `incarnation`, whoever
 * writes it. A replay job pinned to a version that is not the active one keeps the count it was
 * made at (dead_letter_replay_jobs.route_activations) and stops once it moves: comparing the
 * active version alone let a job made while version 1 ran go on through version 2 after 2 was
 * activated and rolled back (1 active again, as when it was made).
 */
export class RouteActivations1765190000000 implements MigrationInterface {
  name = 'RouteActivations1765190000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE routes ADD COLUMN activations integer NOT NULL DEFAULT 0`);
    await q.query(`
      CREATE FUNCTION routes_count_activations() RETURNS trigger AS $$
      BEGIN
        IF NEW.active_version IS DISTINCT FROM OLD.active_version
           OR NEW.incarnation IS DISTINCT FROM OLD.incarnation THEN
          NEW.activations := OLD.activations + 1;
        ELSE
          NEW.activations := OLD.activations;
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await q.query(`
      CREATE TRIGGER routes_count_activations BEFORE UPDATE ON routes
        FOR EACH ROW EXECUTE FUNCTION routes_count_activations()`);
    await q.query(`ALTER TABLE dead_letter_replay_jobs ADD COLUMN route_activations integer`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letter_replay_jobs DROP COLUMN route_activations`);
    await q.query(`DROP TRIGGER routes_count_activations ON routes`);
    await q.query(`DROP FUNCTION routes_count_activations()`);
    await q.query(`ALTER TABLE routes DROP COLUMN activations`);
  }
}
