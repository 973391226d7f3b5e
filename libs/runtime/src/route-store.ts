import { DataSource } from 'typeorm';
import type { RouteSpec } from '@junction/connectors';
import { RouteRecord, RouteStore } from './route-supervisor';

interface Row {
  id: string;
  incarnation: number;
  active_version: number | null;
  desired_state: 'running' | 'stopped';
  deleted_at: Date | null;
  document: RouteSpec | null;
}

const SELECT = `
  SELECT r.id, r.incarnation, r.active_version, r.desired_state, r.deleted_at, v.document
    FROM routes r LEFT JOIN route_versions v
      ON v.route_id = r.id AND v.incarnation = r.incarnation AND v.version = r.active_version`;

function record(row: Row): RouteRecord {
  return {
    id: row.id,
    incarnation: row.incarnation,
    activeVersion: row.active_version,
    desiredState: row.desired_state,
    deleted: row.deleted_at !== null,
    document: row.document ?? undefined,
  };
}

/** Reads routes for the supervisor straight from the registry's tables. */
export class SqlRouteStore implements RouteStore {
  constructor(private readonly db: DataSource) {}

  async runnable(): Promise<RouteRecord[]> {
    const rows: Row[] = await this.db.query(
      `${SELECT} WHERE r.deleted_at IS NULL AND r.desired_state = 'running' AND r.active_version IS NOT NULL`,
    );
    return rows.map(record);
  }

  async find(id: string): Promise<RouteRecord | null> {
    const rows: Row[] = await this.db.query(`${SELECT} WHERE r.id = $1`, [id]);
    return rows[0] ? record(rows[0]) : null;
  }

  async version(
    id: string,
    version: number,
  ): Promise<{ incarnation: number; document: RouteSpec } | null> {
    const rows = (await this.db.query(
      `SELECT r.incarnation, v.document FROM routes r JOIN route_versions v
          ON v.route_id = r.id AND v.incarnation = r.incarnation AND v.version = $2
        WHERE r.id = $1 AND r.deleted_at IS NULL`,
      [id, version],
    )) as Array<{ incarnation: number; document: RouteSpec }>;
    return rows[0] ?? null;
  }
}
