import { DataSource } from 'typeorm';
import type { ChainTableName } from './audit-tables';

export interface ChainHeadRow {
  table: ChainTableName;
  /** The last row's seq (a decimal string; 0: nothing written yet). */
  seq: string;
  /** When the last row was recorded; null before the first. */
  recordedAt: Date | null;
}

/** Where each audit chain ends: one row per chain, kept by the writer (no scan of the trail). */
export class ChainStatusRepository {
  constructor(private readonly db: DataSource) {}

  async heads(): Promise<ChainHeadRow[]> {
    const rows = (await this.db.query(
      `SELECT table_name, seq::text AS seq, recorded_at FROM audit_chain_heads ORDER BY table_name DESC`,
    )) as Array<{ table_name: ChainTableName; seq: string; recorded_at: Date }>;
    return rows.map((r) => ({
      table: r.table_name,
      seq: r.seq,
      recordedAt: r.seq === '0' ? null : r.recorded_at,
    }));
  }
}
