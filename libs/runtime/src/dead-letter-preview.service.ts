import { isUtf8 } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { JunctionError } from '@junction/common';
import { decodeBody, PipelineError, PipelineErrorCode, redactPanText } from '@junction/pipeline';
import type { DryRunView, RoutesService } from '@junction/registry';
import { DeadLettersRepository } from './dead-letters.repository';
import { DeadLetterQuery, parseDeadLetterQuery } from './dead-letters.service';

/** Most dead letters one preview runs (each through the pipeline, and up to 3 per reason twice). */
export const PREVIEW_MAX_ITEMS = 1000;
const EXAMPLES_PER_REASON = 3;

/**
 * Longest one preview runs dead letters through pipelines, in ms: each run has its own budget
 * (MESSAGE_BUDGET_MS), but a thousand of them one after the other held the event loop for
 * seconds. Once it is spent, the preview answers with what it ran (`cutShort`).
 */
export const PREVIEW_BUDGET_MS = 2000;

type Runner = Awaited<ReturnType<RoutesService['dryRunner']>>;

export interface PreviewExample {
  deadLetterId: string;
  messageId: string;
  routeId: string;
  /** How it failed, and (when its version is still stored) its run through that version now. */
  before: {
    version: number;
    reasonCode: string;
    reason: string;
    failedAt: string | null;
    run: DryRunView | null;
  };
  after: DryRunView;
}

export interface PreviewReason {
  reasonCode: string;
  /** Dead letters of this reason that were run. */
  total: number;
  /** Of them, how many the pipeline would now hand to a destination. */
  wouldDeliver: number;
  dropped: number;
  failed: number;
  examples: PreviewExample[];
}

export interface PreviewResult {
  /** `draft` for a document given in the request. */
  version: number | 'draft' | null;
  /** Dead letters run (at most the limit). */
  evaluated: number;
  /** Dead letters that match the filter. */
  matched: number;
  /** More matched than were run. */
  truncated: boolean;
  /** The preview stopped at its time budget (PREVIEW_BUDGET_MS) before running all it read. */
  cutShort: boolean;
  wouldDeliver: number;
  byReason: PreviewReason[];
}

/**
 * What a fix would do to the dead letters a filter matches: each runs through a draft document
 * or a chosen version (by default its route's active one) as `POST /routes/{id}/test` does, so
 * nothing is delivered, counted per reason code. Traces are redacted of card numbers.
 */
export class DeadLetterPreviewService {
  constructor(
    private readonly store: DeadLettersRepository,
    private readonly routes: RoutesService,
    /** Monotonic ms the time budget is read on (tests give their own). */
    private readonly clock: () => number = () => performance.now(),
  ) {}

  async preview(input: {
    filter?: DeadLetterQuery;
    version?: number;
    document?: unknown;
    limit?: number;
  }): Promise<PreviewResult> {
    const filter = parseDeadLetterQuery(input.filter ?? {});
    if ((input.version !== undefined || input.document !== undefined) && !filter.routeId)
      throw new JunctionError(
        'BAD_REQUEST',
        'a version or document belongs to one route: give filter.routeId with it',
      );
    if (input.version !== undefined && input.document !== undefined)
      throw new JunctionError('BAD_REQUEST', 'give a version or a document, not both');
    const limit = Math.min(Math.max(input.limit ?? PREVIEW_MAX_ITEMS, 1), PREVIEW_MAX_ITEMS);
    // The target is compiled (and a draft checked) before any dead letter is opened.
    const target =
      filter.routeId !== undefined
        ? await this.routes.dryRunner(filter.routeId, {
            version: input.version,
            document: input.document,
          })
        : undefined;
    const runners = new Map<string, Promise<Runner | null>>();
    const runnerOf = (routeId: string, version?: number): Promise<Runner | null> => {
      const key = `${routeId}\u0000${version ?? ''}`;
      let r = runners.get(key);
      if (!r) {
        r = this.routes.dryRunner(routeId, { version }).catch(() => null);
        runners.set(key, r);
      }
      return r;
    };
    const counts = await this.store.count(filter);
    const matched = counts.reduce((n, c) => n + c.count, 0);
    const reasons = new Map<string, PreviewReason>();
    const deadline = this.clock() + PREVIEW_BUDGET_MS;
    let evaluated = 0;
    let cutShort = false;
    // Opened as they are run, a page at a time: not all of them first (see openMany).
    for await (const { row, payload, headers, key } of this.store.openMany(filter, limit)) {
      // The record's key as a replay gives it (Kafka): a route that reads $meta.key runs alike.
      const keyText = key !== undefined && isUtf8(key) ? key.toString('utf8') : undefined;
      if (this.clock() > deadline) {
        cutShort = true;
        break;
      }
      evaluated += 1;
      const runner = target ?? (await runnerOf(row.routeId));
      const reason =
        reasons.get(row.reasonCode) ??
        reasons
          .set(row.reasonCode, {
            reasonCode: row.reasonCode,
            total: 0,
            wouldDeliver: 0,
            dropped: 0,
            failed: 0,
            examples: [],
          })
          .get(row.reasonCode)!;
      reason.total += 1;
      const after = runner
        ? await run(runner, payload, headers, keyText)
        : notRunnable(`route '${row.routeId}' has no version to run`);
      if (after.outcome === 'deliver') reason.wouldDeliver += 1;
      else if (after.outcome === 'drop') reason.dropped += 1;
      else reason.failed += 1;
      if (reason.examples.length < EXAMPLES_PER_REASON) {
        const own = await runnerOf(row.routeId, row.routeVersion);
        reason.examples.push({
          deadLetterId: row.id,
          messageId: row.messageId,
          routeId: row.routeId,
          before: {
            version: row.routeVersion,
            reasonCode: row.reasonCode,
            reason: row.reasonRedacted,
            failedAt: row.failedAt,
            run: own ? await run(own, payload, headers, keyText) : null,
          },
          after,
        });
      }
    }
    const byReason = [...reasons.values()].sort(
      (a, b) => b.total - a.total || a.reasonCode.localeCompare(b.reasonCode),
    );
    return {
      version: target?.version ?? null,
      evaluated,
      matched,
      truncated: matched > evaluated,
      cutShort,
      wouldDeliver: byReason.reduce((n, r) => n + r.wouldDeliver, 0),
      byReason,
    };
  }
}

/** Runs a stored payload as the worker would decode it: a payload that is not JSON fails. */
async function run(
  runner: Runner,
  payload: Buffer,
  headers: Record<string, string>,
  key?: string,
): Promise<DryRunView> {
  let body: unknown;
  try {
    body = decodeBody(payload);
  } catch (err) {
    if (err instanceof PipelineError)
      return notRunnable(err.message, err.code, runner.version === 'draft' ? 0 : runner.version);
    throw err;
  }
  return runner.run({ body, headers, ...(key !== undefined ? { key } : {}) });
}

function notRunnable(
  message: string,
  code: PipelineErrorCode = 'INPUT_REJECTED',
  version = 0,
): DryRunView {
  return {
    version,
    outcome: 'error',
    error: { code, message: redactPanText(message), where: null },
    stages: [],
    deliveries: [],
    panWarnings: [],
  };
}
