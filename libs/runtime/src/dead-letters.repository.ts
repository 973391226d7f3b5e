import { createHash } from 'node:crypto';
import { DataSource, SelectQueryBuilder } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { SecretBox } from '@junction/common';
import { DEFAULT_DECODE_LIMITS, redactPanText } from '@junction/pipeline';
import type { SourceRef } from '@junction/pipeline';
import { DeadLetterEntity } from './dead-letter.entity';

export interface ParkedMessage {
  messageId: string;
  routeId: string;
  routeVersion: number;
  /** The route's incarnation the version belongs to (1 unless the id was deleted and created again). */
  routeIncarnation?: number;
  source: SourceRef;
  reasonCode: string;
  reason: string;
  failedAt?: string;
  attempts: number;
  payload: Buffer;
  /** The hex SHA-256 of the whole payload, when the caller hashed it already (see payloadSha256). */
  payloadSha256?: string;
  headers: Record<string, string>;
  /** The source record's key (Kafka), kept sealed with the payload for a replay. */
  key?: Buffer;
}

/** A dead letter's sealed part, as stored (binary parts in base64). */
interface SealedLetter {
  payload: string;
  headers: Record<string, string>;
  key?: string;
  payloadBytes?: number;
}

/** A dead letter's sealed part, opened. */
export interface OpenedLetter {
  payload: Buffer;
  headers: Record<string, string>;
  /** The source record's key (Kafka), when it had one. */
  key?: Buffer;
}

function unsealed(letter: SealedLetter): OpenedLetter {
  return {
    payload: Buffer.from(letter.payload, 'base64'),
    headers: letter.headers,
    ...(letter.key !== undefined ? { key: Buffer.from(letter.key, 'base64') } : {}),
  };
}

/** What a replay was: the version it ran through, its outcome, and who asked (a user, or a job's). */
export interface ReplayRecord {
  version?: number;
  outcome?: string;
  by?: string;
  jobId?: string;
}

export interface ReplayHistoryRow {
  at: Date;
  version: number | null;
  outcome: string;
  error: string | null;
  by: string | null;
  jobId: string | null;
}

/** Which dead letters: every field narrows (AND); `q` matches the redacted reason text only. */
export interface DeadLetterFilter {
  routeId?: string;
  /** One or more reason codes (any of them). */
  reasonCodes?: string[];
  /** Created at or after. */
  from?: Date;
  /** Created before. */
  to?: Date;
  /** Case-insensitive substring of the reason, card numbers redacted. */
  q?: string;
}

/** A place in the newest-first order: the created_at (Postgres text, microseconds) and id of the last row seen. */
export interface DeadLetterPosition {
  createdAt: string;
  id: string;
}

export interface DeadLetterCount {
  routeId: string;
  reasonCode: string;
  count: number;
}

/** Escapes LIKE's wildcards so that `q` is matched as typed. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Adds a filter's conditions to a query over `dead_letters` aliased `d`. */
export function whereDeadLetters(
  q: SelectQueryBuilder<DeadLetterEntity>,
  filter: DeadLetterFilter,
): SelectQueryBuilder<DeadLetterEntity> {
  if (filter.routeId) q.andWhere('d.routeId = :routeId', { routeId: filter.routeId });
  if (filter.reasonCodes?.length)
    q.andWhere('d.reasonCode IN (:...reasonCodes)', { reasonCodes: filter.reasonCodes });
  if (filter.from) q.andWhere('d.createdAt >= :from', { from: filter.from });
  if (filter.to) q.andWhere('d.createdAt < :to', { to: filter.to });
  if (filter.q) q.andWhere(`d.reasonRedacted ILIKE :q ESCAPE '\\'`, { q: likePattern(filter.q) });
  return q;
}

/** The encrypted store of dead letters. Plain class: the runtime uses it without Nest. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text as a text column can hold it: NUL (which Postgres refuses) and lone UTF-16 surrogates
 * replaced. A message id or a failure reason comes from the sender (an AMQP message id, a JSON
 * error that quotes the payload): one odd message must still be parked, not fail its park and
 * be lost or loop. Card numbers the reason quotes are redacted here too.
 */
function storable(text: string): string;
function storable(text: string | null | undefined): string | null;
function storable(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  return redactPanText(text.split('\u0000').join('\uFFFD').replace(LONE_SURROGATE, '\uFFFD'));
}

/**
 * The most of a payload a dead letter keeps: one byte over the message size limit, so that what
 * is kept of a larger one is still refused by size if replayed, never run cut short. A broker
 * hands over far larger messages (Mosquitto up to 256 MB, RabbitMQ 3 up to 128 MB): sealing and
 * storing a 150 MB MQTT payload whole held the event loop 7.4 s and took 1.5 GB, every
 * preview or replay that opened it again as much, and its sealed text nears V8's longest string.
 */
export const MAX_KEPT_PAYLOAD_BYTES = DEFAULT_DECODE_LIMITS.maxBytes + 1;

/** Dead letters read at once by openMany: each is at most about 1.9 MB sealed. */
const OPEN_PAGE = 16;

export class DeadLettersRepository {
  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
  ) {}

  /**
   * Stores a dead letter; resolves once it is committed. A payload over the message size limit
   * is kept to its first MAX_KEPT_PAYLOAD_BYTES (its size and SHA-256 are of the whole).
   */
  async park(message: ParkedMessage): Promise<string> {
    const id = crypto.randomUUID();
    const kept =
      message.payload.length > MAX_KEPT_PAYLOAD_BYTES
        ? message.payload.subarray(0, MAX_KEPT_PAYLOAD_BYTES)
        : message.payload;
    const sealed = this.box.sealJson(
      {
        payload: kept.toString('base64'),
        headers: message.headers,
        ...(message.key !== undefined ? { key: message.key.toString('base64') } : {}),
        ...(kept !== message.payload ? { payloadBytes: message.payload.length } : {}),
      },
      `dead-letter:${id}`,
    );
    const row = {
      id,
      messageId: storable(message.messageId),
      routeId: message.routeId,
      routeVersion: message.routeVersion,
      routeIncarnation: message.routeIncarnation ?? 1,
      source: { ...message.source, name: storable(message.source.name) },
      reasonCode: message.reasonCode,
      reason: storable(message.reason),
      reasonRedacted: redactPanText(storable(message.reason)),
      failedAt: storable(message.failedAt),
      attempts: message.attempts,
      sealed,
      payloadSha256:
        message.payloadSha256 ?? createHash('sha256').update(message.payload).digest('hex'),
    };
    await this.db
      .getRepository(DeadLetterEntity)
      .insert(row as QueryDeepPartialEntity<DeadLetterEntity>);
    return id;
  }

  /**
   * Newest first (created_at, then id: a stable order), after `after` when given. Each row comes
   * with its position, for the next page's cursor.
   */
  async list(
    filter: DeadLetterFilter & { limit: number; before?: Date; after?: DeadLetterPosition },
  ): Promise<Array<{ row: DeadLetterEntity; position: DeadLetterPosition }>> {
    const q = whereDeadLetters(
      this.db.getRepository(DeadLetterEntity).createQueryBuilder('d'),
      filter,
    )
      .addSelect(
        `to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
        'position_created_at',
      )
      .orderBy('d.createdAt', 'DESC')
      .addOrderBy('d.id', 'DESC')
      .limit(filter.limit);
    if (filter.before) q.andWhere('d.createdAt < :before', { before: filter.before });
    if (filter.after)
      q.andWhere('(d.created_at, d.id) < (CAST(:afterAt AS timestamptz), CAST(:afterId AS uuid))', {
        afterAt: filter.after.createdAt,
        afterId: filter.after.id,
      });
    const { entities, raw } = await q.getRawAndEntities<{
      d_id: string;
      position_created_at: string;
    }>();
    const at = new Map(raw.map((r) => [r.d_id, r.position_created_at]));
    return entities.map((row) => ({ row, position: { createdAt: at.get(row.id)!, id: row.id } }));
  }

  /**
   * Up to `limit` matching dead letters, newest first, opened one at a time as the caller asks
   * (for previews: never shown as is). Read OPEN_PAGE at a time: read all at once, 1,000 letters
   * of 1 MB held the event loop 10 s and took 3.6 GB, and three such previews at once ran the
   * gateway out of heap. A letter deleted meanwhile is skipped.
   */
  async *openMany(
    filter: DeadLetterFilter,
    limit: number,
  ): AsyncGenerator<{ row: DeadLetterEntity } & OpenedLetter> {
    const rows = await whereDeadLetters(
      this.db.getRepository(DeadLetterEntity).createQueryBuilder('d'),
      filter,
    )
      .orderBy('d.createdAt', 'DESC')
      .addOrderBy('d.id', 'DESC')
      .limit(limit)
      .getMany();
    for (let at = 0; at < rows.length; at += OPEN_PAGE) {
      const page = rows.slice(at, at + OPEN_PAGE);
      const sealed = (await this.db.query(
        `SELECT id::text AS id, sealed FROM dead_letters WHERE id = ANY($1::uuid[])`,
        [page.map((row) => row.id)],
      )) as Array<{ id: string; sealed: string }>;
      const byId = new Map(sealed.map((r) => [r.id, r.sealed]));
      for (const row of page) {
        const text = byId.get(row.id);
        if (text === undefined) continue;
        byId.delete(row.id);
        yield { row, ...unsealed(this.box.openJson<SealedLetter>(text, `dead-letter:${row.id}`)) };
      }
    }
  }

  /** How many match, by route and reason code. */
  async count(filter: DeadLetterFilter): Promise<DeadLetterCount[]> {
    const rows = await whereDeadLetters(
      this.db.getRepository(DeadLetterEntity).createQueryBuilder('d'),
      filter,
    )
      .select('d.route_id', 'routeId')
      .addSelect('d.reason_code', 'reasonCode')
      .addSelect('count(*)::int', 'count')
      .groupBy('d.route_id')
      .addGroupBy('d.reason_code')
      .orderBy('d.route_id')
      .addOrderBy('d.reason_code')
      .getRawMany<DeadLetterCount>();
    return rows.map((r) => ({ ...r, count: Number(r.count) }));
  }

  /** The ids of the dead letters kept of one message, by its id as stored (the audit's port). */
  async idsOfMessage(messageId: string): Promise<string[]> {
    const rows = (await this.db.query(
      `SELECT id::text AS id FROM dead_letters WHERE message_id = $1`,
      [messageId],
    )) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  find(id: string): Promise<DeadLetterEntity | null> {
    return this.db.getRepository(DeadLetterEntity).findOneBy({ id });
  }

  /** The original payload and headers, decrypted (for replay only). */
  async open(id: string): Promise<({ row: DeadLetterEntity } & OpenedLetter) | null> {
    const row = await this.db
      .getRepository(DeadLetterEntity)
      .createQueryBuilder('d')
      .addSelect('d.sealed')
      .where('d.id = :id', { id })
      .getOne();
    if (!row) return null;
    const opened = this.box.openJson<SealedLetter>(row.sealed, `dead-letter:${id}`);
    return { row, ...unsealed(opened) };
  }

  /** Counts a replay on the dead letter and keeps it in the letter's replay history. */
  async markReplayed(id: string, error: string | null, replay: ReplayRecord = {}): Promise<void> {
    await this.db.query(
      `WITH letter AS (
         UPDATE dead_letters SET replays = replays + 1, last_replay_error = $2,
                replayed_at = CASE WHEN $2::text IS NULL THEN now() ELSE replayed_at END
          WHERE id = $1 RETURNING id)
       INSERT INTO dead_letter_replays (dead_letter_id, route_version, outcome, error, replayed_by, job_id)
       SELECT id, $3, $4, $2, $5, $6 FROM letter`,
      [
        id,
        storable(error),
        replay.version ?? null,
        replay.outcome ?? (error ? 'dead-lettered' : 'replayed'),
        storable(replay.by) ?? null,
        replay.jobId ?? null,
      ],
    );
  }

  /** Every replay of a dead letter, oldest first. */
  async replays(id: string): Promise<ReplayHistoryRow[]> {
    const rows = (await this.db.query(
      `SELECT replayed_at, route_version, outcome, error, replayed_by, job_id
         FROM dead_letter_replays WHERE dead_letter_id = $1 ORDER BY id LIMIT 1000`,
      [id],
    )) as Array<{
      replayed_at: Date;
      route_version: number | null;
      outcome: string;
      error: string | null;
      replayed_by: string | null;
      job_id: string | null;
    }>;
    return rows.map((r) => ({
      at: r.replayed_at,
      version: r.route_version,
      outcome: r.outcome,
      error: r.error,
      by: r.replayed_by,
      jobId: r.job_id,
    }));
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.getRepository(DeadLetterEntity).delete({ id });
    return (result.affected ?? 0) > 0;
  }
}
