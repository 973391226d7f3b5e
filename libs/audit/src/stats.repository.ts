import { DataSource } from 'typeorm';

export type StatsBucket = 'minute' | 'hour' | 'day';

export interface StatsRow {
  bucket: Date;
  routeId: string;
  outcome: string;
  count: number;
}

/** Counts of audited messages, rolled up from the trail in seq order. */
export class StatsRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Rolls up to `batch` trail rows past the last one counted, in one transaction with the new
   * position. `wait`: wait for a rollup another process is running (else skip). Returns how many
   * rows were counted (0: caught up, or skipped).
   */
  async rollup(batch: number, wait: boolean): Promise<number> {
    return this.db.transaction(async (m) => {
      const state = (await m.query(
        `SELECT last_seq FROM audit_rollup_state WHERE name = 'messages' FOR UPDATE ${wait ? '' : 'SKIP LOCKED'}`,
      )) as Array<{ last_seq: string }>;
      if (state.length === 0) return 0;
      const rows = (await m.query(
        `WITH batch AS (
           SELECT seq, recorded_at, route_id, outcome FROM audit_messages
            WHERE seq > $1 ORDER BY seq LIMIT $2),
         counted AS (
           INSERT INTO audit_message_counts (bucket, route_id, outcome, count)
           SELECT date_trunc('minute', recorded_at), route_id, outcome, count(*) FROM batch
            GROUP BY 1, 2, 3
           ON CONFLICT (bucket, route_id, outcome)
             DO UPDATE SET count = audit_message_counts.count + EXCLUDED.count),
         hourly AS (
           INSERT INTO audit_message_counts_hourly (bucket, route_id, outcome, count)
           SELECT date_trunc('hour', recorded_at), route_id, outcome, count(*) FROM batch
            GROUP BY 1, 2, 3
           ON CONFLICT (bucket, route_id, outcome)
             DO UPDATE SET count = audit_message_counts_hourly.count + EXCLUDED.count)
         UPDATE audit_rollup_state
            SET last_seq = coalesce((SELECT max(seq) FROM batch), last_seq)
          WHERE name = 'messages'
         RETURNING (SELECT count(*) FROM batch)::int AS n, last_seq`,
        [state[0]!.last_seq, batch],
      )) as [Array<{ n: number }>, number];
      return rows[0]?.[0]?.n ?? 0;
    });
  }

  /** Where the counts are up to: the last seq counted and the trail's last seq. */
  async position(): Promise<{ countedSeq: string; trailSeq: string }> {
    const [row] = (await this.db.query(
      `SELECT (SELECT last_seq FROM audit_rollup_state WHERE name = 'messages')::text AS "countedSeq",
              coalesce((SELECT max(seq) FROM audit_messages), 0)::text AS "trailSeq"`,
    )) as Array<{ countedSeq: string; trailSeq: string }>;
    return row!;
  }

  async series(q: {
    from: Date;
    to: Date;
    bucket: StatsBucket;
    routeId?: string;
  }): Promise<StatsRow[]> {
    const rows = (await this.db.query(
      `SELECT date_trunc($3, bucket, 'UTC') AS bucket, route_id AS "routeId", outcome,
              sum(count)::bigint::text AS count
         FROM ${q.bucket === 'minute' ? 'audit_message_counts' : 'audit_message_counts_hourly'}
        WHERE bucket >= $1 AND bucket < $2 AND ($4::text IS NULL OR route_id = $4)
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3`,
      [q.from, q.to, q.bucket, q.routeId ?? null],
    )) as Array<{ bucket: Date; routeId: string; outcome: string; count: string }>;
    return rows.map((r) => ({ ...r, count: Number(r.count) }));
  }
}
