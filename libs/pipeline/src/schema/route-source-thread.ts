import { Worker } from 'node:worker_threads';
import {
  fromData,
  parseRouteSource,
  SOURCE_LIMITS,
  type ParsedSource,
  type ParsedSourceData,
} from './route-source';

/**
 * Texts up to this many characters parse on the caller's thread: at most about 25 ms (the yaml
 * library takes 1.5 to 3 us a character). A route document is a page or two of this.
 */
export const INLINE_SOURCE_CHARS = 8 * 1024;

/** Too many texts wait for the parsing thread already: the caller should try again later. */
export class SourceParserBusyError extends Error {
  override readonly name = 'SourceParserBusyError';
}

/*
 * The worker's code, plain CommonJS so that it runs from the compiled gateway (route-source.js)
 * and under jest, where the module is TypeScript and is compiled with the swc jest itself uses.
 * It keeps its normal priority: its work is bounded (the size limit), and a text waits for no
 * other work of the machine.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.module.endsWith('.ts')) {
  const swc = require(workerData.swc);
  const fs = require('node:fs');
  require.extensions['.ts'] = (m, file) => m._compile(swc.transformSync(fs.readFileSync(file, 'utf8'), {
    filename: file, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' },
  }).code, file);
}
const { parseRouteSourceData } = require(workerData.module);
parentPort.on('message', (job) => {
  let data;
  try {
    data = parseRouteSourceData(job.text);
  } catch (err) {
    data = { problems: [{ pointer: '', message: 'cannot parse: ' + err.message }], nodes: { parents: [], keys: [], lines: [], columns: [] } };
  }
  parentPort.postMessage({ id: job.id, data });
});
`;

interface Job {
  id: number;
  text: string;
  owner?: string;
  resolve(parsed: ParsedSource): void;
  reject(err: Error): void;
}

/** A refusal as parse problems (a request gets 400 with it). */
const refused = (why: string): ParsedSourceData => ({
  problems: [{ pointer: '', message: `cannot parse: ${why}` }],
  nodes: { parents: [], keys: [], lines: [], columns: [] },
});

/**
 * Parses route source texts as parseRouteSource does, the long ones on a thread of their own: a
 * 128 KiB YAML text takes 0.2 to 0.7 s to parse, and any viewer may send one to
 * `POST /routes/validate` as often as it likes; on the event loop that held every message and
 * request meanwhile. Texts are parsed one at a time in the order given. At most `maxQueued` wait,
 * and at most `maxPerOwner` of one owner (a user) wait or run, so that one user cannot keep the
 * others' texts out (then SourceParserBusyError). A parse past `timeoutMs` stops the thread and
 * is refused, as is a text that stops it otherwise (out of memory). The thread starts on first
 * use and does not keep the process alive.
 */
export class RouteSourceParser {
  private worker: Worker | undefined;
  private readonly queue: Job[] = [];
  private running: { job: Job; timer: NodeJS.Timeout } | undefined;
  private nextId = 0;

  constructor(
    private readonly options: {
      inlineChars?: number;
      maxQueued?: number;
      maxPerOwner?: number;
      timeoutMs?: number;
    } = {},
  ) {}

  /** Parses `text`; `owner` (who sent it) is held to maxPerOwner. */
  parse(text: string, owner?: string): Promise<ParsedSource> {
    // Short texts, and texts over the limit (refused before any parsing), stay on this thread.
    if (
      text.length <= (this.options.inlineChars ?? INLINE_SOURCE_CHARS) ||
      text.length > SOURCE_LIMITS.maxLength
    )
      return Promise.resolve(parseRouteSource(text));
    const owned =
      owner === undefined
        ? 0
        : this.queue.filter((j) => j.owner === owner).length +
          (this.running?.job.owner === owner ? 1 : 0);
    if (
      this.queue.length >= (this.options.maxQueued ?? 32) ||
      owned >= (this.options.maxPerOwner ?? 2)
    )
      return Promise.reject(
        new SourceParserBusyError('too many route sources are being parsed; try again shortly'),
      );
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, text, owner, resolve, reject });
      this.pump();
    });
  }

  /** Stops the thread (tests, shutdown); texts still waiting are refused. */
  async close(): Promise<void> {
    const stopped = new Error('the route source parser was closed');
    for (const job of this.queue.splice(0)) job.reject(stopped);
    const running = this.running;
    if (running) {
      clearTimeout(running.timer);
      this.running = undefined;
      running.job.reject(stopped);
    }
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private pump(): void {
    if (this.running) return;
    const job = this.queue.shift();
    if (!job) {
      this.worker?.unref(); // idle: the thread does not keep the process alive
      return;
    }
    const worker = this.ensureWorker();
    worker.ref();
    const timer = setTimeout(() => {
      const stuck = this.worker;
      this.worker = undefined;
      void stuck?.terminate();
      this.finish(refused('the source takes too long to parse'));
    }, this.options.timeoutMs ?? 10_000);
    timer.unref();
    this.running = { job, timer };
    worker.postMessage({ id: job.id, text: job.text });
  }

  private finish(data: ParsedSourceData): void {
    const running = this.running;
    if (!running) return;
    clearTimeout(running.timer);
    this.running = undefined;
    running.job.resolve(fromData(data));
    this.pump();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const module = require.resolve('./route-source');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        module,
        // Resolved here: the worker's own require would look from the working directory.
        swc: module.endsWith('.ts') ? require.resolve('@swc/core') : undefined,
      },
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    worker.on('message', (message: { id: number; data: ParsedSourceData }) => {
      if (this.worker === worker && this.running?.job.id === message.id) this.finish(message.data);
    });
    // The thread died under a text (out of memory, say): that text is refused, the next one
    // gets a new thread.
    const died = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.finish(refused(`the parser stopped on it (${err.message})`));
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`the parsing thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}

let shared: RouteSourceParser | undefined;

/** The parser the gateway uses: one thread for the process. */
export function sharedRouteSourceParser(): RouteSourceParser {
  return (shared ??= new RouteSourceParser());
}
