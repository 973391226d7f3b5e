import { DataSource } from 'typeorm';
import { SavedSearchInputDto } from './saved-searches.dto';

export interface SavedSearchRow {
  id: string;
  name: string;
  kind: 'messages' | 'events';
  query: Record<string, string>;
  createdAt: Date;
}

/** Saved searches, each visible to its owner only. */
export class SavedSearchesRepository {
  constructor(private readonly db: DataSource) {}

  list(owner: string): Promise<SavedSearchRow[]> {
    return this.db.query(
      `SELECT id, name, kind, query, created_at AS "createdAt" FROM audit_saved_searches
        WHERE owner = $1 ORDER BY name`,
      [owner],
    ) as Promise<SavedSearchRow[]>;
  }

  /** Inserts unless the owner has `max` already; null when a search of that name exists. */
  async create(
    owner: string,
    input: SavedSearchInputDto,
    max: number,
  ): Promise<SavedSearchRow | 'full' | null> {
    const rows = (await this.db.query(
      `INSERT INTO audit_saved_searches (owner, name, kind, query)
       SELECT $1, $2, $3, $4 WHERE (SELECT count(*) FROM audit_saved_searches WHERE owner = $1) < $5
       ON CONFLICT (owner, name) DO NOTHING
       RETURNING id, name, kind, query, created_at AS "createdAt"`,
      [owner, input.name, input.kind, JSON.stringify(input.query), max],
    )) as SavedSearchRow[];
    if (rows[0]) return rows[0];
    const [{ n }] = (await this.db.query(
      `SELECT count(*)::int AS n FROM audit_saved_searches WHERE owner = $1`,
      [owner],
    )) as Array<{ n: number }>;
    return n >= max ? 'full' : null;
  }

  async delete(owner: string, id: string): Promise<boolean> {
    const [, affected] = (await this.db.query(
      `DELETE FROM audit_saved_searches WHERE owner = $1 AND id = $2`,
      [owner, id],
    )) as [unknown, number];
    return affected > 0;
  }
}
