import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sample messages of a route, run through a version before it is activated (the deploy guard
 * against card numbers leaking). Bodies may hold card numbers by design, so each sample is
 * sealed with the master key like a dead letter, bound to its route and name.
 */
export class RouteSamples1765061000000 implements MigrationInterface {
  name = 'RouteSamples1765061000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE route_samples (
        route_id   text NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
        name       text NOT NULL,
        sealed     text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by text NOT NULL,
        PRIMARY KEY (route_id, name)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE route_samples`);
  }
}
