import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { SecretBox } from '@junction/common';
import { redactPanText } from '@junction/pipeline';
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
  headers: Record<string, string>;
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

export class DeadLettersRepository {
  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
  ) {}

  /** Stores a dead letter; resolves once it is committed. */
  async park(message: ParkedMessage): Promise<string> {
    const id = crypto.randomUUID();
    const sealed = this.box.sealJson(
      { payload: message.payload.toString('base64'), headers: message.headers },
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
      failedAt: storable(message.failedAt),
      attempts: message.attempts,
      sealed,
      payloadSha256: createHash('sha256').update(message.payload).digest('hex'),
    };
    await this.db
      .getRepository(DeadLetterEntity)
      .insert(row as QueryDeepPartialEntity<DeadLetterEntity>);
    return id;
  }

  list(filter: { routeId?: string; limit: number; before?: Date }): Promise<DeadLetterEntity[]> {
    const q = this.db
      .getRepository(DeadLetterEntity)
      .createQueryBuilder('d')
      .orderBy('d.createdAt', 'DESC')
      .addOrderBy('d.id', 'DESC')
      .limit(filter.limit);
    if (filter.routeId) q.andWhere('d.routeId = :routeId', { routeId: filter.routeId });
    if (filter.before) q.andWhere('d.createdAt < :before', { before: filter.before });
    return q.getMany();
  }

  find(id: string): Promise<DeadLetterEntity | null> {
    return this.db.getRepository(DeadLetterEntity).findOneBy({ id });
  }

  /** The original payload and headers, decrypted (for replay only). */
  async open(
    id: string,
  ): Promise<{ row: DeadLetterEntity; payload: Buffer; headers: Record<string, string> } | null> {
    const row = await this.db
      .getRepository(DeadLetterEntity)
      .createQueryBuilder('d')
      .addSelect('d.sealed')
      .where('d.id = :id', { id })
      .getOne();
    if (!row) return null;
    const opened = this.box.openJson<{ payload: string; headers: Record<string, string> }>(
      row.sealed,
      `dead-letter:${id}`,
    );
    return { row, payload: Buffer.from(opened.payload, 'base64'), headers: opened.headers };
  }

  async markReplayed(id: string, error: string | null): Promise<void> {
    await this.db.query(
      `UPDATE dead_letters SET replays = replays + 1, last_replay_error = $2, replayed_at = CASE WHEN $2::text IS NULL THEN now() ELSE replayed_at END WHERE id = $1`,
      [id, storable(error)],
    );
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.getRepository(DeadLetterEntity).delete({ id });
    return (result.affected ?? 0) > 0;
  }
}
