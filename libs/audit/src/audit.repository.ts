import { DataSource } from 'typeorm';
import { JunctionError } from '@junction/common';
import { safeText } from './audit-json';
import {
  Chained,
  ChainTable,
  ChainTableName,
  EventRow,
  EVENTS,
  MessageRow,
  MESSAGES,
} from './audit-tables';

export interface MessageFilter {
  routeId?: string;
  outcome?: string;
  /** ISO date-times: recorded at or after `from`, before `to`. */
  from?: string;
  to?: string;
  messageId?: string;
  /** Prefix of a destination's name: `kafka:orders.eu`, `amqp:orders/`, `http:https://erp`, `log`. */
  destination?: string;
  /** Free text in the ids: message, route, error code, source name. */
  q?: string;
  /** The W3C trace id the message travelled in. */
  traceId?: string;
  /** Records up to this place in the chain only (an export's end, fixed as it begins). */
  maxSeq?: string;
}

export interface EventFilter {
  type?: string;
  actor?: string;
  targetType?: string;
  targetId?: string;
  outcome?: string;
  from?: string;
  to?: string;
  q?: string;
  /** Records up to this place in the chain only (an export's end, fixed as it begins). */
  maxSeq?: string;
}

/** A place in a chain: rows are ordered by (recorded_at, seq), which is also the chain order. */
export interface ChainPosition {
  recordedAt: string;
  seq: string;
}

export interface ReadOptions {
  order: 'asc' | 'desc';
  limit: number;
  /** Rows strictly past this position, in the order asked. */
  after?: ChainPosition;
  /**
   * Stop once the rows read add up to this many bytes (as text; the first row always comes):
   * a message record keeps its body, up to the body limit each, so a count alone does not
   * bound what a page or an export batch holds in memory. The result is then `cut`.
   */
  maxBytes?: number;
}

/** Rows read; `cut` when `maxBytes` stopped the read before `limit` (more may follow). */
export type ReadRows<R> = Array<Chained<R>> & { cut?: boolean };

export interface ChainHead {
  seq: string;
  hash: Buffer;
  recordedAt: string;
}

class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Filters pass through the card-number detector as the stored values did, so that they match. */
function messageWhere(f: MessageFilter, p: Params): string[] {
  const where: string[] = [];
  if (f.routeId) where.push(`route_id = ${p.add(safeText(f.routeId))}`);
  if (f.outcome) where.push(`outcome = ${p.add(f.outcome)}`);
  if (f.from) where.push(`recorded_at >= ${p.add(f.from)}::timestamptz`);
  if (f.to) where.push(`recorded_at < ${p.add(f.to)}::timestamptz`);
  if (f.messageId) where.push(`message_id = ${p.add(safeText(f.messageId))}`);
  if (f.traceId) where.push(`trace_id = ${p.add(f.traceId)}`);
  if (f.maxSeq) where.push(`seq <= ${p.add(f.maxSeq)}::bigint`);
  if (f.destination) {
    where.push(
      `EXISTS (SELECT 1 FROM unnest(targets) AS t(name) WHERE starts_with(t.name, ${p.add(safeText(f.destination))}))`,
    );
  }
  if (f.q) {
    const like = p.add(`%${escapeLike(safeText(f.q))}%`);
    where.push(
      `(message_id ILIKE ${like} OR route_id ILIKE ${like} OR error_code ILIKE ${like} OR source->>'name' ILIKE ${like})`,
    );
  }
  return where;
}

function eventWhere(f: EventFilter, p: Params): string[] {
  const where: string[] = [];
  if (f.type) where.push(`type = ${p.add(f.type)}`);
  if (f.actor) where.push(`actor = ${p.add(safeText(f.actor))}`);
  if (f.targetType) where.push(`target_type = ${p.add(f.targetType)}`);
  if (f.targetId) where.push(`target_id = ${p.add(safeText(f.targetId))}`);
  if (f.outcome) where.push(`outcome = ${p.add(f.outcome)}`);
  if (f.from) where.push(`recorded_at >= ${p.add(f.from)}::timestamptz`);
  if (f.to) where.push(`recorded_at < ${p.add(f.to)}::timestamptz`);
  if (f.maxSeq) where.push(`seq <= ${p.add(f.maxSeq)}::bigint`);
  if (f.q) {
    const like = p.add(`%${escapeLike(safeText(f.q))}%`);
    where.push(
      `(actor ILIKE ${like} OR type ILIKE ${like} OR target_id ILIKE ${like} OR ip ILIKE ${like})`,
    );
  }
  return where;
}

/** How many audit reads may run at once: the rest wait their turn, not for a pool connection. */
const CONCURRENT_READS = 2;
/** Longest one read of the trail may run on the server. */
const READ_TIMEOUT_MS = 30_000;

/** Runs at most `limit` tasks at a time; the others wait in order. */
class ReadSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((go) => this.waiting.push(go));
    else this.running += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

/**
 * Reads of the audit tables (the writer role writes them; this reads as the gateway's own user).
 * A search that no index serves (free text, over millions of records) scans: such reads take
 * turns on a few of the pool's connections and stop after `readTimeoutMs` (30 s), so that an
 * auditor's searches cannot hold every connection the API, sign-in and readiness need.
 */
export class AuditRepository {
  private readonly slots = new ReadSlots(CONCURRENT_READS);

  constructor(
    private readonly db: DataSource,
    private readonly readTimeoutMs = READ_TIMEOUT_MS,
  ) {}

  /** A read that may scan: in turn, under the statement timeout. */
  private scan(sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>> {
    return this.slots.run(async () => {
      try {
        return await this.db.transaction(async (m) => {
          await m.query(`SET LOCAL statement_timeout = ${Math.round(this.readTimeoutMs)}`);
          return (await m.query(sql, params)) as Array<Record<string, unknown>>;
        });
      } catch (err) {
        const code = (err as { driverError?: { code?: unknown } }).driverError?.code;
        if (code !== '57014') throw err;
        throw new JunctionError(
          'TIMEOUT',
          `reading the audit trail took over ${this.readTimeoutMs / 1000} s; narrow the search (a time range, a route, an actor)`,
          undefined,
          { cause: err },
        );
      }
    });
  }

  messages(filter: MessageFilter, options: ReadOptions): Promise<ReadRows<MessageRow>> {
    const p = new Params();
    return this.read(MESSAGES, messageWhere(filter, p), p, options);
  }

  events(filter: EventFilter, options: ReadOptions): Promise<ReadRows<EventRow>> {
    const p = new Params();
    return this.read(EVENTS, eventWhere(filter, p), p, options);
  }

  /**
   * The replays of one message, oldest first: each `deadletter.replayed` event (one replay, or
   * one item of a bulk replay job) with who triggered it. A single replay's event names the
   * message id; a job's names only the dead letter: `deadLetterIds`, those kept of the message
   * (the runtime's, read through its port).
   */
  replaysOf(
    messageId: string,
    deadLetterIds: string[],
    limit: number,
  ): Promise<Array<Chained<EventRow>>> {
    const p = new Params();
    const id = p.add(safeText(messageId));
    const letters = p.add(deadLetterIds);
    return this.read(
      EVENTS,
      [
        `type = 'deadletter.replayed'`,
        `(details->>'messageId' = ${id} OR (target_type = 'deadLetter' AND target_id = ANY(${letters}::text[])))`,
      ],
      p,
      { order: 'asc', limit },
    );
  }

  /** Rows of a chain in a time range, in chain order, up to the head's seq as read before. */
  chain<R>(
    table: ChainTable<R>,
    range: { from?: string; to?: string; maxSeq: string },
    options: ReadOptions,
  ): Promise<Array<Chained<R>>> {
    const p = new Params();
    const where = [`seq <= ${p.add(range.maxSeq)}::bigint`];
    if (range.from) where.push(`recorded_at >= ${p.add(range.from)}::timestamptz`);
    if (range.to) where.push(`recorded_at < ${p.add(range.to)}::timestamptz`);
    return this.read(table, where, p, options);
  }

  /** The row just before a position in chain order, if any is left. */
  async before<R>(table: ChainTable<R>, position: ChainPosition): Promise<Chained<R> | undefined> {
    const rows = await this.read(table, [], new Params(), {
      order: 'desc',
      limit: 1,
      after: position,
    });
    return rows[0];
  }

  async head(table: ChainTableName): Promise<ChainHead> {
    const rows = (await this.db.query(
      `SELECT seq, hash, recorded_at FROM audit_chain_heads WHERE table_name = $1`,
      [table],
    )) as Array<{ seq: string; hash: Buffer; recorded_at: Date }>;
    if (rows.length === 0) throw new Error(`no chain head for ${table}: run the migrations`);
    return {
      seq: String(rows[0].seq),
      hash: rows[0].hash,
      recordedAt: rows[0].recorded_at.toISOString(),
    };
  }

  /**
   * The lowest seq of a row past the chain head (in a time range), if any: every append moves
   * the head in the same transaction, so such a row is on no chain. Head and rows are read in
   * one statement, one snapshot: a row appended meanwhile is never taken for one.
   */
  async pastHead(
    table: ChainTableName,
    range: { from?: string; to?: string },
  ): Promise<string | undefined> {
    const p = new Params();
    const where = [`seq > (SELECT seq FROM audit_chain_heads WHERE table_name = ${p.add(table)})`];
    if (range.from) where.push(`recorded_at >= ${p.add(range.from)}::timestamptz`);
    if (range.to) where.push(`recorded_at < ${p.add(range.to)}::timestamptz`);
    const rows = (await this.db.query(
      `SELECT min(seq)::text AS seq FROM ${table} WHERE ${where.join(' AND ')}`,
      p.values,
    )) as Array<{ seq: string | null }>;
    return rows[0]?.seq ?? undefined;
  }

  /** Where a day dropped by retention ended, if `seq` was such an end. */
  async anchor(table: ChainTableName, seq: string): Promise<Buffer | undefined> {
    const rows = (await this.db.query(
      `SELECT hash FROM audit_chain_anchors WHERE table_name = $1 AND seq = $2`,
      [table, seq],
    )) as Array<{ hash: Buffer }>;
    return rows[0]?.hash;
  }

  /** Day partitions of an audit table, oldest first. */
  async partitions(table: ChainTableName): Promise<string[]> {
    const rows = (await this.db.query(
      `SELECT c.relname AS name FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = $1 AND p.relnamespace = current_schema()::regnamespace
        ORDER BY c.relname`,
      [table],
    )) as Array<{ name: string }>;
    return rows.map((r) => r.name);
  }

  /**
   * Drops one day partition (retention), keeping where its chain ended so the rest still
   * verifies. Through the owner's SECURITY DEFINER function: the runtime role may not drop a
   * table, and may drop a day only as the owner's retention policy allows.
   */
  async dropPartition(table: ChainTableName, partition: string): Promise<void> {
    await this.db.query(`SELECT audit_drop_partition($1, $2)`, [table, partition]);
  }

  /** Rows of a chain by place, `seq` in (`after`, `upTo`], in chain order (the anchor checks). */
  async bySeq<R>(
    table: ChainTable<R>,
    after: string,
    upTo: string,
    limit: number,
  ): Promise<Array<Chained<R>>> {
    const rows = (await this.db.query(
      `SELECT * FROM ${table.name} WHERE seq > $1::bigint AND seq <= $2::bigint ORDER BY seq LIMIT ${Math.max(1, Math.floor(limit))}`,
      [after, upTo],
    )) as Array<Record<string, unknown>>;
    return rows.map((row) => table.fromDb(row));
  }

  /** The highest seq of a chain that retention dropped (its rows can no longer be checked). */
  async droppedUpTo(table: ChainTableName): Promise<string> {
    const rows = (await this.db.query(
      `SELECT coalesce(max(seq), 0)::text AS seq FROM audit_chain_anchors WHERE table_name = $1`,
      [table],
    )) as Array<{ seq: string }>;
    return rows[0]?.seq ?? '0';
  }

  private async read<R>(
    table: ChainTable<R>,
    where: string[],
    p: Params,
    options: ReadOptions,
  ): Promise<ReadRows<R>> {
    const dir = options.order === 'asc' ? 'ASC' : 'DESC';
    if (options.after) {
      const cmp = options.order === 'asc' ? '>' : '<';
      where.push(
        `(recorded_at, seq) ${cmp} (${p.add(options.after.recordedAt)}::timestamptz, ${p.add(options.after.seq)}::bigint)`,
      );
    }
    const order = `ORDER BY recorded_at ${dir}, seq ${dir}`;
    const select = `SELECT * FROM ${table.name} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ${order} LIMIT ${Math.max(1, Math.floor(options.limit))}`;
    if (options.maxBytes === undefined)
      return (await this.scan(select, p.values)).map((row) => table.fromDb(row));
    // The rows up to the one that reaches the budget: sizes are summed over the limited rows
    // only (in Postgres: what is left out never reaches this process).
    const budget = p.add(Math.max(1, Math.floor(options.maxBytes)));
    const rows = await this.scan(
      `SELECT * FROM (
         SELECT l.*, sum(l.row_bytes) OVER (${order} ROWS UNBOUNDED PRECEDING) - l.row_bytes AS bytes_before,
                count(*) OVER () AS rows_read
           FROM (SELECT t.*, octet_length(t::text)::bigint AS row_bytes FROM (${select}) t) l
       ) w WHERE w.bytes_before < ${budget}::bigint ${order}`,
      p.values,
    );
    const read = Number(rows[0]?.rows_read ?? 0);
    const out: ReadRows<R> = rows.map((row) => {
      const { row_bytes: _b, bytes_before: _s, rows_read: _n, ...own } = row;
      return table.fromDb(own);
    });
    out.cut = rows.length < read;
    return out;
  }
}
