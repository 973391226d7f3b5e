import { JunctionError } from '@junction/common';
import { redactPans } from '@junction/pipeline';
import { DeadLetterEntity } from './dead-letter.entity';
import { DeadLettersRepository } from './dead-letters.repository';
import { RouteSupervisor } from './route-supervisor';

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

function view(d: DeadLetterEntity): DeadLetterView {
  return {
    id: d.id,
    messageId: d.messageId,
    routeId: d.routeId,
    routeVersion: d.routeVersion,
    routeIncarnation: d.routeIncarnation,
    source: d.source,
    reasonCode: d.reasonCode,
    reason: d.reason,
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

  async list(filter: {
    routeId?: string;
    limit?: number;
    before?: string;
  }): Promise<DeadLetterView[]> {
    const before = filter.before ? new Date(filter.before) : undefined;
    if (before && Number.isNaN(before.getTime()))
      throw new JunctionError('BAD_REQUEST', 'before must be an ISO date-time');
    return (
      await this.store.list({
        routeId: filter.routeId,
        limit: Math.min(Math.max(filter.limit ?? 50, 1), 500),
        before,
      })
    ).map(view);
  }

  /** One dead letter with its payload, card numbers redacted (it is shown to operators). */
  async get(
    id: string,
  ): Promise<DeadLetterView & { payload: unknown; headers: Record<string, string> }> {
    const opened = await this.store.open(id);
    if (!opened) throw new JunctionError('NOT_FOUND', `no dead letter ${id}`);
    const text = opened.payload.toString('utf8');
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = text;
    }
    return {
      ...view(opened.row),
      payload: redactPans(payload),
      headers: redactPans(opened.headers),
    };
  }

  /** Runs the original message again through the route's running version. */
  async replay(id: string): Promise<{
    id: string;
    outcome: string;
    error?: { code: string; message: string; where?: string };
  }> {
    const opened = await this.store.open(id);
    if (!opened) throw new JunctionError('NOT_FOUND', `no dead letter ${id}`);
    const worker = this.supervisor.worker(opened.row.routeId);
    if (!worker)
      throw new JunctionError(
        'CONFLICT',
        `route '${opened.row.routeId}' is not running; start it to replay its dead letters`,
      );
    const result = await worker.process(
      {
        id: opened.row.messageId,
        headers: opened.headers,
        payload: opened.payload,
        source: opened.row.source,
        redelivered: true,
      },
      { replay: true },
    );
    const error =
      result.outcome === 'dead-lettered'
        ? (result.error ?? { code: 'FAILED', message: 'failed' })
        : undefined;
    await this.store.markReplayed(id, error ? `${error.code}: ${error.message}` : null);
    return { id: result.id, outcome: result.outcome, ...(error ? { error } : {}) };
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.delete(id)))
      throw new JunctionError('NOT_FOUND', `no dead letter ${id}`);
  }
}
