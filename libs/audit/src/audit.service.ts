import { Logger } from '@nestjs/common';
import { Readable } from 'node:stream';
import { JunctionError, parseApiTime } from '@junction/common';
import { redactPanText } from '@junction/pipeline';
import { safeText } from './audit-json';
import type { DeadLetterIdsPort } from './audit-ports';
import { Chained, ChainTableName, EVENTS, MESSAGES } from './audit-tables';
import { EVENT_COLUMNS, ExportFormat, exportStream, MESSAGE_COLUMNS } from './audit-export';
import {
  AuditRepository,
  ChainPosition,
  EventFilter,
  MessageFilter,
  ReadOptions,
  ReadRows,
} from './audit.repository';
import {
  decodeCursor,
  encodeCursor,
  EventAuditView,
  eventView,
  MessageAuditView,
  messageView,
} from './audit-views';
import { TableVerifyResult, verifyChain } from './chain-verifier';
import { AnchorCheckResult, checkAnchors } from './anchor-verifier';
import { AnchorDirectory } from './anchors';
import { KeyObject } from 'node:crypto';

/** Where the signed anchors are published, and the key that must have signed them. */
export interface AnchorSource {
  directory: AnchorDirectory;
  publicKey: KeyObject;
}

/** The anchor check of `verify`: `configured: false` when no signing key is set (nothing then proves old rows). */
export interface AnchorVerifyResult extends Partial<AnchorCheckResult> {
  configured: boolean;
}

export interface Page<V> {
  items: V[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  firstBrokenId?: string;
  firstBrokenTable?: string;
  reason?: string;
  tables: TableVerifyResult[];
  anchors: AnchorVerifyResult;
}

const EXPORT_BATCH = 1_000;
/**
 * Most bytes of records one page or export batch reads (a message record holds its body, up to
 * the body limit each): a page then has fewer items, and a nextCursor, rather than 500 MiB.
 */
export const READ_MAX_BYTES = 8 * 1024 * 1024;
const MAX_TRAIL = 1_000;

function time(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const t = parseApiTime(value);
  if (!t) throw new JunctionError('BAD_REQUEST', `${name} must be an ISO 8601 date-time`);
  return t.toISOString();
}

function timeRange<F extends { from?: string; to?: string }>(filter: F): F {
  return { ...filter, from: time(filter.from, 'from'), to: time(filter.to, 'to') };
}

/**
 * Whether a filter's text holds a card number. The trail keeps only redacted text, and a filter
 * is redacted the same way to match it: a search for a card number would then find the records
 * that held it (an oracle for unmasked data, and its first and last digits on the screen). Such
 * a search finds nothing.
 */
function holdsCardNumber(filter: object): boolean {
  return Object.values(filter).some((v) => typeof v === 'string' && redactPanText(v) !== v);
}

async function* none(): AsyncGenerator<never> {}

/** Queries, exports and verification of the audit trail (for the auditor role). */
export class AuditService {
  private readonly log = new Logger('Audit');

  constructor(
    private readonly repo: AuditRepository,
    private readonly anchorSource?: AnchorSource,
    private readonly deadLetters?: DeadLetterIdsPort,
    private readonly maxBytes = READ_MAX_BYTES,
  ) {}

  /** Message records, newest first. */
  async messages(
    filter: MessageFilter,
    page: { limit?: number; cursor?: string },
  ): Promise<Page<MessageAuditView>> {
    if (holdsCardNumber(filter)) return { items: [], nextCursor: null };
    return this.page((o) => this.repo.messages(timeRange(filter), o), messageView, page);
  }

  /**
   * The story of one message: every record of its id (each route, each replay), oldest first,
   * and the replays that people or jobs triggered.
   */
  async message(messageId: string): Promise<{
    messageId: string;
    records: MessageAuditView[];
    replays: EventAuditView[];
  }> {
    if (holdsCardNumber({ messageId }))
      throw new JunctionError('NOT_FOUND', `no audit record of message ${safeText(messageId)}`);
    const rows = await this.repo.messages({ messageId }, { order: 'asc', limit: MAX_TRAIL });
    // Its records may be gone with a day retention dropped while its dead letter was kept and
    // replayed since: a replay that failed again leaves only its event, which still tells it.
    const stored = rows[0]?.row.messageId ?? safeText(messageId);
    const letters = (await this.deadLetters?.idsOfMessage(stored)) ?? [];
    const replays = await this.repo.replaysOf(stored, letters, MAX_TRAIL);
    if (rows.length === 0 && replays.length === 0)
      throw new JunctionError('NOT_FOUND', `no audit record of message ${safeText(messageId)}`);
    return {
      messageId: stored,
      records: rows.map(messageView),
      replays: replays.map(eventView),
    };
  }

  /** Who did what, newest first. */
  async events(
    filter: EventFilter,
    page: { limit?: number; cursor?: string },
  ): Promise<Page<EventAuditView>> {
    if (holdsCardNumber(filter)) return { items: [], nextCursor: null };
    return this.page((o) => this.repo.events(timeRange(filter), o), eventView, page);
  }

  /**
   * The matching message records, oldest first, streamed: those written before the export began
   * (up to the chain head as read now), so that it ends however fast records come and however
   * slowly the client reads.
   */
  async exportMessages(filter: MessageFilter, format: ExportFormat): Promise<Readable> {
    const f = timeRange(filter);
    if (holdsCardNumber(f)) return exportStream(none(), format, MESSAGE_COLUMNS, () => undefined);
    const upTo = { ...f, maxSeq: (await this.repo.head(MESSAGES.name)).seq };
    return exportStream(
      this.batches((o) => this.repo.messages(upTo, o), messageView),
      format,
      MESSAGE_COLUMNS,
      (err) => this.log.error(`message export failed: ${safeText(err.message)}`),
    );
  }

  async exportEvents(filter: EventFilter, format: ExportFormat): Promise<Readable> {
    const f = timeRange(filter);
    if (holdsCardNumber(f)) return exportStream(none(), format, EVENT_COLUMNS, () => undefined);
    const upTo = { ...f, maxSeq: (await this.repo.head(EVENTS.name)).seq };
    return exportStream(
      this.batches((o) => this.repo.events(upTo, o), eventView),
      format,
      EVENT_COLUMNS,
      (err) => this.log.error(`event export failed: ${safeText(err.message)}`),
    );
  }

  /** Checks the hash chains over a time range (both tables unless one is named). */
  async verify(
    range: { from?: string; to?: string },
    table?: 'messages' | 'events',
    options: { listAnchors?: boolean } = {},
  ): Promise<VerifyResult> {
    const r = timeRange(range);
    const results: TableVerifyResult[] = [];
    if (table !== 'events') results.push(await verifyChain(this.repo, MESSAGES, r));
    if (table !== 'messages') results.push(await verifyChain(this.repo, EVENTS, r));
    let anchors: AnchorVerifyResult = { configured: false };
    if (this.anchorSource) {
      // The whole list only where it is asked for (a report): anchors pile up over the years.
      const { anchors: list, ...checked } = await checkAnchors(
        this.repo,
        await this.anchorSource.directory.readAll(),
        this.anchorSource.publicKey,
        table ? [table === 'messages' ? 'audit_messages' : 'audit_events'] : undefined,
      );
      anchors = { configured: true, ...checked, ...(options.listAnchors ? { anchors: list } : {}) };
    }
    // The first broken record: the chain's own check, or the anchors' (an edit whose chain was
    // recomputed passes the first and is named only by the second), lowest place first.
    const candidates: Array<{ table: string; id: string; reason?: string }> = [];
    const chainBroken = results.find((t) => !t.ok);
    if (chainBroken?.firstBrokenId)
      candidates.push({
        table: chainBroken.table,
        id: chainBroken.firstBrokenId,
        reason: chainBroken.reason,
      });
    if (anchors.ok === false)
      candidates.push({
        table: anchors.firstBrokenTable ?? '',
        id: anchors.firstBrokenId ?? '',
        reason: anchors.reason,
      });
    const order = (c: { table: string; id: string }) =>
      [c.table === 'audit_events' ? 1 : 0, c.id ? BigInt(c.id) : 0n] as const;
    candidates.sort((a, b) => {
      const [ta, sa] = order(a);
      const [tb, sb] = order(b);
      return ta !== tb ? ta - tb : sa < sb ? -1 : sa > sb ? 1 : 0;
    });
    const broken = candidates[0];
    return {
      ok: !broken,
      checked: results.reduce((sum, t) => sum + t.checked, 0),
      ...(broken
        ? {
            ...(broken.id
              ? { firstBrokenId: broken.id, firstBrokenTable: broken.table as ChainTableName }
              : {}),
            reason: broken.reason,
          }
        : {}),
      tables: results,
      anchors,
    };
  }

  private async page<R, V>(
    read: (options: ReadOptions) => Promise<ReadRows<R>>,
    view: (row: Chained<R>) => V,
    page: { limit?: number; cursor?: string },
  ): Promise<Page<V>> {
    const limit = Math.min(Math.max(page.limit ?? 50, 1), 500);
    const after = page.cursor ? decodeCursor(page.cursor) : undefined;
    const rows = await read({ order: 'desc', limit: limit + 1, after, maxBytes: this.maxBytes });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map(view),
      nextCursor:
        (rows.length > limit || rows.cut) && last
          ? encodeCursor({ recordedAt: last.recordedAt, seq: last.seq })
          : null,
    };
  }

  /** Keyset reads a batch at a time: never the whole result in memory. */
  private async *batches<R, V>(
    read: (options: ReadOptions) => Promise<ReadRows<R>>,
    view: (row: Chained<R>) => V,
  ): AsyncGenerator<V> {
    let after: ChainPosition | undefined;
    // Postgres sizes every row up to `limit` to find where the budget cuts: after a cut batch
    // the next asks for twice what fitted (not 1,000 again), so that big records are not read
    // over and over, batch after batch.
    let limit = EXPORT_BATCH;
    for (;;) {
      const rows = await read({ order: 'asc', limit, after, maxBytes: this.maxBytes });
      for (const row of rows) yield view(row);
      if (rows.length < limit && !rows.cut) return;
      limit = rows.cut
        ? Math.min(EXPORT_BATCH, rows.length * 2)
        : Math.min(EXPORT_BATCH, limit * 2);
      const last = rows[rows.length - 1];
      after = { recordedAt: last.recordedAt, seq: last.seq };
    }
  }
}
