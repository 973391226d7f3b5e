import { performance } from 'node:perf_hooks';
import { Client, DatabaseError } from 'pg';
import { AuditError } from './audit.error';
import { safeText } from './audit-json';
import { AuditSession } from './audit-session';
import { ChainAppender, Chained, chainHashOf } from './audit-tables';

/** Where the writer reports outages and rejected rows (never a row's content). */
export interface AuditLog {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ChainWriterOptions {
  /** Most rows in one INSERT. */
  maxBatch?: number;
  /**
   * Longest a row waits for company before its batch is written. Default 0: an idle writer
   * writes at once, and rows that arrive while a batch commits form the next one (group commit
   * without added latency; a message is acknowledged only after its record commits).
   */
  maxDelayMs?: number;
  /**
   * Batches on the wire at once, 1 or 2 (the default, {@link DEFAULT_PIPELINE_DEPTH}, on a session
   * in pg's pipeline mode, as AuditTrail makes them; 1 on any other). 2: while a
   * batch commits, the rows that came meanwhile are chained onto the head it will leave and sent
   * behind it on the same connection, so that Postgres starts on them as soon as the first
   * commits, with no round trip between. 1: one batch at a time.
   */
  pipelineDepth?: number;
  /** First and longest pause between tries while the database is unreachable. */
  retryMinMs?: number;
  retryMaxMs?: number;
  log?: AuditLog;
}

export interface ChainWriterStats {
  /** Rows given to the writer and not yet committed (queued or in the batch being written). */
  pending: number;
  batches: number;
  rows: number;
  /** Tries that failed and were tried again. */
  retries: number;
  /** True while the database refuses or cannot be reached. */
  failing: boolean;
  lastError: string | null;
  /** Statements sent to the database (each one a round trip unless pipelined). */
  roundTrips: number;
  /** Time batches spent between being sent and their commit's answer, summed over tries. */
  commitWaitMs: number;
  /** Rows in the largest batch written. */
  maxBatchRows: number;
  /** Batches sent while the one before was still committing. */
  pipelined: number;
  /** Tries that found the head moved (by a failed batch before them, or another process): chained again. */
  headMoved: number;
  /** The Postgres backend serving the writer's connection, while connected (for cost measurement). */
  backendPid: number | null;
}

interface Pending<R> {
  row: R;
  resolve(): void;
  reject(err: Error): void;
}

/** Rows written together, and how far their tries got. */
interface Batch<R> {
  items: Array<Pending<R>>;
  attempt: Attempt;
  /** A first try sent ahead, behind the batch before (pipelined): true if its rows went in. */
  firstTry?: Promise<boolean>;
  sentAt?: number;
}

/** What a try of one batch got as far as: enough to tell, on the next try, whether it committed. */
interface Attempt {
  recordedAt?: string;
  lastSeq?: string;
  lastHash?: Buffer;
}

/**
 * transient: wait and try again. rows: the database refuses something in the rows (bad data):
 * find which by halving the batch. refused: it refuses any row (no table, no privilege).
 */
type Failure = 'transient' | 'rows' | 'refused' | 'missing-partition';

/** SQLSTATE classes worth waiting out: connection, resources, operator intervention, locks, timeouts. */
const TRANSIENT_CLASSES = new Set(['08', '25', '28', '3D', '40', '53', '55', '57', '58', 'XX']);

/** Marks an error thrown by the batch's INSERT itself: only then can a row be at fault. */
const IN_APPEND = Symbol('in append');

function classify(err: unknown): Failure {
  if (err instanceof AuditError) return 'refused';
  // Only the server's answers carry a SQLSTATE; a Node socket error's code (EPIPE) is no class.
  if (err instanceof DatabaseError && typeof err.code === 'string') {
    const { code, message } = err;
    if (code === '23514' && /no partition of relation/i.test(message)) return 'missing-partition';
    const sqlClass = code.slice(0, 2);
    if (TRANSIENT_CLASSES.has(sqlClass)) return 'transient';
    const inAppend = (err as { [IN_APPEND]?: boolean })[IN_APPEND] === true;
    return inAppend && (sqlClass === '22' || sqlClass === '23') ? 'rows' : 'refused';
  }
  // No SQLSTATE: the socket (refused, reset, timed out, terminated). The database may come back.
  return 'transient';
}

/**
 * Two batches on the wire: a route's messages wait for their record's commit before they are
 * acknowledged, and the commit's round trip (a few ms on a busy machine) is what they wait for.
 * bench:amqp --audit, destination queues consumed, 50k messages, five runs: audit on at 69, 65,
 * 53, 58 and 58% of audit off with two batches on the wire, against 58, 55, 55, 56 and 50% with
 * one at a time (the row run second is a little faster: the first two runs had two batches
 * second, the last three had them first).
 */
export const DEFAULT_PIPELINE_DEPTH = 2;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Group commit for one hash-chained audit table. `append` resolves only once its row is
 * committed (COMMIT returned, synchronous_commit on). Rows wait in memory while a batch is being
 * written and are written together: one INSERT per batch, flushed when `maxBatch` rows are
 * waiting or `maxDelayMs` after the first. While the database is unreachable the batch is
 * tried again and again and every caller's promise stays pending: that is the backpressure
 * that stops routes taking more messages. Nothing is dropped and nothing resolves early.
 *
 * Each batch, in one transaction: lock the table's chain head row (so that several gateway
 * processes append one after the other), give the rows the next sequence numbers and hashes,
 * insert them, move the head. A try whose outcome is unknown (the connection died around the
 * COMMIT) is settled on the next try by looking for its last row under the same lock, so a
 * batch is never written twice.
 */
export class ChainWriter<R> {
  private readonly queue: Array<Pending<R>> = [];
  /** Where this writer left the chain head: its last committed try, while no failure put that in doubt. */
  private head?: Required<Attempt>;
  /** The database's clock minus this process's, as read on the locked path (recorded_at is the database's time). */
  private clockOffsetMs = 0;
  /** The batch being committed, and the one sent behind it (pipelined), if any. */
  private current?: Batch<R>;
  private next?: Batch<R>;
  /**
   * Where the head will be once every batch on the wire commits: known only while they were all
   * sent onto a head this writer knew. The next batch may be chained onto it and sent at once;
   * it goes in only if the head is really there by then, so the chain order holds by construction.
   */
  private predicted?: Required<Attempt>;
  private timer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  /** While a refused batch is written in halves: nothing is sent ahead of the halves to come. */
  private splitting = 0;
  private closed = false;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly pipelineDepth: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly counters = {
    batches: 0,
    rows: 0,
    retries: 0,
    roundTrips: 0,
    commitWaitMs: 0,
    maxBatchRows: 0,
    pipelined: 0,
    headMoved: 0,
  };
  private failingSince?: number;
  private lastWarnAt = 0;
  private lastError: string | null = null;

  constructor(
    private readonly table: ChainAppender<R>,
    private readonly session: AuditSession,
    private readonly options: ChainWriterOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.maxDelayMs = Math.max(0, options.maxDelayMs ?? 0);
    // A session not in pg's pipeline mode would only queue the batch sent ahead in the client.
    const depth = options.pipelineDepth ?? (session.pipelined ? DEFAULT_PIPELINE_DEPTH : 1);
    this.pipelineDepth = Math.max(1, Math.min(2, depth));
    this.retryMinMs = options.retryMinMs ?? 50;
    this.retryMaxMs = options.retryMaxMs ?? 2_000;
  }

  /** Resolves once the row is committed; rejects only if the database refuses the row itself, or after `close`. */
  append(row: R): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new AuditError(
          'CLOSED',
          `the ${this.table.name} writer is closed; the record was not taken`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.schedule();
    });
  }

  /** Waits until every row given so far is committed (forever, if the database never comes back). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.draining) {
      this.start();
      await this.draining;
    }
  }

  /** Takes no more rows, writes what it has, then closes its connection. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.session.close();
  }

  stats(): ChainWriterStats {
    return {
      pending:
        this.queue.length + (this.current?.items.length ?? 0) + (this.next?.items.length ?? 0),
      ...this.counters,
      failing: this.failingSince !== undefined,
      lastError: this.lastError,
      backendPid: this.session.backendPid(),
    };
  }

  private schedule(): void {
    if (this.draining) {
      this.sendAhead(); // or the running drain takes it next
      return;
    }
    if (this.queue.length >= this.maxBatch || this.maxDelayMs === 0) this.start();
    else this.timer ??= setTimeout(() => this.start(), this.maxDelayMs);
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.draining || this.queue.length === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.schedule();
    });
  }

  /**
   * Writes batch after batch while rows are waiting: those that came during a commit go in the
   * next, sent ahead while the commit runs (see {@link sendAhead}). Batches settle in order.
   */
  private async drain(): Promise<void> {
    while (this.queue.length > 0 || this.next) {
      // A batch not sent yet: until it is, nothing may be sent ahead (it would go before it).
      if (!this.next) this.predicted = undefined;
      const batch = this.next ?? { items: this.queue.splice(0, this.maxBatch), attempt: {} };
      this.next = undefined;
      this.current = batch;
      try {
        await this.commit(batch);
      } finally {
        this.current = undefined;
      }
    }
  }

  /**
   * While the current batch commits on a known head, sends the rows waiting behind it, chained
   * onto the head it will leave, once there are half as many as in it (fewer would spend a
   * commit on a handful of rows that the next batch would have taken anyway).
   */
  private sendAhead(): void {
    const current = this.current;
    const onto = this.predicted;
    if (this.pipelineDepth < 2 || this.splitting > 0) return;
    if (this.next || !current || !onto || this.queue.length === 0) return;
    if (
      this.queue.length < Math.ceil(current.items.length / 2) &&
      this.queue.length < this.maxBatch
    )
      return;
    const batch: Batch<R> = { items: this.queue.splice(0, this.maxBatch), attempt: {} };
    batch.sentAt = performance.now();
    batch.firstTry = this.session.use((client) =>
      this.sendOnHead(
        client,
        batch.items.map((p) => p.row),
        onto,
        batch.attempt,
      ),
    );
    // Its outcome is read in order by commit(); until then, a failure is no unhandled rejection.
    batch.firstTry.catch(() => undefined);
    this.next = batch;
    this.counters.pipelined += 1;
  }

  /** Settles every row of the batch: resolved once committed, rejected only if refused for good. */
  private async commit(batch: Batch<R>): Promise<void> {
    const { items, attempt } = batch;
    const madeDays = new Set<string>();
    let delay = this.retryMinMs;
    for (;;) {
      const sentAt = batch.sentAt ?? performance.now();
      batch.sentAt = undefined;
      try {
        const firstTry = batch.firstTry;
        batch.firstTry = undefined;
        if (firstTry) {
          if (!(await firstTry)) {
            // The head was not where the batch before was to leave it (that one failed, or
            // another process appended): nothing went in. Chain it again, under the head's lock.
            this.head = this.predicted = undefined;
            attempt.recordedAt = attempt.lastSeq = attempt.lastHash = undefined;
            this.counters.headMoved += 1;
            continue;
          }
          this.head = { ...(attempt as Required<Attempt>) };
        } else {
          // Only the drain's own batch has rows waiting behind it (not a half of a refused one).
          const sent = batch === this.current ? () => this.sendAhead() : undefined;
          await this.session.use((client) =>
            this.appendBatch(
              client,
              items.map((p) => p.row),
              attempt,
              sent,
            ),
          );
        }
        this.counters.commitWaitMs += performance.now() - sentAt;
        this.counters.batches += 1;
        this.counters.rows += items.length;
        this.counters.maxBatchRows = Math.max(this.counters.maxBatchRows, items.length);
        this.recovered();
        // Rows that come now (as these resolve) go in the drain's next batch, whole: nothing is
        // on the wire to send them behind, unless a batch already is.
        if (!this.next) this.predicted = undefined;
        for (const p of items) p.resolve();
        return;
      } catch (caught) {
        // Whatever was sent behind this batch finds the head elsewhere, and is tried again after it.
        this.head = this.predicted = undefined;
        let err = caught;
        const failure = classify(err);
        const day = attempt.recordedAt?.slice(0, 10);
        if (failure === 'missing-partition' && day && !madeDays.has(day)) {
          try {
            await this.ensurePartition(day);
            madeDays.add(day); // once per day and batch without waiting; then as any failure
            continue;
          } catch (ensureFailed) {
            err = ensureFailed; // then wait and try again, as for any outage
          }
        }
        if (failure === 'rows' || failure === 'refused') {
          await this.refused(items, err, failure === 'rows');
          return;
        }
        this.counters.retries += 1;
        this.failed(err);
        await sleep(delay);
        delay = Math.min(delay * 2, this.retryMaxMs);
      }
    }
  }

  /**
   * A batch the database refuses for good. When a row is at fault, halve the batch until the
   * rows at fault are found and write the rest; else (no table, no privilege) refuse them all.
   */
  private async refused(
    batch: Array<Pending<R>>,
    err: unknown,
    rowAtFault: boolean,
  ): Promise<void> {
    if (rowAtFault && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      this.splitting += 1;
      try {
        await this.commit({ items: batch.slice(0, half), attempt: {} });
        await this.commit({ items: batch.slice(half), attempt: {} });
      } finally {
        this.splitting -= 1;
      }
      return;
    }
    const message = safeText((err as Error)?.message ?? String(err));
    this.options.log?.error(
      `${this.table.name}: the database refused ${batch.length} audit row(s): ${message}`,
    );
    for (const p of batch) {
      p.reject(new AuditError('REJECTED', `the audit row was refused: ${message}`, { cause: err }));
    }
  }

  /**
   * One batch in one transaction. While this writer knows the head (it made the last move), the
   * batch goes in one round trip: chained onto that head, inserted only if the head is still
   * there. Otherwise (the first batch, after a failure, or another process appended meanwhile)
   * the head is read under its row lock: BEGIN and SELECT ... FOR UPDATE, INSERT, COMMIT.
   */
  private async appendBatch(
    client: Client,
    rows: R[],
    attempt: Attempt,
    sent?: () => void,
  ): Promise<void> {
    const known = this.head;
    this.head = this.predicted = undefined; // known again only once this batch is committed
    if (known && !attempt.lastSeq) {
      if (await this.sendOnHead(client, rows, known, attempt, sent)) {
        this.head = { ...(attempt as Required<Attempt>) };
        return;
      }
      // Another writer moved the head: nothing went in. Chain the batch again onto the real one.
      this.counters.headMoved += 1;
      attempt.recordedAt = attempt.lastSeq = attempt.lastHash = undefined;
    }
    this.counters.roundTrips += 1;
    const results = (await client.query(
      `BEGIN; SELECT seq, hash, recorded_at, date_trunc('milliseconds', clock_timestamp()) AS now
         FROM audit_chain_heads WHERE table_name = '${this.table.name}' FOR UPDATE`,
    )) as unknown as Array<{
      rows: Array<{ seq: string; hash: Buffer; recorded_at: Date; now: Date }>;
    }>;
    const head = results[1]?.rows[0];
    if (!head) {
      throw new AuditError(
        'NO_CHAIN_HEAD',
        `no chain head for ${this.table.name}: run the migrations`,
      );
    }
    if (attempt.lastSeq && attempt.recordedAt && attempt.lastHash) {
      // The last try may have committed before its connection died: under the lock, it is known.
      this.counters.roundTrips += 1;
      const found = await client.query(
        `SELECT 1 FROM ${this.table.name} WHERE recorded_at = $1 AND seq = $2 AND hash = $3`,
        [attempt.recordedAt, attempt.lastSeq, attempt.lastHash],
      );
      if ((found.rowCount ?? 0) > 0) {
        this.counters.roundTrips += 1;
        await client.query('COMMIT');
        return;
      }
    }
    this.clockOffsetMs = head.now.getTime() - Date.now();
    const recordedAt = new Date(
      Math.max(head.now.getTime(), head.recorded_at.getTime()),
    ).toISOString();
    const chained = this.chain(rows, head.hash, BigInt(head.seq), recordedAt, attempt);
    await this.runAppend(
      client,
      'append',
      this.table.appendSql,
      this.table.appendParams(chained, {
        seq: attempt.lastSeq!,
        hash: attempt.lastHash!,
      }),
    );
    this.counters.roundTrips += 1;
    await client.query('COMMIT');
    this.head = { ...(attempt as Required<Attempt>) };
  }

  /**
   * The batch in one round trip, chained onto `head`: it goes in (and the head moves) only if the
   * head is still there when Postgres gets to it; true if it did. Once the statement is on the
   * wire, the head it will leave is {@link predicted} and `sent` runs (to send the next behind it).
   */
  private async sendOnHead(
    client: Client,
    rows: R[],
    head: Required<Attempt>,
    attempt: Attempt,
    sent?: () => void,
  ): Promise<boolean> {
    // The database's clock (as last read, through the offset), never behind the head's:
    // recorded_at only grows along the chain.
    const now = Date.now() + this.clockOffsetMs;
    const recordedAt = new Date(
      Math.max(Math.round(now), Date.parse(head.recordedAt)),
    ).toISOString();
    const chained = this.chain(rows, head.lastHash, BigInt(head.lastSeq), recordedAt, attempt);
    const answer = this.runAppend<{ moved: number }>(
      client,
      'append-if-head',
      this.table.appendIfHeadSql,
      [
        ...this.table.appendParams(chained, { seq: attempt.lastSeq!, hash: attempt.lastHash! }),
        head.lastSeq,
        head.lastHash.toString('hex'),
      ],
    );
    this.predicted = { ...(attempt as Required<Attempt>) };
    sent?.();
    return (await answer).rows[0]?.moved === 1;
  }

  /** The rows with their seq and hashes after `prevHash`/`seq`; notes the last in `attempt`. */
  private chain(
    rows: R[],
    prevHash: Buffer,
    seq: bigint,
    recordedAt: string,
    attempt: Attempt,
  ): Array<Chained<R>> {
    const chained: Array<Chained<R>> = [];
    for (const row of rows) {
      seq += 1n;
      const seqText = seq.toString();
      const hash = chainHashOf(
        this.table.name,
        prevHash,
        seqText,
        recordedAt,
        this.table.canonical(row),
      );
      chained.push({ seq: seqText, recordedAt, prevHash, hash, row });
      prevHash = hash;
    }
    attempt.recordedAt = recordedAt;
    attempt.lastSeq = seq.toString();
    attempt.lastHash = prevHash;
    return chained;
  }

  /** Runs an append statement; its failures are marked as the INSERT's (a row may be at fault). */
  private async runAppend<T extends object = object>(
    client: Client,
    kind: string,
    text: string,
    values: unknown[],
  ): Promise<{ rows: T[] }> {
    this.counters.roundTrips += 1;
    try {
      return await client.query<T>({ name: `junction-${this.table.name}-${kind}`, text, values });
    } catch (err) {
      if (err !== null && typeof err === 'object') Object.assign(err, { [IN_APPEND]: true });
      throw err;
    }
  }

  private async ensurePartition(day: string): Promise<void> {
    await this.session.use((client) =>
      client.query(`SELECT audit_ensure_partition($1::date)`, [day]),
    );
    this.options.log?.log(`${this.table.name}: made the partition for ${day} on demand`);
  }

  private failed(err: unknown): void {
    this.lastError = safeText((err as Error)?.message ?? String(err));
    const now = Date.now();
    if (this.failingSince === undefined) {
      this.failingSince = now;
      this.lastWarnAt = now;
      this.options.log?.warn(
        `${this.table.name}: cannot write audit records (${this.lastError}); ${this.stats().pending} wait and will be retried`,
      );
    } else if (now - this.lastWarnAt >= 30_000) {
      this.lastWarnAt = now;
      this.options.log?.warn(
        `${this.table.name}: still cannot write audit records after ${Math.round((now - this.failingSince) / 1000)} s (${this.lastError}); ${this.stats().pending} wait`,
      );
    }
  }

  private recovered(): void {
    if (this.failingSince === undefined) return;
    this.options.log?.log(
      `${this.table.name}: audit writes resumed after ${Math.round((Date.now() - this.failingSince) / 1000)} s`,
    );
    this.failingSince = undefined;
    this.lastError = null;
  }
}
