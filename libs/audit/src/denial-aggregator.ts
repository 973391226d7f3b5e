import { AuditEventInput } from './audit-rows';

/** A denied request as the auth module reports it. */
export interface DeniedRequest {
  method: string;
  path: string;
  /**
   * The matched route's pattern (`/api/v1/routes/:id`): once a window's bucket holds MAX_PATHS
   * paths, further ones are counted by it, so that filling the paths with junk cannot hide
   * which endpoints were tried (there are only so many).
   */
  route?: string;
  status: number;
  ip?: string;
  /** Who was refused: a signed-in caller's name (its events keep it); none for anonymous. */
  actor?: string;
}

interface Bucket {
  windowStart: number;
  /** The signed-in caller these denials were of; undefined for anonymous ones. */
  actor?: string;
  status: number;
  ip: string;
  /**
   * A signed-in caller's denials per address (up to MAX_ADDRESSES; the rest under
   * MANY_SOURCES): a key used from several places is counted as `(many sources)` in `ip`, and
   * the auditor must still see from where.
   */
  addresses?: Map<string, number>;
  count: number;
  firstAt: number;
  lastAt: number;
  /**
   * Requests per `METHOD path`, up to MAX_PATHS; the rest per `METHOD route pattern` (up to
   * MAX_ROUTES more), and only then under OTHER_PATHS.
   */
  paths: Map<string, number>;
}

export interface DenialAggregatorOptions {
  /** Length of a window; windows are aligned to the epoch, so every process has the same ones. */
  windowMs: number;
  /** Distinct sources kept apart in one window; more share the `(many sources)` event. */
  maxSources?: number;
  /**
   * A signed-in caller's denials written one by one per window before the rest of the window is
   * counted (default 20): an auditor sees each of a person's first refusals in full, and a key
   * that loops on a forbidden call adds at most this many rows and one count per window.
   */
  individualPerWindow?: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

const MAX_PATHS = 20;
const MAX_ADDRESSES = 20;
/** Route patterns kept beyond MAX_PATHS: more than the API has (a bound all the same). */
const MAX_ROUTES = 200;
const OTHER_PATHS = '(other paths)';
export const MANY_SOURCES = '(many sources)';

/**
 * Anonymous denied requests, counted instead of written one by one: one `request.denied` event
 * per source address and window, with the count, when the window closes (or the gateway stops).
 * So a flood of unauthenticated requests adds at most `maxSources + 1` rows per window and
 * process to the append-only trail, and the auditor still sees how many there were, from where
 * and on which paths. A signed-in caller's denials are written one by one up to
 * `individualPerWindow` per window ({@link admit}); the rest of its window is counted here, in
 * one event per caller and status, with its name.
 */
export class DenialAggregator {
  private readonly buckets = new Map<string, Bucket>();
  private readonly windowMs: number;
  private readonly maxSources: number;
  private readonly individualPerWindow: number;
  /** Signed-in callers' denials written one by one, per `window|actor` (open windows only). */
  private readonly individual = new Map<string, number>();
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly record: (event: AuditEventInput) => Promise<void>,
    private readonly options: DenialAggregatorOptions,
  ) {
    this.windowMs = options.windowMs;
    this.maxSources = options.maxSources ?? 1000;
    this.individualPerWindow = options.individualPerWindow ?? 20;
    this.now = options.now ?? Date.now;
  }

  /**
   * Whether a signed-in caller's denial is to be written on its own (true for its first
   * `individualPerWindow` of a window); false: it was counted here instead.
   */
  admit(denied: DeniedRequest & { actor: string }): boolean {
    const windowStart = this.windowOf(this.now());
    const key = `${windowStart}|${denied.actor}`;
    const seen = this.individual.get(key) ?? 0;
    if (seen < this.individualPerWindow) {
      this.individual.set(key, seen + 1);
      return true;
    }
    this.add(denied);
    return false;
  }

  add(denied: DeniedRequest): void {
    const at = this.now();
    const windowStart = this.windowOf(at);
    const { actor, status } = denied;
    let ip = denied.ip ?? 'unknown';
    let bucket: Bucket | undefined;
    let key: string;
    if (actor !== undefined) {
      // One count per caller and status: its address in `ip` as one, or as many (each is
      // counted in `addresses` below).
      key = `${windowStart}|${status}|@${actor}`;
      bucket = this.buckets.get(key);
      if (bucket && bucket.ip !== ip) bucket.ip = MANY_SOURCES;
    } else {
      key = `${windowStart}|${status}|${ip}`;
      bucket = this.buckets.get(key);
      if (!bucket && this.sourcesIn(windowStart) >= this.maxSources) {
        ip = MANY_SOURCES;
        key = `${windowStart}|${status}|${ip}`;
        bucket = this.buckets.get(key);
      }
    }
    if (!bucket) {
      bucket = {
        windowStart,
        actor,
        status,
        ip,
        count: 0,
        firstAt: at,
        lastAt: at,
        paths: new Map(),
      };
      this.buckets.set(key, bucket);
    }
    bucket.count++;
    bucket.lastAt = at;
    if (actor !== undefined) {
      const addresses = (bucket.addresses ??= new Map());
      const address = addresses.has(ip) || addresses.size < MAX_ADDRESSES ? ip : MANY_SOURCES;
      addresses.set(address, (addresses.get(address) ?? 0) + 1);
    }
    const kept = keptPath(bucket.paths, denied);
    bucket.paths.set(kept, (bucket.paths.get(kept) ?? 0) + 1);
  }

  /** Checks for closed windows this often (unref'd: it never keeps the process alive). */
  start(): void {
    this.timer = setInterval(
      () => void this.flush(false),
      Math.max(100, Math.min(this.windowMs / 4, 1000)),
    );
    this.timer.unref();
  }

  /** Writes every closed window; with `all`, the open ones too (at shutdown). */
  flush(all: boolean): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeDue(all));
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush(true);
  }

  private windowOf(at: number): number {
    return Math.floor(at / this.windowMs) * this.windowMs;
  }

  /** Anonymous sources kept apart in a window (signed-in callers are not counted against them). */
  private sourcesIn(windowStart: number): number {
    let n = 0;
    for (const b of this.buckets.values())
      if (b.windowStart === windowStart && b.actor === undefined) n++;
    return n;
  }

  private async writeDue(all: boolean): Promise<void> {
    const now = this.now();
    const current = this.windowOf(now);
    for (const key of this.individual.keys())
      if (Number(key.slice(0, key.indexOf('|'))) < current) this.individual.delete(key);
    const due = [...this.buckets.entries()].filter(
      ([, b]) => all || b.windowStart + this.windowMs <= now,
    );
    for (const [key, bucket] of due) {
      this.buckets.delete(key);
      try {
        await this.record(eventOf(bucket, this.windowMs));
      } catch (err) {
        // Not lost: counted again with the next write (the trail's writer keeps retrying).
        const back = this.buckets.get(key);
        if (back) {
          back.count += bucket.count;
          back.firstAt = Math.min(back.firstAt, bucket.firstAt);
          for (const [p, n] of bucket.paths) back.paths.set(p, (back.paths.get(p) ?? 0) + n);
          if (back.ip !== bucket.ip) back.ip = MANY_SOURCES;
          for (const [a, n] of bucket.addresses ?? [])
            back.addresses?.set(a, (back.addresses.get(a) ?? 0) + n);
        } else this.buckets.set(key, bucket);
        this.options.onError?.(err);
        return;
      }
    }
  }
}

/** Where a denial is counted in its bucket's paths: see Bucket.paths. */
function keptPath(paths: Map<string, number>, denied: DeniedRequest): string {
  const path = `${denied.method} ${denied.path}`.slice(0, 300);
  if (paths.has(path) || paths.size < MAX_PATHS) return path;
  if (denied.route === undefined) return OTHER_PATHS;
  const route = `${denied.method} ${denied.route}`.slice(0, 300);
  return paths.has(route) || paths.size < MAX_PATHS + MAX_ROUTES ? route : OTHER_PATHS;
}

function eventOf(bucket: Bucket, windowMs: number): AuditEventInput {
  return {
    type: 'request.denied',
    outcome: 'denied',
    actor: bucket.actor ?? '(anonymous)',
    actorKind: bucket.actor === undefined ? 'anonymous' : null,
    ip: bucket.ip,
    occurredAt: new Date(bucket.firstAt).toISOString(),
    details: {
      status: bucket.status,
      aggregated: true,
      count: bucket.count,
      windowStart: new Date(bucket.windowStart).toISOString(),
      windowEnd: new Date(bucket.windowStart + windowMs).toISOString(),
      firstAt: new Date(bucket.firstAt).toISOString(),
      lastAt: new Date(bucket.lastAt).toISOString(),
      paths: Object.fromEntries([...bucket.paths.entries()].sort((a, b) => b[1] - a[1])),
      ...(bucket.addresses && bucket.addresses.size > 1
        ? {
            addresses: Object.fromEntries(
              [...bucket.addresses.entries()].sort((a, b) => b[1] - a[1]),
            ),
          }
        : {}),
    },
  };
}
