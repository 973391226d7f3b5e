import { JunctionError, parseApiTime } from '@junction/common';
import { StatsBucket, StatsRepository } from './stats.repository';

const UNIT_MS: Record<StatsBucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** Most buckets one answer spans: a week of minutes, 90 days of hours, 10 years of days. */
const MAX_BUCKETS: Record<StatsBucket, number> = { minute: 7 * 1440, hour: 90 * 24, day: 3660 };
const BATCH = 50_000;
/** A query catches up at most this many batches before answering (the rest: `lag`). */
const CATCH_UP_BATCHES = 4;

export interface StatsView {
  from: string;
  to: string;
  bucket: StatsBucket;
  routeId: string | null;
  /** The last trail seq counted, and how many trail rows are not counted yet. */
  countedSeq: string;
  lag: number;
  series: Array<{ bucket: string; routeId: string; outcome: string; count: number }>;
  totals: Array<{ routeId: string; outcome: string; count: number }>;
}

function date(name: string, text: string | undefined): Date | undefined {
  if (text === undefined || text === '') return undefined;
  const d = parseApiTime(text);
  if (!d) throw new JunctionError('BAD_REQUEST', `${name} must be an ISO date-time`);
  return d;
}

/**
 * Message counts per route and outcome over time, for dashboards polled every few seconds: read
 * from per-minute counters that a rollup keeps up with the audit trail (in the background, and
 * to the end of the trail before each answer), never by scanning the trail.
 */
export class StatsService {
  private timer?: NodeJS.Timeout;
  private rolling?: Promise<void>;

  constructor(
    private readonly repo: StatsRepository,
    private readonly log: { warn(message: string): void },
    private readonly intervalMs = 5_000,
  ) {}

  async stats(query: {
    from?: string;
    to?: string;
    bucket?: string;
    routeId?: string;
  }): Promise<StatsView> {
    const bucket = (query.bucket ?? 'minute') as StatsBucket;
    if (!(bucket in UNIT_MS))
      throw new JunctionError('BAD_REQUEST', 'bucket must be minute, hour or day');
    const unit = UNIT_MS[bucket];
    const rawTo = date('to', query.to) ?? new Date();
    // Whole buckets (UTC): from rounds down, to rounds up.
    const to = new Date(Math.ceil(rawTo.getTime() / unit) * unit);
    const rawFrom = date('from', query.from) ?? new Date(to.getTime() - 60 * unit);
    const from = new Date(Math.floor(rawFrom.getTime() / unit) * unit);
    if (from >= to) throw new JunctionError('BAD_REQUEST', 'from must be before to');
    if ((to.getTime() - from.getTime()) / unit > MAX_BUCKETS[bucket])
      throw new JunctionError(
        'BAD_REQUEST',
        `at most ${MAX_BUCKETS[bucket]} ${bucket} buckets in one query; use a larger bucket`,
      );
    for (let i = 0; i < CATCH_UP_BATCHES; i++)
      if ((await this.repo.rollup(BATCH, true)) < BATCH) break;
    const [rows, position] = await Promise.all([
      this.repo.series({ from, to, bucket, routeId: query.routeId || undefined }),
      this.repo.position(),
    ]);
    const totals = new Map<string, { routeId: string; outcome: string; count: number }>();
    for (const r of rows) {
      const key = `${r.routeId}\u0000${r.outcome}`;
      const t = totals.get(key) ?? { routeId: r.routeId, outcome: r.outcome, count: 0 };
      t.count += r.count;
      totals.set(key, t);
    }
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      bucket,
      routeId: query.routeId || null,
      countedSeq: position.countedSeq,
      lag: Math.max(0, Number(BigInt(position.trailSeq) - BigInt(position.countedSeq))),
      series: rows.map((r) => ({ ...r, bucket: r.bucket.toISOString() })),
      totals: [...totals.values()],
    };
  }

  /** Keeps the counters up with the trail in the background (any process; one at a time). */
  start(): void {
    this.timer = setInterval(() => {
      if (this.rolling) return;
      this.rolling = (async () => {
        try {
          while ((await this.repo.rollup(BATCH, false)) === BATCH);
        } catch (err) {
          this.log.warn(`stats rollup: ${(err as Error).message}`);
        } finally {
          this.rolling = undefined;
        }
      })();
    }, this.intervalMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.rolling;
  }

  // Nest calls these on the provider (the class itself stays free of Nest).
  onApplicationBootstrap(): void {
    this.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.stop();
  }
}
