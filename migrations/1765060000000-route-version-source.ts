import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A route version keeps the text it was written in (YAML with its comments and key order, or
 * JSON), beside the parsed document that runs. Versions stored before have none: the API shows
 * their document as JSON. Versions stay immutable (the trigger of the initial schema).
 */
export class RouteVersionSource1765060000000 implements MigrationInterface {
  name = 'RouteVersionSource1765060000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE route_versions ADD COLUMN source text`);
    await q.query(
      `ALTER TABLE route_versions ADD COLUMN source_format text CHECK (source_format IN ('yaml', 'json'))`,
    );
    await q.query(
      `ALTER TABLE route_versions ADD CONSTRAINT route_versions_source_format CHECK ((source IS NULL) = (source_format IS NULL))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE route_versions DROP COLUMN source, DROP COLUMN source_format`);
  }
}
