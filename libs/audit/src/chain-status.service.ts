import type { KeyObject } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkAnchor } from './anchors';
import type { ChainTableName } from './audit-tables';
import { ChainStatusRepository } from './chain-status.repository';

/**
 * anchored: every row is covered by a signed anchor. pending: rows newer than the last anchor,
 * which is recent. stale: rows wait longer than three anchor intervals, or the newest anchor does
 * not check (the signer refuses to sign a chain it cannot check, so a changed row shows as this).
 * unanchored: no signing key is configured, so nothing outside the database vouches for the rows.
 */
export type ChainState = 'anchored' | 'pending' | 'stale' | 'unanchored';

export interface ChainStatusView {
  state: ChainState;
  /** Why the state is stale, in words. */
  problem: string | null;
  chains: Array<{
    table: ChainTableName;
    headSeq: string;
    headAt: string | null;
    /** The last seq the newest anchor covers; null: none yet. */
    anchoredSeq: string | null;
    /** Rows past the newest anchor. */
    unanchored: number;
  }>;
  anchors: { configured: boolean; intervalMs: number | null; lastSignedAt: string | null };
}

export interface ChainStatusAnchors {
  dir: string;
  publicKey: KeyObject;
  intervalMs: number;
}

/** The newest anchor file of the folder (names sort by signing time), parsed; undefined: none. */
async function newestAnchor(dir: string): Promise<{ file: string; content: unknown } | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const file = names
    .filter((n) => /^anchor-.*\.json$/.test(n))
    .sort()
    .at(-1);
  if (!file) return undefined;
  const text = await readFile(join(dir, file), 'utf8');
  try {
    return { file, content: JSON.parse(text) as unknown };
  } catch {
    return { file, content: text };
  }
}

/**
 * Where the audit chains stand, cheaply enough for a dashboard to poll: the heads the writer
 * keeps and the newest signed anchor (one file read). Counts and times only, no content. The full
 * check of every row stays `GET /audit/verify`, for auditors.
 */
export class ChainStatusService {
  constructor(
    private readonly repo: ChainStatusRepository,
    private readonly anchors?: ChainStatusAnchors,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async status(): Promise<ChainStatusView> {
    const heads = await this.repo.heads();
    const newest = this.anchors ? await newestAnchor(this.anchors.dir) : undefined;
    const checked =
      newest && this.anchors ? checkAnchor(newest.content, this.anchors.publicKey) : undefined;
    const anchor = typeof checked === 'object' ? checked : undefined;
    let problem: string | null =
      typeof checked === 'string'
        ? `the newest anchor (${newest!.file}) does not check: ${checked}`
        : null;
    const chains = heads.map((h) => {
      const covered = anchor?.chains.find((c) => c.table === h.table)?.seq ?? null;
      const unanchored = Number(BigInt(h.seq) - BigInt(covered ?? '0'));
      return {
        table: h.table,
        headSeq: h.seq,
        headAt: h.recordedAt?.toISOString() ?? null,
        anchoredSeq: covered,
        unanchored: Math.max(0, unanchored),
      };
    });
    let state: ChainState;
    if (!this.anchors) state = 'unanchored';
    else if (problem) state = 'stale';
    else if (chains.every((c) => c.unanchored === 0)) state = 'anchored';
    else {
      // An anchor covers a chain only when it moved: the oldest row left out is what waits.
      const waitingSince = Math.min(
        ...chains
          .filter((c) => c.unanchored > 0)
          .map((c) => (anchor ? Date.parse(anchor.signedAt) : Date.parse(c.headAt ?? ''))),
      );
      const late = this.now().getTime() - waitingSince > 3 * this.anchors.intervalMs;
      state = late ? 'stale' : 'pending';
      if (late)
        problem = `rows have waited more than ${Math.round((3 * this.anchors.intervalMs) / 1000)} s for an anchor (is the signer refusing a changed row? run verify)`;
    }
    return {
      state,
      problem,
      chains,
      anchors: {
        configured: !!this.anchors,
        intervalMs: this.anchors?.intervalMs ?? null,
        lastSignedAt: anchor?.signedAt ?? null,
      },
    };
  }
}
