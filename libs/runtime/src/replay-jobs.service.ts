import { randomUUID } from 'node:crypto';
import { JunctionError } from '@junction/common';
import { DeadLettersService, DeadLetterQuery, parseDeadLetterQuery } from './dead-letters.service';
import { EventAuditSink, RuntimeEvent } from './message-audit';
import { ReplayJobRow, ReplayJobsRepository, ReplayJobState } from './replay-jobs.repository';
import { RouteSupervisor } from './route-supervisor';
import type { RouteWorker } from './route-worker';

/** Time for replay jobs: the rate limit waits on it (tests give one that does not really wait). */
export interface ReplayClock {
  now(): number;
  /** Resolves after `ms`, or rejects once `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const SYSTEM_CLOCK: ReplayClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('aborted'));
      const timer = setTimeout(resolve, ms);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(new Error('aborted'));
        },
        { once: true },
      );
    }),
};

export interface ReplayJobOptions {
  /** How long a claim holds without renewal; another process resumes a job after it lapses. */
  leaseMs: number;
  /** How often an idle process looks for a job to run (or resume). */
  pollMs: number;
  clock: ReplayClock;
  /**
   * The registry's sample guard on a stored version (see RoutesService.guardStoredVersion): a
   * job through a version that is not the running one runs it as its activation would, when it
   * is made and again at each batch while it runs. Required: no job may skip it.
   */
  guardVersion: (routeId: string, version: number) => Promise<void>;
  /**
   * The route's active version as the registry has it (every process agrees on it, where the
   * version this process runs may differ a moment, or be none on a stopped route). Required: a
   * job pinned to a version checks it before each item.
   */
  activeVersion: (routeId: string) => Promise<{ version: number; activations: number } | null>;
}

/**
 * A batch of a job pinned to a version that is not the active one: the sample guard runs on the
 * version again after this many items, or this long (on the job's clock), whichever comes first.
 */
export const GUARD_EVERY = { items: 100, ms: 5_000 };

export interface Actor {
  name: string;
  kind: 'user' | 'apiKey';
  /**
   * Whether the caller may choose which version of a route runs (`routes.activate`). Replaying
   * through a version that is not the running one runs it, to its destinations, as an activation
   * would: a version never activated, or one the sample guard kept from running.
   */
  mayActivate?: boolean;
}

export interface ReplayJobView {
  id: string;
  state: ReplayJobState;
  filter: Record<string, unknown>;
  version: number | null;
  ratePerSecond: number | null;
  total: number;
  done: number;
  failed: number;
  startedBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequested: boolean;
  error: string | null;
}

function view(row: ReplayJobRow): ReplayJobView {
  return {
    id: row.id,
    state: row.state,
    filter: { ...row.filter },
    version: row.routeVersion,
    ratePerSecond: row.ratePerSecond,
    total: row.total,
    done: row.done,
    failed: row.failed,
    startedBy: row.startedBy,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    cancelRequested: row.cancelRequested,
    error: row.error,
  };
}

const MAX_RATE = 10_000;

/**
 * Bulk replays of the dead letters a filter matches, as jobs in Postgres that any gateway
 * process runs: one job at a time per process, claimed with a lease, resumed by another process
 * when the lease lapses. Each item goes through the single replay (DeadLettersService.replay).
 */
export class ReplayJobsService {
  /** This process, as the owner of leases. */
  readonly owner = `${process.pid}-${randomUUID()}`;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private readonly halt = new AbortController();

  constructor(
    private readonly repo: ReplayJobsRepository,
    private readonly deadLetters: DeadLettersService,
    private readonly supervisor: RouteSupervisor,
    private readonly audit: EventAuditSink,
    private readonly options: ReplayJobOptions,
    private readonly log: { warn(message: string): void },
  ) {}

  async create(
    input: {
      filter?: DeadLetterQuery;
      version?: number;
      ratePerSecond?: number;
      dryRun?: boolean;
    },
    actor: Actor,
  ): Promise<{ dryRun: true; total: number } | ReplayJobView> {
    const filter = parseDeadLetterQuery(input.filter ?? {});
    if (input.version !== undefined) {
      if (!Number.isInteger(input.version) || input.version < 1)
        throw new JunctionError('BAD_REQUEST', 'version must be a whole number from 1');
      if (!filter.routeId)
        throw new JunctionError(
          'BAD_REQUEST',
          'a version belongs to one route: give filter.routeId with version',
        );
    }
    const rate = input.ratePerSecond;
    if (rate !== undefined && !(rate > 0 && rate <= MAX_RATE))
      throw new JunctionError(
        'BAD_REQUEST',
        `ratePerSecond must be above 0 and at most ${MAX_RATE}`,
      );
    if (input.dryRun) return { dryRun: true, total: await this.repo.count(filter) };
    let activeVersion: number | null = null;
    let activations: number | null = null;
    if (input.version !== undefined) {
      const active = await this.options.activeVersion(filter.routeId!);
      activeVersion = active?.version ?? null;
      activations = active?.activations ?? null;
      const another = activeVersion !== input.version;
      if (another && !actor.mayActivate)
        throw new JunctionError(
          'FORBIDDEN',
          `replaying through version ${input.version}, which is not the running one, runs it as activating it would; that needs the 'routes.activate' permission (give no version to replay through the running one)`,
        );
      const probe = await this.supervisor.replayWorker(filter.routeId!, input.version);
      if (!probe)
        throw new JunctionError(
          'NOT_FOUND',
          `route '${filter.routeId}' has no version ${input.version}`,
        );
      await probe.release();
      // And as an activation, it passes the sample guard first (a version the guard kept from
      // running would otherwise run here, to its destinations, over the stored payloads).
      if (another) await this.options.guardVersion(filter.routeId!, input.version);
    }
    // One who may not activate names the active version at most: the job follows the active
    // one (a rollback from it, say for leaking card numbers, is not undone by a pinned job).
    const routeVersion = actor.mayActivate ? (input.version ?? null) : null;
    const id = await this.repo.create({
      filter,
      routeVersion,
      // What the pin was approved against: see versionRefusal.
      routeActiveVersion: routeVersion === null ? null : activeVersion,
      routeActivations: routeVersion === null ? null : activations,
      ratePerSecond: rate ?? null,
      startedBy: actor.name,
    });
    const job = (await this.repo.find(id))!;
    await this.event(job, 'deadletter.replayjob.created', actor, 'success', {
      total: job.total,
      filter: job.filter,
      version: job.routeVersion,
      ratePerSecond: job.ratePerSecond,
    });
    this.wake();
    return view(job);
  }

  async get(id: string): Promise<ReplayJobView> {
    const job = await this.repo.find(id);
    if (!job) throw new JunctionError('NOT_FOUND', `no replay job ${id}`);
    return view(job);
  }

  async list(limit = 50, state?: string): Promise<ReplayJobView[]> {
    const states = ['queued', 'running', 'done', 'cancelled', 'failed'];
    if (state !== undefined && !states.includes(state))
      throw new JunctionError('BAD_REQUEST', `state must be one of ${states.join(', ')}`);
    return (
      await this.repo.list(Math.min(Math.max(limit, 1), 500), state as ReplayJobState | undefined)
    ).map(view);
  }

  /** Cancels a job: at once when queued, before its next item when running. */
  async cancel(id: string, actor: Actor): Promise<ReplayJobView> {
    const result = await this.repo.requestCancel(id);
    if (!result) throw new JunctionError('NOT_FOUND', `no replay job ${id}`);
    const job = (await this.repo.find(id))!;
    if (result.cancelledNow)
      await this.event(job, 'deadletter.replayjob.cancelled', actor, 'success', {
        done: job.done,
        failed: job.failed,
        total: job.total,
      });
    return view(job);
  }

  /** Starts looking for jobs (each process does; whoever claims a job runs it). */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Looks for a job now (after one was created here). */
  wake(): void {
    if (!this.stopped && !this.running) this.schedule(0);
  }

  /** Stops taking items; a job in progress gives its lease back for another process. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.halt.abort();
    await this.running;
  }

  /** Resolves once the job in progress (if any) has ended here: finished, cancelled or lost. */
  async whenIdle(): Promise<void> {
    await this.running;
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), delay);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.running) return;
    const run = (async () => {
      try {
        for (;;) {
          const job = await this.repo.claim(this.owner, this.options.leaseMs);
          if (!job || this.stopped) break;
          await this.runJob(job);
        }
      } catch (err) {
        if (!this.stopped) this.log.warn(`replay jobs: ${(err as Error).message}`);
      }
    })();
    this.running = run;
    await run;
    this.running = undefined;
    if (!this.stopped) this.schedule(this.options.pollMs);
  }

  /** Runs a claimed job from its first untaken item to the end, a cancel, or a lost lease. */
  private async runJob(job: ReplayJobRow): Promise<void> {
    const system: Actor = { name: job.startedBy, kind: 'user' };
    if (job.done + job.failed === 0)
      await this.event(job, 'deadletter.replayjob.started', system, 'success', {
        total: job.total,
      });
    const routeId = job.filter.routeId;
    let through: { worker: RouteWorker; release(): Promise<void> } | undefined;
    try {
      if (job.routeVersion !== null) {
        through = await this.supervisor.replayWorker(routeId!, job.routeVersion);
        if (!through) {
          await this.finish(job, 'failed', `route '${routeId}' has no version ${job.routeVersion}`);
          return;
        }
      }
      const interval = job.ratePerSecond ? 1000 / job.ratePerSecond : 0;
      const startedAt = this.options.clock.now();
      let guarded: { n: number; at: number } | undefined;
      for (let n = 0; ; n++) {
        if (interval > 0 && n > 0) {
          // Nothing left: end now rather than wait out one more interval.
          if (
            (await this.repo.hasPending(job.id)) &&
            !(await this.waitUntil(job, startedAt + n * interval))
          )
            return;
        }
        const lease = await this.repo.renew(job.id, this.owner, this.options.leaseMs);
        if (!lease.held) return; // taken over: the other process goes on from here
        if (lease.cancelRequested) {
          await this.finish(job, 'cancelled', null);
          return;
        }
        const now = this.options.clock.now();
        const guardDue =
          !guarded || n - guarded.n >= GUARD_EVERY.items || now - guarded.at >= GUARD_EVERY.ms;
        if (guardDue) guarded = { n, at: now };
        const refused = await this.versionRefusal(job, guardDue);
        if (refused !== undefined) {
          await this.finish(job, 'failed', refused);
          return;
        }
        const item = await this.repo.takeNext(job.id, this.owner);
        if (!item) {
          if (await this.repo.hasPending(job.id)) return; // lost the lease or cancelled just now
          await this.finish(job, 'done', null);
          return;
        }
        const result = await this.replayOne(item.deadLetterId, through?.worker, job);
        await this.repo.finishItem(job.id, item.seq, result);
        await this.audit.event({
          type: 'deadletter.replayed',
          outcome: result.ok ? 'success' : 'failure',
          actor: job.startedBy,
          actorKind: 'user',
          target: { type: 'deadLetter', id: item.deadLetterId },
          details: {
            replayJob: job.id,
            outcome: result.outcome,
            error: result.error,
            version: job.routeVersion,
          },
        });
      }
    } catch (err) {
      if (this.stopped) {
        await this.repo.release(job.id, this.owner).catch(() => undefined);
        return;
      }
      throw err;
    } finally {
      await through?.release().catch(() => undefined);
    }
  }

  /**
   * Why a job pinned to a version may not replay its next item through it (undefined: it may).
   * The pin was allowed to one who may activate, as an activation would be: through the active
   * version, or through another one that passed the sample guard while the route ran the version
   * it ran then. Checked before each item (the active version) and each batch (GUARD_EVERY: the
   * guard, whose samples may have changed since), so that neither a rollback
   * from the pinned version, nor another activation, nor a sample it now lets a card number out
   * of, leaves a job (queued or running) replaying through it.
   */
  private async versionRefusal(job: ReplayJobRow, guardDue: boolean): Promise<string | undefined> {
    const version = job.routeVersion;
    if (version === null) return undefined;
    const routeId = job.filter.routeId!;
    const current = await this.options.activeVersion(routeId);
    const active = current?.version ?? null;
    if (active === version) return undefined;
    const approved = job.routeActiveVersion;
    if (active === null)
      return `stopped: route '${routeId}' has no active version any more (it was deleted), so version ${version} may not run for the job.`;
    // The count, not only the number: 2 activated and rolled back leaves 1 active again, as
    // when the job was made, with version 2 taken out of service meanwhile.
    const moved =
      job.routeActivations !== null &&
      current !== null &&
      current.activations !== job.routeActivations;
    if ((approved !== null && active !== approved) || moved)
      return `stopped: the job replays through version ${version}, made while version ${approved ?? '(another)'} was active; the route's active version is now ${active}${active === approved ? ' again' : ''} (a rollback or another activation since), so version ${version} may not run for it any more. Start a new job to go on.`;
    if (!guardDue) return undefined;
    try {
      await this.options.guardVersion(routeId, version);
      return undefined;
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      if (e.code !== 'CONFLICT' && e.code !== 'NOT_FOUND') throw err;
      return `stopped: version ${version} may not run any more: ${String(e.message)}`;
    }
  }

  /**
   * Waits for the rate limit, renewing the lease at least every third of it. False when the
   * lease was lost (or the process stops).
   */
  private async waitUntil(job: ReplayJobRow, due: number): Promise<boolean> {
    const slice = Math.max(1, Math.floor(this.options.leaseMs / 3));
    for (;;) {
      const left = due - this.options.clock.now();
      if (left <= 0) return true;
      await this.options.clock.sleep(Math.min(left, slice), this.halt.signal);
      if (this.options.clock.now() < due) {
        const lease = await this.repo.renew(job.id, this.owner, this.options.leaseMs);
        if (!lease.held) return false;
        if (lease.cancelRequested) return true; // the next step ends it as cancelled
      }
    }
  }

  private async replayOne(
    deadLetterId: string,
    through: RouteWorker | undefined,
    job: ReplayJobRow,
  ): Promise<{ ok: boolean; outcome: string; error: string | null }> {
    try {
      const r = await this.deadLetters.replay(deadLetterId, through, {
        name: job.startedBy,
        jobId: job.id,
      });
      return r.error
        ? { ok: false, outcome: r.outcome, error: `${r.error.code}: ${r.error.message}` }
        : { ok: true, outcome: r.outcome, error: null };
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      return {
        ok: false,
        outcome: 'not-replayed',
        error: `${typeof e.code === 'string' ? e.code : 'FAILED'}: ${String(e.message ?? err)}`,
      };
    }
  }

  private async finish(
    job: ReplayJobRow,
    state: 'done' | 'cancelled' | 'failed',
    error: string | null,
  ): Promise<void> {
    if (!(await this.repo.end(job.id, this.owner, state, error))) return;
    const ended = (await this.repo.find(job.id))!;
    await this.event(
      ended,
      state === 'done' ? 'deadletter.replayjob.finished' : `deadletter.replayjob.${state}`,
      { name: job.startedBy, kind: 'user' },
      state === 'failed' ? 'failure' : 'success',
      { total: ended.total, done: ended.done, failed: ended.failed, error },
    );
  }

  private event(
    job: ReplayJobRow,
    type: string,
    actor: Actor,
    outcome: RuntimeEvent['outcome'],
    details: Record<string, unknown>,
  ): Promise<void> {
    return this.audit.event({
      type,
      outcome,
      actor: actor.name,
      actorKind: actor.kind,
      target: { type: 'replayJob', id: job.id },
      details,
    });
  }
}
