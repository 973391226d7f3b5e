import { createHash, hash } from 'node:crypto';
import { canonicalJson, Json } from './audit-json';

/** The hash a chain starts from: 32 zero bytes. */
export const GENESIS_HASH = Buffer.alloc(32);

export type MessageOutcomeValue =
  'delivered' | 'filtered' | 'unroutable' | 'dead-lettered' | 'replayed';

/** One message on one route, as stored: every text already redacted and fit for Postgres. */
export interface MessageRow {
  messageId: string;
  routeId: string;
  routeVersion: number;
  source: Json;
  outcome: MessageOutcomeValue;
  /** `[{ destination, receipt }]` for every destination that confirmed. */
  destinations: Json;
  /** Searchable names of the places it went: `kafka:<topic>`, `amqp:<exchange>/<key>`, `http:<url>`, `log`. */
  targets: string[];
  attempts: number;
  receivedAt: string;
  doneAt: string;
  errorCode: string | null;
  errorMessage: string | null;
  errorWhere: string | null;
  body: Json;
  /** Hex SHA-256 of the payload as received. */
  payloadSha256: string;
  /** The W3C trace id (32 hex digits) the message travelled in, if it had one. */
  traceId: string | null;
}

export type EventOutcome = 'success' | 'failure' | 'denied';

/** One thing a person or a machine did (or was refused), as stored. */
export interface EventRow {
  occurredAt: string;
  type: string;
  outcome: EventOutcome;
  actor: string;
  actorKind: string | null;
  provider: string | null;
  ip: string | null;
  targetType: string | null;
  targetId: string | null;
  details: Json;
  before: Json;
  after: Json;
  /** RFC 6902 operations from `before` to `after`. */
  diff: Json;
}

/** A row with its place in the chain. */
export interface Chained<R> {
  seq: string;
  recordedAt: string;
  prevHash: Buffer;
  hash: Buffer;
  row: R;
}

/**
 * A message row as the writer takes it: every hashed field already in canonical JSON, made in
 * one pass from the record (see messageRowText), so that it is hashed and sent as it is.
 */
export interface MessageRowText {
  /** `MESSAGES.content(row).map(canonicalJson)` of the row it stands for. */
  content: string[];
  /** The targets (in `content` too, as JSON), for the text[] column. */
  targets: string[];
}

export type ChainTableName = 'audit_messages' | 'audit_events';

/** How one audit table is read back and hashed (the verifier, the anchors and the queries). */
export interface ChainTable<R> {
  readonly name: ChainTableName;
  /** The row's fields the hash covers, in a fixed order. */
  content(row: R): Json[];
  /** A row as Postgres gives it back (`SELECT *`). */
  fromDb(db: Record<string, unknown>): Chained<R>;
}

/** How rows of type W are appended to one audit table's chain (the writer's side). */
export interface ChainAppender<W> {
  readonly name: ChainTableName;
  /** One statement: the batch's INSERT and the head's move. */
  readonly appendSql: string;
  /**
   * The same, done only if the head is still where this writer left it (two more parameters:
   * its seq and hash). Answers `moved`: 1 if the rows went in, 0 if another writer moved the head.
   */
  readonly appendIfHeadSql: string;
  /**
   * The row's hashed fields, each in canonical JSON: `content(row).map(canonicalJson)` of the
   * table, which the verifier recomputes from the stored row.
   */
  canonical(row: W): string[];
  /** Parameters of {@link appendSql}. */
  appendParams(rows: Array<Chained<W>>, head: { seq: string; hash: Buffer }): unknown[];
}

/**
 * hash(n) = SHA-256(hash(n-1) || canonical JSON of [table/version, seq, recordedAt, ...content]).
 * The table name is in it so that a row cannot be moved to the other chain.
 */
export function chainHash(
  table: ChainTableName,
  prevHash: Buffer,
  seq: string,
  recordedAt: string,
  content: Json[],
): Buffer {
  return chainHashOf(table, prevHash, seq, recordedAt, content.map(canonicalJson));
}

/**
 * {@link chainHash} from the content already in canonical JSON, one text per field: the writer
 * makes them once per row (a batch tried again is chained again), and stores the body's as is.
 */
export function chainHashOf(
  table: ChainTableName,
  prevHash: Buffer,
  seq: string,
  recordedAt: string,
  canonicalContent: string[],
): Buffer {
  let text = `[${JSON.stringify(`${table}/v1`)},${JSON.stringify(seq)},${JSON.stringify(recordedAt)}`;
  for (const field of canonicalContent) text += `,${field}`;
  text += ']';
  // prevHash and the text's UTF-8 in one reused buffer, hashed in one call: no Hash object.
  prevHash.copy(scratch, 0);
  const written = scratch.write(text, prevHash.length, 'utf8');
  if (prevHash.length + written + 4 > scratch.length) {
    // Maybe cut short (write stops at the end): a larger buffer, then, and this one the slow way.
    scratch = Buffer.allocUnsafe(2 * (prevHash.length + Buffer.byteLength(text)));
    return createHash('sha256').update(prevHash).update(text).digest();
  }
  return hash('sha256', scratch.subarray(0, prevHash.length + written), 'buffer');
}

/** chainHashOf's working buffer (one process, one thread: never used by two at once). */
let scratch = Buffer.allocUnsafe(16 * 1024);

const iso = (value: unknown): string => (value as Date).toISOString();
const hex = (value: unknown): string => (value as Buffer).toString('hex');
const jsonText = (value: Json): string | null => (value === null ? null : JSON.stringify(value));
/** A Postgres text[] literal: every element quoted, quotes and backslashes escaped. */
const pgTextArray = (items: string[]): string =>
  `{${items.map((item) => `"${item.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;

/** Both append statements of a table, from its INSERT; `$n` and `$n+1` are the head's new seq and hash. */
function appendStatements(
  table: ChainTableName,
  insert: string,
  n: number,
): Pick<ChainAppender<unknown>, 'appendSql' | 'appendIfHeadSql'> {
  const move = `UPDATE audit_chain_heads SET seq = $${n}::bigint, hash = decode($${n + 1}, 'hex'), recorded_at = $1::timestamptz
    WHERE table_name = '${table}'`;
  return {
    appendSql: `WITH appended AS (${insert} RETURNING 1) ${move}`,
    appendIfHeadSql: `
    WITH head AS (${move} AND seq = $${n + 2}::bigint AND hash = decode($${n + 3}, 'hex') RETURNING 1),
      appended AS (${insert} WHERE EXISTS (SELECT 1 FROM head) RETURNING 1)
    SELECT count(*)::int AS moved FROM head`,
  };
}

/**
 * The rows of a message batch as one JSON array of arrays, in the order the INSERT reads them.
 * Every field but seq, targets and the hashes is the row's content in canonical JSON: the texts
 * the writer hashed (their JSON values are the fields' values). The body's JSON null stands for
 * SQL NULL (no body kept).
 */
export function messageBatchJson(rows: Array<Chained<MessageRowText>>): string {
  let out = '[';
  for (let i = 0; i < rows.length; i++) {
    const c = rows[i];
    const k = c.row.content;
    out +=
      `${i > 0 ? ',' : ''}["${c.seq}",${k[0]},${k[1]},${k[2]},${k[3]},${k[4]},${k[5]},` +
      `${JSON.stringify(pgTextArray(c.row.targets))},${k[7]},${k[8]},${k[9]},${k[10]},${k[11]},` +
      `${k[12]},${k[MESSAGE_BODY]},${k[14]},${k[15] ?? 'null'},` +
      `"${c.prevHash.toString('hex')}","${c.hash.toString('hex')}"]`;
  }
  return out + ']';
}

/** Where the body is in a message row's content. */
export const MESSAGE_BODY = 13;

/** How message rows are appended: from their canonical texts (see MessageRowText). */
export const MESSAGE_APPENDER: ChainAppender<MessageRowText> = {
  name: 'audit_messages',
  // The batch as one JSON document, an array per row (see messageBatchJson): the canonical texts
  // made for the hash go in as they are, with no array literal to escape, and Postgres parses
  // the whole batch once (the body is a jsonb value of it, not parsed again).
  ...appendStatements(
    'audit_messages',
    `INSERT INTO audit_messages (seq, recorded_at, message_id, route_id, route_version, source, outcome,
        destinations, targets, attempts, received_at, done_at, error_code, error_message, error_where, body,
        payload_sha256, trace_id, prev_hash, hash)
      SELECT (r->>0)::bigint, $1::timestamptz, r->>1, r->>2, (r->>3)::int, r->4, r->>5,
        r->6, (r->>7)::text[], (r->>8)::int, (r->>9)::timestamptz, (r->>10)::timestamptz,
        r->>11, r->>12, r->>13, NULLIF(r->14, 'null'::jsonb),
        decode(r->>15, 'hex'), r->>16, decode(r->>17, 'hex'), decode(r->>18, 'hex')
      FROM jsonb_array_elements($2::jsonb) AS r`,
    3,
  ),
  canonical: (r) => r.content,
  appendParams: (rows, head) => [
    rows[0].recordedAt,
    messageBatchJson(rows),
    head.seq,
    head.hash.toString('hex'),
  ],
};

export const MESSAGES: ChainTable<MessageRow> = {
  name: 'audit_messages',
  content: (r) => [
    r.messageId,
    r.routeId,
    r.routeVersion,
    r.source,
    r.outcome,
    r.destinations,
    r.targets,
    r.attempts,
    r.receivedAt,
    r.doneAt,
    r.errorCode,
    r.errorMessage,
    r.errorWhere,
    r.body,
    r.payloadSha256,
    // Hashed when there is one: the rows written before trace ids existed keep their hashes.
    ...(r.traceId === null ? [] : [r.traceId]),
  ],
  fromDb: (d) => ({
    seq: String(d.seq),
    recordedAt: iso(d.recorded_at),
    prevHash: d.prev_hash as Buffer,
    hash: d.hash as Buffer,
    row: {
      messageId: d.message_id as string,
      routeId: d.route_id as string,
      routeVersion: d.route_version as number,
      source: d.source as Json,
      outcome: d.outcome as MessageOutcomeValue,
      destinations: d.destinations as Json,
      targets: d.targets as string[],
      attempts: d.attempts as number,
      receivedAt: iso(d.received_at),
      doneAt: iso(d.done_at),
      errorCode: d.error_code as string | null,
      errorMessage: d.error_message as string | null,
      errorWhere: d.error_where as string | null,
      body: d.body as Json,
      payloadSha256: hex(d.payload_sha256),
      traceId: (d.trace_id as string | null | undefined) ?? null,
    },
  }),
};

export const EVENTS: ChainTable<EventRow> & ChainAppender<EventRow> = {
  name: 'audit_events',
  ...appendStatements(
    'audit_events',
    `INSERT INTO audit_events (seq, recorded_at, occurred_at, type, outcome, actor, actor_kind, provider, ip,
        target_type, target_id, details, before, after, diff, prev_hash, hash)
      SELECT t.seq, $1::timestamptz, t.occurred_at, t.type, t.outcome, t.actor, t.actor_kind, t.provider, t.ip,
        t.target_type, t.target_id, t.details::jsonb, t.before::jsonb, t.after::jsonb, t.diff::jsonb,
        decode(t.prev_hash, 'hex'), decode(t.hash, 'hex')
      FROM unnest($2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
        $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
        $17::text[])
        AS t(seq, occurred_at, type, outcome, actor, actor_kind, provider, ip, target_type, target_id, details,
          before, after, diff, prev_hash, hash)`,
    18,
  ),
  content: (r) => [
    r.occurredAt,
    r.type,
    r.outcome,
    r.actor,
    r.actorKind,
    r.provider,
    r.ip,
    r.targetType,
    r.targetId,
    r.details,
    r.before,
    r.after,
    r.diff,
  ],
  canonical: (r) => EVENTS.content(r).map(canonicalJson),
  appendParams: (rows, head) => {
    const col = <T>(pick: (c: Chained<EventRow>) => T): T[] => rows.map(pick);
    return [
      rows[0].recordedAt,
      col((c) => c.seq),
      col((c) => c.row.occurredAt),
      col((c) => c.row.type),
      col((c) => c.row.outcome),
      col((c) => c.row.actor),
      col((c) => c.row.actorKind),
      col((c) => c.row.provider),
      col((c) => c.row.ip),
      col((c) => c.row.targetType),
      col((c) => c.row.targetId),
      col((c) => JSON.stringify(c.row.details)),
      col((c) => jsonText(c.row.before)),
      col((c) => jsonText(c.row.after)),
      col((c) => jsonText(c.row.diff)),
      col((c) => c.prevHash.toString('hex')),
      col((c) => c.hash.toString('hex')),
      head.seq,
      head.hash.toString('hex'),
    ];
  },
  fromDb: (d) => ({
    seq: String(d.seq),
    recordedAt: iso(d.recorded_at),
    prevHash: d.prev_hash as Buffer,
    hash: d.hash as Buffer,
    row: {
      occurredAt: iso(d.occurred_at),
      type: d.type as string,
      outcome: d.outcome as EventOutcome,
      actor: d.actor as string,
      actorKind: d.actor_kind as string | null,
      provider: d.provider as string | null,
      ip: d.ip as string | null,
      targetType: d.target_type as string | null,
      targetId: d.target_id as string | null,
      details: d.details as Json,
      before: d.before as Json,
      after: d.after as Json,
      diff: d.diff as Json,
    },
  }),
};
