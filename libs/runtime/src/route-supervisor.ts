import type { ConnectionState, ConnectorConnection, RouteSpec } from '@junction/connectors';
import { RouteWorker, StartCancelled, WorkerDeps, WorkerStatus } from './route-worker';

/** What the supervisor needs to know of a stored route. */
export interface RouteRecord {
  id: string;
  /** Which life of the id (a route deleted and created again is the next one). */
  incarnation?: number;
  activeVersion: number | null;
  desiredState: 'running' | 'stopped';
  deleted: boolean;
  document?: RouteSpec;
}

export interface RouteStore {
  /** Every route that should run: not deleted, running, with an active version (and its document). */
  runnable(): Promise<RouteRecord[]>;
  find(id: string): Promise<RouteRecord | null>;
  /** One stored version of the route's current incarnation (for replays through a chosen version). */
  version?(
    id: string,
    version: number,
  ): Promise<{ incarnation: number; document: RouteSpec } | null>;
}

/** Whether a stored route should run (and, given a worker, run that worker's version). */
function wants(
  record: RouteRecord | null,
  worker?: { version: number; incarnation: number },
): boolean {
  return (
    !!record &&
    !record.deleted &&
    record.desiredState === 'running' &&
    record.activeVersion !== null &&
    !!record.document &&
    (worker === undefined || isRunning(record, worker))
  );
}

/**
 * Whether `worker` runs the stored route's active version. A version number counts within one
 * incarnation: a route deleted and created again has a version 1 of its own.
 */
function isRunning(record: RouteRecord, worker: { version: number; incarnation: number }): boolean {
  return (
    record.activeVersion === worker.version && (record.incarnation ?? 1) === worker.incarnation
  );
}

const RESTART_DELAYS_MS = [1000, 2000, 5000, 10_000, 30_000];

/**
 * How many routes are built and started at once from one read of them all (boot, resync):
 * enough to overlap what starts wait for (a broker's answer), few enough that 10,000 stored
 * routes are not 10,000 starts in flight, each holding its compiled pipeline, at once.
 */
export const START_CONCURRENCY = 16;

/** Runs `each` over `items`, at most `limit` at once; resolves when every one has settled. */
async function bounded<T>(
  items: T[],
  limit: number,
  each: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await each(items[next++]!).catch(() => undefined);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** A connection's one read, shared by every route of a read of them all that uses it. */
function shared(
  reads: Map<string, Promise<ConnectorConnection>>,
  name: string,
  read: (name: string) => Promise<ConnectorConnection>,
): Promise<ConnectorConnection> {
  let connection = reads.get(name);
  if (!connection) {
    connection = read(name);
    // A failed read is not kept: the route's retry reads it again.
    connection.catch(() => reads.delete(name));
    reads.set(name, connection);
  }
  return connection;
}

/** A route's stored row as one read of every runnable route found it, and when that read began. */
interface SnapshotRow {
  record: RouteRecord | null;
  readAt: number;
  /** The stored connections, each read once for all the routes of that read that use it. */
  connections: Map<string, Promise<ConnectorConnection>>;
}

/**
 * Keeps one worker per running route in step with the database: starts them at boot, swaps a
 * worker when another version is activated (the old one drains first: nothing in flight is
 * lost), stops deleted or stopped routes, restarts a worker that failed to start, and drains
 * everything at shutdown. Changes for one route are applied one at a time, in order.
 */
export class RouteSupervisor {
  private readonly workers = new Map<string, RouteWorker>();
  private readonly failures = new Map<
    string,
    { error: string; attempts: number; since: Date; timer?: NodeJS.Timeout }
  >();
  /** The first starts of the routes stored at boot (see firstStarts). */
  private initial: Promise<unknown> = Promise.resolve();
  private readonly queues = new Map<string, Promise<void>>();
  /** Workers whose start() is still waiting for their source, by route. */
  private readonly starting = new Map<string, RouteWorker>();
  /**
   * A logical clock for reads of the store. While a read of every route is being applied (boot,
   * resync), `freshness` holds, by route, the time of the newest row applied or asked for: a
   * refresh asked for after a read began (a notification) makes that read's row stale, so the
   * route is read again rather than set back to what the read saw.
   */
  private clock = 0;
  private readonly freshness = new Map<string, number>();
  private snapshots = 0;
  private stopped = false;
  /** Workers stop() still waits for. */
  private readonly stopping = new Set<RouteWorker>();

  constructor(
    private readonly store: RouteStore,
    private readonly deps: WorkerDeps & {
      closeConnectors(): Promise<void>;
      /** While closeConnectors runs: the clients it still waits for, a line each. */
      closingConnectors?(): string[];
      /** Every broker connection the pool holds, for readiness and metrics. */
      connectionStates?(): ConnectionState[];
    },
  ) {}

  /**
   * Starts every runnable route. Does not wait for the workers: a broker that is down must not
   * keep the gateway (its API, its other routes) from starting; such a route shows `starting`
   * or `failed` in its status and is retried.
   */
  async start(): Promise<void> {
    this.initial = (await this.fromSnapshot([])).applied;
  }

  /**
   * Reads every runnable route in one query, then brings each of them, and each of `others`
   * (a route missing from the read is not runnable), in line from that read, at most
   * START_CONCURRENCY at a time: boot and resync cost one read, not one per route. Resolves
   * once read, with the promise of them all applied.
   */
  private async fromSnapshot(others: Iterable<string>): Promise<{ applied: Promise<void> }> {
    this.snapshots += 1;
    const readAt = ++this.clock;
    let routes: RouteRecord[];
    try {
      routes = await this.store.runnable();
    } catch (err) {
      this.snapshotDone();
      throw err;
    }
    const connections = new Map<string, Promise<ConnectorConnection>>();
    const rows = new Map<string, SnapshotRow>(
      routes.map((r) => [r.id, { record: r, readAt, connections }]),
    );
    for (const id of others) if (!rows.has(id)) rows.set(id, { record: null, readAt, connections });
    const applied = bounded([...rows], START_CONCURRENCY, ([id, row]) => this.enqueue(id, row));
    return { applied: applied.finally(() => this.snapshotDone()) };
  }

  private snapshotDone(): void {
    this.snapshots -= 1;
    if (this.snapshots === 0) this.freshness.clear();
  }

  /**
   * Resolves once every route stored at boot has had its first start (running, or failed and
   * scheduled again), or after `waitMs` (if given), whichever is first: the start-up banner comes
   * after what the routes say as they start, but a broker that does not answer must not hold it up.
   */
  async firstStarts(waitMs?: number): Promise<void> {
    if (waitMs === undefined) return this.initial.then(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.initial,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
  }

  /** Every broker connection this process holds: up or not, since when, why not. */
  connections(): ConnectionState[] {
    return this.deps.connectionStates?.() ?? [];
  }

  /** Brings one route's worker in line with what is stored. Safe to call for any id, any number of times. */
  refresh(id: string): Promise<void> {
    if (this.snapshots > 0) this.freshness.set(id, ++this.clock);
    return this.enqueue(id);
  }

  /** Queues a change of one route: applied from `row` if nothing newer was asked for since, else read. */
  private enqueue(id: string, row?: SnapshotRow): Promise<void> {
    // Changes are applied one at a time; a start still waiting for a slow or refusing broker
    // would hold up a stop (or another version, or a mended connection) until it timed out.
    // When what is stored no longer wants that worker, give the start up now.
    const starting = this.starting.get(id);
    if (starting)
      void (row ? Promise.resolve(row.record) : this.store.find(id))
        .then(async (record) => {
          if (!wants(record, starting) || (await starting.connectionsChanged()))
            starting.cancelStart();
        })
        .catch(() => undefined);
    const previous = this.queues.get(id) ?? Promise.resolve();
    const next = previous
      .then(() => this.apply(id, row))
      .catch((err: unknown) => this.deps.log.error(`route ${id}: ${(err as Error).message}`));
    this.queues.set(id, next);
    void next.finally(() => {
      if (this.queues.get(id) === next) this.queues.delete(id);
    });
    return next;
  }

  /** Resolves once the changes asked for a route so far are applied (its worker started, say). */
  async settled(id: string): Promise<void> {
    await this.queues.get(id);
  }

  /** Re-reads every route (after notifications may have been missed). */
  async resync(): Promise<void> {
    await (
      await this.fromSnapshot([...this.workers.keys(), ...this.failures.keys()])
    ).applied;
  }

  /** Every route's state, for GET /routes/{id}/status. */
  status(id: string): (WorkerStatus & { version?: number }) | undefined {
    const worker = this.workers.get(id);
    if (worker) return { ...worker.status(), version: worker.version };
    const starting = this.starting.get(id);
    if (starting) {
      // Still waiting for its broker: a restart after a failure counts from the first failure.
      const status = starting.status();
      const failure = this.failures.get(id);
      return {
        ...status,
        lastError: status.lastError ?? failure?.error ?? null,
        since: failure && status.state === 'retrying' ? failure.since.toISOString() : status.since,
        version: starting.version,
      };
    }
    const failure = this.failures.get(id);
    if (failure) return this.failedStatus(failure);
    return undefined;
  }

  /** Every route this process runs or tries to run, with its state (for metrics). */
  statuses(): Array<{ routeId: string } & WorkerStatus> {
    const out = [...this.workers.values()].map((w) => ({ routeId: w.routeId, ...w.status() }));
    for (const [routeId, worker] of this.starting)
      if (!this.workers.has(routeId)) out.push({ routeId, ...worker.status() });
    for (const [routeId, failure] of this.failures)
      if (!this.workers.has(routeId) && !this.starting.has(routeId))
        out.push({ routeId, ...this.failedStatus(failure) });
    return out;
  }

  private failedStatus(failure: { error: string; since: Date }): WorkerStatus {
    return {
      state: 'failed',
      inFlight: 0,
      processed: 0,
      failed: 0,
      lastError: failure.error,
      reason: failure.error,
      since: failure.since.toISOString(),
    };
  }

  /**
   * Whether the route still lives as `incarnation` (not deleted, not created again since): a
   * worker built for a replay of a chosen version must not outlive its route.
   */
  async lives(id: string, incarnation: number): Promise<boolean> {
    const record = await this.store.find(id);
    return !!record && !record.deleted && (record.incarnation ?? 1) === incarnation;
  }

  worker(id: string): RouteWorker | undefined {
    return this.workers.get(id);
  }

  /**
   * A worker to replay through: the running one when it runs `version` (or no version is asked
   * for), otherwise one built for that version that takes nothing from the source, only the
   * replays given to it; `release` closes such a one. Undefined when the route is not running
   * (no version asked) or has no such version.
   */
  async replayWorker(
    id: string,
    version?: number,
  ): Promise<{ worker: RouteWorker; release(): Promise<void> } | undefined> {
    const running = this.workers.get(id);
    if (version === undefined || running?.version === version) {
      if (!running) return undefined;
      return { worker: running, release: () => Promise.resolve() };
    }
    const stored = await this.store.version?.(id, version);
    if (!stored) return undefined;
    const worker = await RouteWorker.create(
      { id, version, incarnation: stored.incarnation, document: stored.document },
      this.deps,
    );
    return { worker, release: () => worker.stop() };
  }

  /** Stops intake everywhere, drains every worker, then closes the broker clients. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const failure of this.failures.values()) clearTimeout(failure.timer);
    // Starts still waiting for a broker are not waited for: closing the clients ends them, and
    // `apply` stops a worker that finished starting after this point.
    const workers = [...this.workers.values()];
    for (const worker of workers) this.stopping.add(worker);
    await Promise.all(
      workers.map((w) => this.stopWorker(w).finally(() => this.stopping.delete(w))),
    );
    this.workers.clear();
    await this.deps.closeConnectors();
  }

  /**
   * What a stop waits for, a line each (a shutdown that gives up names them): routes with
   * messages in flight; once stop() runs, routes whose source or destinations are still closing
   * and connections still closing.
   */
  stillStopping(): string[] {
    const inFlight = this.statuses()
      .filter((s) => s.inFlight > 0)
      .map((s) => `route ${s.routeId}: ${s.inFlight} message(s) in flight`);
    if (!this.stopped) return inFlight;
    const closing = [...this.stopping]
      .filter((w) => w.status().inFlight === 0)
      .map((w) => `route ${w.routeId}: its source or destinations still closing`);
    return [...inFlight, ...closing, ...(this.deps.closingConnectors?.() ?? [])];
  }

  private async apply(id: string, row?: SnapshotRow): Promise<void> {
    if (this.stopped) return;
    const record = await this.read(id, row);
    const shares = row && record === row.record ? row.connections : undefined;
    const current = this.workers.get(id);
    if (!wants(record)) {
      this.clearFailure(id);
      if (current) {
        this.workers.delete(id);
        await current.stop();
        this.deps.log.log(`route ${id}: stopped`);
      }
      return;
    }
    if (current && isRunning(record!, current)) {
      // The same version: restart it only when a connection it uses was changed (also when a
      // restart for that failed before: the change may have been undone since).
      if (!(await current.connectionsChanged())) {
        this.clearFailure(id);
        return;
      }
      this.deps.log.log(`route ${id}: a connection it uses has changed; restarting it`);
    }
    let next: RouteWorker;
    try {
      next = await RouteWorker.create(
        {
          id,
          version: record!.activeVersion!,
          incarnation: record!.incarnation,
          document: record!.document!,
        },
        this.deps,
        shares && ((name) => shared(shares, name, this.deps.connection)),
      );
    } catch (err) {
      this.fail(id, err);
      return;
    }
    // A pushed source (HTTP ingest) has nothing to hand over: the next worker takes requests
    // before the old one drains, so no caller finds the path missing in between.
    const pushed = (type: string) => !!this.deps.resources.protocols[type]?.source?.pushed;
    const overlap = !!current && pushed(current.sourceType) && pushed(next.sourceType);
    if (current && !overlap) {
      // Drain the old version first: its in-flight messages finish and are acknowledged.
      this.workers.delete(id);
      await this.stopWorker(current);
    }
    this.starting.set(id, next);
    try {
      await next.start();
    } catch (err) {
      await next.stop().catch(() => undefined);
      // A cancelled start is no failure: the refresh that cancelled it is next in line.
      if (!this.stopped && !(err instanceof StartCancelled)) this.fail(id, err);
      return;
    } finally {
      this.starting.delete(id);
    }
    if (this.stopped) {
      await next.stop();
      return;
    }
    this.clearFailure(id);
    this.workers.set(id, next);
    this.deps.log.log(`route ${id}: running version ${next.version}`);
    if (current && overlap) await this.stopWorker(current);
  }

  /** What is stored of a route: `row`, from a read of them all, unless something newer was asked for since it began. */
  private async read(id: string, row?: SnapshotRow): Promise<RouteRecord | null> {
    const newest = this.freshness.get(id) ?? 0;
    if (row && newest <= row.readAt) {
      if (this.snapshots > 0) this.freshness.set(id, row.readAt);
      return row.record;
    }
    return this.store.find(id);
  }

  /** Stops a worker; its failing to stop cleanly is logged and must not hold up what follows (the next version, the shutdown). */
  private async stopWorker(worker: RouteWorker): Promise<void> {
    await worker
      .stop()
      .catch((err: unknown) =>
        this.deps.log.error(
          `route ${worker.routeId}: version ${worker.version} did not stop cleanly: ${(err as Error).message}`,
        ),
      );
  }

  private fail(id: string, err: unknown): void {
    const previous = this.failures.get(id);
    const attempts = (previous?.attempts ?? 0) + 1;
    const delay = RESTART_DELAYS_MS[Math.min(attempts - 1, RESTART_DELAYS_MS.length - 1)];
    const error = (err as Error).message;
    this.deps.log.warn(`route ${id}: cannot start (${error}); trying again in ${delay} ms`);
    const timer = setTimeout(() => void this.refresh(id), delay);
    timer.unref();
    this.failures.set(id, { error, attempts, since: previous?.since ?? new Date(), timer });
  }

  private clearFailure(id: string): void {
    const failure = this.failures.get(id);
    if (failure) clearTimeout(failure.timer);
    this.failures.delete(id);
  }
}
