import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface ThrottleRow {
  windowStart: Date;
  failures: number;
  lockedUntil: Date | null;
  lockouts: number;
}

/**
 * The sign-in counters, one row per counted thing, in Postgres so that every gateway process on
 * the database counts together. Each change is one atomic statement; times come from the
 * caller's clock (so that tests can move it), never from now().
 */
@Injectable()
export class LoginThrottleRepository {
  constructor(private readonly db: DataSource) {}

  async read(key: string): Promise<ThrottleRow | null> {
    const rows = await this.db.query<
      {
        window_start: Date;
        failures: number;
        locked_until: Date | null;
        lockouts: number;
      }[]
    >(`SELECT window_start, failures, locked_until, lockouts FROM login_throttle WHERE key = $1`, [
      key,
    ]);
    const r = rows[0];
    return r
      ? {
          windowStart: r.window_start,
          failures: r.failures,
          lockedUntil: r.locked_until,
          lockouts: r.lockouts,
        }
      : null;
  }

  /** Counts one attempt in a fixed window (a new window when the last one has ended). */
  async charge(
    key: string,
    now: Date,
    windowMs: number,
  ): Promise<{ count: number; windowStart: Date }> {
    const rows = await this.db.query<{ failures: number; window_start: Date }[]>(
      `INSERT INTO login_throttle AS t (key, window_start, failures, updated_at) VALUES ($1, $2, 1, $2)
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN t.window_start <= $2::timestamptz - $3::float8 * interval '1 millisecond'
                         THEN 1 ELSE t.failures + 1 END,
         window_start = CASE WHEN t.window_start <= $2::timestamptz - $3::float8 * interval '1 millisecond'
                             THEN $2 ELSE t.window_start END,
         updated_at = $2
       RETURNING failures, window_start`,
      [key, now, windowMs],
    );
    return { count: rows[0].failures, windowStart: rows[0].window_start };
  }

  /** Takes back one attempt of the current window (it succeeded). */
  async refund(key: string, now: Date, windowMs: number): Promise<void> {
    await this.db.query(
      `UPDATE login_throttle SET failures = greatest(failures - 1, 0)
        WHERE key = $1 AND window_start > $2::timestamptz - $3::float8 * interval '1 millisecond'`,
      [key, now, windowMs],
    );
  }

  /**
   * One more failure of an account. Failures further apart than `memoryMs` start again from
   * one; the `limit`-th locks the account for base * 2^(lockouts so far), at most `maxMs`, and
   * starts the count again; the doubling is forgotten after `2 * maxMs` without a failure.
   * Returns the lock's end when this failure set one.
   */
  async fail(
    key: string,
    now: Date,
    o: { limit: number; memoryMs: number; baseMs: number; maxMs: number },
  ): Promise<Date | null> {
    // Every t.* below is the row as locked by the upsert, so concurrent failures never lose a count.
    const failures = `(CASE WHEN t.updated_at <= $2::timestamptz - $4::float8 * interval '1 millisecond' THEN 0 ELSE t.failures END)`;
    // The doubling is forgotten after twice the longest lockout without a failure.
    const lockouts = `(CASE WHEN t.updated_at <= $2::timestamptz - 2 * $6::float8 * interval '1 millisecond' THEN 0 ELSE t.lockouts END)`;
    const rows = await this.db.query<{ locked: boolean; locked_until: Date | null }[]>(
      `INSERT INTO login_throttle AS t (key, window_start, failures, lockouts, locked_until, updated_at)
       VALUES ($1, $2, CASE WHEN $3::int <= 1 THEN 0 ELSE 1 END, CASE WHEN $3::int <= 1 THEN 1 ELSE 0 END,
               CASE WHEN $3::int <= 1 THEN $2::timestamptz + least($5::float8, $6::float8) * interval '1 millisecond' END, $2)
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN ${failures} + 1 >= $3::int THEN 0 ELSE ${failures} + 1 END,
         lockouts = CASE WHEN ${failures} + 1 >= $3::int THEN ${lockouts} + 1 ELSE ${lockouts} END,
         locked_until = CASE WHEN ${failures} + 1 >= $3::int
                             THEN $2::timestamptz + least($5::float8 * power(2, ${lockouts}), $6::float8) * interval '1 millisecond'
                             ELSE t.locked_until END,
         updated_at = $2
       RETURNING (locked_until IS NOT NULL AND locked_until > $2::timestamptz AND failures = 0) AS locked,
                 locked_until`,
      [key, now, o.limit, o.memoryMs, o.baseMs, o.maxMs],
    );
    return rows[0]?.locked ? rows[0].locked_until : null;
  }

  async clear(key: string): Promise<void> {
    await this.db.query(`DELETE FROM login_throttle WHERE key = $1`, [key]);
  }

  /** Forgets rows idle since `before` that hold no lock any more. */
  async prune(before: Date, now: Date): Promise<void> {
    await this.db.query(
      `DELETE FROM login_throttle WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until <= $2)`,
      [before, now],
    );
  }
}
