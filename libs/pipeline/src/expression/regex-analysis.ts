import { Worker } from 'node:worker_threads';

/** One regular expression to analyse. */
export interface RegexPattern {
  source: string;
  flags: string;
}

/** What analysis found for one pattern. `budget`: the document's budget ran out before it. */
export type RegexFinding =
  | { status: 'safe' }
  | { status: 'exponential' }
  | { status: 'polynomial'; degree: number }
  | { status: 'unknown'; timedOut: boolean }
  | { status: 'budget' };

/** Runs ReDoS analysis away from the caller's thread. */
export interface RegexAnalyzer {
  /**
   * Analyses `patterns` in order within one budget of `budgetMs` (each pattern at most
   * `perPatternMs`); patterns the budget does not reach come back as `budget`.
   */
  analyse(
    patterns: RegexPattern[],
    budgetMs: number,
    perPatternMs: number,
  ): Promise<RegexFinding[]>;
}

/*
 * The worker's code, plain CommonJS so that it runs the same from the compiled gateway and from
 * TypeScript under jest. recheck's pure backend runs inside it (its default synchronous backend
 * would start yet another thread and block this one on it).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
process.env.RECHECK_SYNC_BACKEND = 'pure';
// The event loop's thread must win the CPU over this one on a busy machine: on Linux a thread
// has its own id (/proc/thread-self), and setpriority on it lowers this thread alone.
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0) require('node:os').setPriority(tid, 19);
} catch {}
const { checkSync } = require(workerData.recheck);
// A cold engine is several times slower: warm it before the first document's budget runs.
for (const warm of ['^[a-z]+@[a-z]+$', '(\\w+)\\s(\\w+)', '(a|a)*b', '^(\\d{1,3}[.-]?){4}$']) {
  checkSync(warm, '', { timeout: 5000 });
}
parentPort.postMessage({ ready: true });
parentPort.on('message', (job) => {
  const deadline = Date.now() + job.budgetMs;
  const findings = [];
  for (const pattern of job.patterns) {
    const left = deadline - Date.now();
    if (left <= 0) { findings.push({ status: 'budget' }); continue; }
    const timeout = Math.max(1, Math.min(left, job.perPatternMs));
    let d;
    try {
      d = checkSync(pattern.source, pattern.flags, { timeout });
    } catch (err) {
      findings.push({ status: 'unknown', timedOut: false });
      continue;
    }
    if (d.status === 'safe') findings.push({ status: 'safe' });
    else if (d.status === 'vulnerable' && d.complexity.type === 'polynomial')
      findings.push({ status: 'polynomial', degree: d.complexity.degree });
    else if (d.status === 'vulnerable') findings.push({ status: 'exponential' });
    else if (d.error && d.error.kind === 'timeout' && timeout < job.perPatternMs)
      findings.push({ status: 'budget' });
    else findings.push({ status: 'unknown', timedOut: !!(d.error && d.error.kind === 'timeout') });
  }
  parentPort.postMessage({ id: job.id, findings });
});
`;

interface Job {
  id: number;
  patterns: RegexPattern[];
  budgetMs: number;
  perPatternMs: number;
  resolve(findings: RegexFinding[]): void;
  reject(err: Error): void;
}

/**
 * One worker thread that analyses regular expressions with recheck, one document at a time.
 * The event loop only posts patterns and reads findings. recheck keeps to its time limit; should
 * it not, the worker is terminated (a grace period past the budget) and the job's remaining
 * patterns come back as `budget`, so no document can hold the analysis, or the thread, for long.
 * The worker is started on first use and does not keep the process alive.
 */
export class WorkerRegexAnalyzer implements RegexAnalyzer {
  private worker: Worker | undefined;
  /** The worker has loaded and warmed recheck: budgets are counted from here on. */
  private ready = false;
  private readonly queue: Job[] = [];
  private running: { job: Job; timer: NodeJS.Timeout } | undefined;
  private nextId = 0;

  constructor(private readonly options: { graceMs?: number; maxQueued?: number } = {}) {}

  analyse(
    patterns: RegexPattern[],
    budgetMs: number,
    perPatternMs: number,
  ): Promise<RegexFinding[]> {
    if (patterns.length === 0) return Promise.resolve([]);
    if (this.queue.length >= (this.options.maxQueued ?? 64)) {
      // Enough documents wait already: this one is refused, not queued behind them.
      return Promise.resolve(patterns.map(() => ({ status: 'budget' }) as const));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, patterns, budgetMs, perPatternMs, resolve, reject });
      this.pump();
    });
  }

  /** Stops the worker (tests, shutdown); queued work is refused as over budget. */
  async close(): Promise<void> {
    for (const job of this.queue.splice(0))
      job.resolve(job.patterns.map(() => ({ status: 'budget' })));
    if (this.running) this.finish(this.running.job.patterns.map(() => ({ status: 'budget' })));
    const worker = this.worker;
    this.worker = undefined;
    this.ready = false;
    await worker?.terminate();
  }

  private pump(): void {
    if (this.running) return;
    if (this.queue.length === 0) {
      this.worker?.unref(); // idle: the thread does not keep the process alive
      return;
    }
    const worker = this.ensureWorker();
    worker.ref(); // work waits for it (a CLI must not exit meanwhile)
    if (!this.ready) return; // pumped again once it is
    const job = this.queue.shift()!;
    const timer = setTimeout(
      () => {
        // recheck overran its own limit: the thread is stopped, and a new one serves the next job.
        const stuck = this.worker;
        this.worker = undefined;
        this.ready = false;
        void stuck?.terminate();
        this.finish(job.patterns.map(() => ({ status: 'budget' })));
      },
      job.budgetMs + (this.options.graceMs ?? 2000),
    );
    timer.unref();
    this.running = { job, timer };
    worker.postMessage({
      id: job.id,
      patterns: job.patterns,
      budgetMs: job.budgetMs,
      perPatternMs: job.perPatternMs,
    });
  }

  private finish(findings: RegexFinding[]): void {
    const running = this.running;
    if (!running) return;
    clearTimeout(running.timer);
    this.running = undefined;
    running.job.resolve(findings);
    this.pump();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { recheck: require.resolve('recheck') },
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    worker.on('message', (message: { id: number; findings: RegexFinding[] } | { ready: true }) => {
      if (this.worker !== worker) return;
      if ('ready' in message) {
        this.ready = true;
        this.pump();
      } else if (this.running?.job.id === message.id) {
        this.finish(message.findings);
      }
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.ready = false;
      const failure = new Error(`regular expression analysis failed: ${err.message}`, {
        cause: err,
      });
      const running = this.running;
      if (running) {
        clearTimeout(running.timer);
        this.running = undefined;
        running.job.reject(failure);
        this.pump();
      } else {
        // It died while starting: the waiting documents fail, rather than start it again and again.
        for (const job of this.queue.splice(0)) job.reject(failure);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the analysis thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}

let shared: WorkerRegexAnalyzer | undefined;

/** The analyzer every engine uses unless given its own: one thread for the process. */
export function sharedRegexAnalyzer(): WorkerRegexAnalyzer {
  return (shared ??= new WorkerRegexAnalyzer());
}
