import { JunctionError, parseApiTime } from '@junction/common';
import { changedNumber, redactPans } from '@junction/pipeline';
import { DeadLetterEntity } from './dead-letter.entity';
import {
  DeadLetterFilter,
  DeadLetterPosition,
  DeadLettersRepository,
} from './dead-letters.repository';
import { RouteSupervisor } from './route-supervisor';
import type { RouteWorker } from './route-worker';

/** One replay of a dead letter, as the API shows it. */
export interface ReplayHistoryView {
  at: string;
  version: number | null;
  outcome: string;
  error: string | null;
  by: string | null;
  jobId: string | null;
}

export interface DeadLetterView {
  id: string;
  messageId: string;
  routeId: string;
  routeVersion: number;
  routeIncarnation: number;
  source: unknown;
  reasonCode: string;
  reason: string;
  failedAt: string | null;
  attempts: number;
  payloadSha256: string;
  createdAt: string;
  replayedAt: string | null;
  replays: number;
  lastReplayError: string | null;
}

/** A filter as the API takes it: strings, not yet checked. */
export interface DeadLetterQuery {
  routeId?: string;
  /** One code, or several separated by commas. */
  reasonCode?: string | string[];
  from?: string;
  to?: string;
  q?: string;
}

function date(name: string, text: string | undefined): Date | undefined {
  if (text === undefined || text === '') return undefined;
  const d = parseApiTime(text);
  if (!d) throw new JunctionError('BAD_REQUEST', `${name} must be an ISO date-time`);
  return d;
}

/** Checks and converts a filter from the API (shared by lists, counts, replay jobs and previews). */
export function parseDeadLetterQuery(query: DeadLetterQuery): DeadLetterFilter {
  const codes = (Array.isArray(query.reasonCode) ? query.reasonCode : [query.reasonCode ?? ''])
    .flatMap((c) => c.split(','))
    .map((c) => c.trim())
    .filter((c) => c !== '');
  const from = date('from', query.from);
  const to = date('to', query.to);
  if (from && to && from >= to) throw new JunctionError('BAD_REQUEST', 'from must be before to');
  if (query.q !== undefined && query.q.length > 200)
    throw new JunctionError('BAD_REQUEST', 'q is at most 200 characters');
  return {
    ...(query.routeId ? { routeId: query.routeId } : {}),
    ...(codes.length ? { reasonCodes: [...new Set(codes)] } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(query.q ? { q: query.q } : {}),
  };
}

/** The opaque paging cursor: the position of the last row of a page. */
export function encodeCursor(p: DeadLetterPosition): string {
  return Buffer.from(JSON.stringify([p.createdAt, p.id]), 'utf8').toString('base64url');
}

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeCursor(cursor: string): DeadLetterPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string' ||
    !CURSOR_AT.test(parsed[0]) ||
    !UUID.test(parsed[1])
  )
    throw new JunctionError('BAD_REQUEST', 'cursor is not one this API gave out');
  return { createdAt: parsed[0], id: parsed[1] };
}

export interface DeadLetterCounts {
  total: number;
  byReason: Array<{ reasonCode: string; count: number }>;
  byRoute: Array<{ routeId: string; count: number }>;
  byRouteAndReason: Array<{ routeId: string; reasonCode: string; count: number }>;
}

function view(d: DeadLetterEntity): DeadLetterView {
  return {
    id: d.id,
    messageId: d.messageId,
    routeId: d.routeId,
    routeVersion: d.routeVersion,
    routeIncarnation: d.routeIncarnation,
    source: d.source,
    reasonCode: d.reasonCode,
    reason: d.reasonRedacted,
    failedAt: d.failedAt,
    attempts: d.attempts,
    payloadSha256: d.payloadSha256,
    createdAt: d.createdAt.toISOString(),
    replayedAt: d.replayedAt?.toISOString() ?? null,
    replays: d.replays,
    lastReplayError: d.lastReplayError,
  };
}

export class DeadLettersService {
  constructor(
    private readonly store: DeadLettersRepository,
    private readonly supervisor: RouteSupervisor,
  ) {}

  /** One page, newest first; `nextCursor` is set when there may be more. */
  async list(
    query: DeadLetterQuery & { limit?: number; before?: string; cursor?: string },
  ): Promise<{ items: DeadLetterView[]; nextCursor: string | null }> {
    const filter = parseDeadLetterQuery(query);
    const before = date('before', query.before);
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const rows = await this.store.list({ ...filter, limit, before, after });
    const last = rows.at(-1);
    return {
      items: rows.map((r) => view(r.row)),
      nextCursor: rows.length === limit && last ? encodeCursor(last.position) : null,
    };
  }

  /** How many dead letters match, by reason code, by route and by both. */
  async counts(query: DeadLetterQuery): Promise<DeadLetterCounts> {
    const rows = await this.store.count(parseDeadLetterQuery(query));
    const sum = (key: 'routeId' | 'reasonCode') => {
      const m = new Map<string, number>();
      for (const r of rows) m.set(r[key], (m.get(r[key]) ?? 0) + r.count);
      return [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    };
    return {
      total: rows.reduce((n, r) => n + r.count, 0),
      byReason: sum('reasonCode').map(([reasonCode, count]) => ({ reasonCode, count })),
      byRoute: sum('routeId').map(([routeId, count]) => ({ routeId, count })),
      byRouteAndReason: rows,
    };
  }

  /** One dead letter with its payload, card numbers redacted (it is shown to operators). */
  async get(id: string): Promise<
    DeadLetterView & {
      payload: unknown;
      headers: Record<string, string>;
      replayHistory: ReplayHistoryView[];
    }
  > {
    const opened = await this.store.open(id);
    if (!opened) throw new JunctionError('NOT_FOUND', `no dead letter ${id}`);
    const text = opened.payload.toString('utf8');
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = text;
    }
    // Parsed, a number a double cannot hold would show changed: the operator sees what came.
    if (typeof payload !== 'string' && changedNumber(text)) payload = text;
    const history = await this.store.replays(id);
    return {
      ...view(opened.row),
      payload: redactPans(payload),
      headers: redactPans(opened.headers),
      replayHistory: history.map((h) => ({ ...h, at: h.at.toISOString() })),
    };
  }

  /**
   * Runs the original message again through the route's running version, or through `through`
   * (a worker of another version, for replay jobs that name one).
   */
  async replay(
    id: string,
    through?: RouteWorker,
    by?: { name: string; jobId?: string },
  ): Promise<{
    id: string;
    outcome: string;
    error?: { code: string; message: string; where?: string };
  }> {
    const opened = await this.store.open(id);
    if (!opened) throw new JunctionError('NOT_FOUND', `no dead letter ${id}`);
    let running = this.supervisor.worker(opened.row.routeId);
    if (!running) {
      // Just starting (this process booted, or the route was started a moment ago)?
      await this.supervisor.settled(opened.row.routeId);
      running = this.supervisor.worker(opened.row.routeId);
    }
    // A stopped route takes no messages, replayed ones included, whichever version they go
    // through (a replay job's own worker of a chosen version kept delivering after a stop).
    if (!running)
      throw new JunctionError(
        'CONFLICT',
        `route '${opened.row.routeId}' is not running; start it to replay its dead letters`,
        { code: 'ROUTE_STOPPED' },
      );
    const worker = through ?? running;
    // A worker of a chosen version (a replay job's) is the job's own: it would go on delivering
    // through a route deleted while the job runs (15 of 20 letters went out after the delete).
    if (through && !(await this.supervisor.lives(opened.row.routeId, through.incarnation)))
      throw new JunctionError(
        'CONFLICT',
        `route '${opened.row.routeId}' was deleted (or created again) since the replay started; its dead letters are not replayed through it`,
        { code: 'ROUTE_DELETED' },
      );
    // A deleted route's id may be taken again by another route (a new incarnation, from version
    // 1, with its own destinations): its dead letters are not that route's messages.
    if (worker.incarnation !== opened.row.routeIncarnation)
      throw new JunctionError(
        'CONFLICT',
        `dead letter ${id} belongs to an earlier life of route '${opened.row.routeId}' ` +
          `(incarnation ${opened.row.routeIncarnation}; the id was deleted and created again as ` +
          `incarnation ${worker.incarnation}): it is not replayed into the new route`,
        {
          code: 'ROUTE_REPLACED',
          routeIncarnation: opened.row.routeIncarnation,
          currentIncarnation: worker.incarnation,
        },
      );
    const result = await worker.process(
      {
        id: opened.row.messageId,
        headers: opened.headers,
        payload: opened.payload,
        source: opened.row.source,
        redelivered: true,
        ...(opened.key !== undefined ? { key: opened.key } : {}),
      },
      { replay: true },
    );
    const error =
      result.outcome === 'dead-lettered'
        ? (result.error ?? { code: 'FAILED', message: 'failed' })
        : undefined;
    await this.store.markReplayed(id, error ? `${error.code}: ${error.message}` : null, {
      version: worker.version,
      outcome: result.outcome,
      by: by?.name,
      jobId: by?.jobId,
    });
    return { id: result.id, outcome: result.outcome, ...(error ? { error } : {}) };
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.delete(id)))
      throw new JunctionError('NOT_FOUND', `no dead letter ${id}`);
  }
}
