import { KeyObject } from 'node:crypto';
import { AnchorFile, checkAnchor, DIGEST_BYTES, SignedAnchor } from './anchors';
import { ChainTable, ChainTableName, EVENTS, MESSAGES } from './audit-tables';
import { AuditRepository } from './audit.repository';

const BATCH = 5_000;

/**
 * Retention keeps today and at least one whole day before it (UTC): a record is dropped at the
 * earliest at the start of the second day after its own, over 24 hours after it was recorded.
 * An anchored record younger than this (an hour short of it, for the clocks of the database and
 * the gateway) was not dropped by retention.
 */
const RETENTION_MIN_AGE_MS = 23 * 3_600_000;

/** The newest anchor checked, and whether the database still holds what it signed. */
export interface AnchorSummary {
  file: string;
  signedAt: string;
  matched: boolean;
  chains: Array<{ table: ChainTableName; seq: string }>;
}

export interface AnchorCheckResult {
  ok: boolean;
  /** Anchors whose signature verified and whose rows were compared. */
  checked: number;
  /** Records anchors signed that retention has since dropped (whole days): no longer checkable. */
  droppedByRetention: number;
  lastAnchor?: AnchorSummary;
  /** Every anchor checked, oldest first (what a verification report names). */
  anchors: AnchorSummary[];
  /** The first record (lowest seq, messages before events) that differs from what an anchor signed, or is missing. */
  firstBrokenId?: string;
  firstBrokenTable?: ChainTableName;
  reason?: string;
}

interface Broken {
  table: ChainTableName;
  seq: bigint;
  reason: string;
}

/**
 * Compares the database with published anchors: every anchor must be signed by `publicKey`, and
 * every row an anchor covers must still have the hash it signed (rows dropped by retention
 * excepted, as `audit_chain_anchors` records them). An edit whose chain was recomputed to look
 * consistent changes the hash of the edited row: that row is named.
 */
export async function checkAnchors(
  repo: AuditRepository,
  files: AnchorFile[],
  publicKey: KeyObject,
  tables: ChainTableName[] = ['audit_messages', 'audit_events'],
  now: Date = new Date(),
): Promise<AnchorCheckResult> {
  const anchors: Array<{ file: string; anchor: SignedAnchor }> = [];
  for (const { file, content } of files) {
    const anchor = checkAnchor(content, publicKey);
    if (typeof anchor === 'string')
      return {
        ok: false,
        checked: 0,
        droppedByRetention: 0,
        anchors: [],
        reason: `anchor ${file}: ${anchor}`,
      };
    anchors.push({ file, anchor });
  }
  anchors.sort((a, b) => a.anchor.signedAt.localeCompare(b.anchor.signedAt));
  const dropped = new Map<ChainTableName, bigint>();
  for (const table of tables) dropped.set(table, BigInt(await repo.droppedUpTo(table)));
  let first: Broken | undefined;
  for (const table of tables) {
    const broken = await notDroppedWhole(repo, table, dropped.get(table) ?? 0n, anchors, now);
    if (broken && (!first || before(broken, first))) first = broken;
  }
  const maxAnchored = new Map<ChainTableName, bigint>();
  const summaries: AnchorSummary[] = [];
  for (const { file, anchor } of anchors) {
    let matched = true;
    for (const chain of anchor.chains) {
      if (!tables.includes(chain.table)) continue;
      const table = (chain.table === 'audit_messages' ? MESSAGES : EVENTS) as ChainTable<unknown>;
      const cut = dropped.get(chain.table) ?? 0n;
      if (BigInt(chain.seq) > (maxAnchored.get(chain.table) ?? 0n))
        maxAnchored.set(chain.table, BigInt(chain.seq));
      const broken = await compare(repo, table, chain, cut, file, (moved) =>
        notDroppedWhole(repo, chain.table, moved, anchors, now),
      );
      if (!broken) continue;
      matched = false;
      if (!first || before(broken, first)) first = broken;
    }
    summaries.push({
      file,
      signedAt: anchor.signedAt,
      matched,
      chains: anchor.chains
        .filter((c) => tables.includes(c.table))
        .map((c) => ({ table: c.table, seq: c.seq })),
    });
  }
  return {
    ok: !first,
    checked: anchors.length,
    // Anchored records gone with a dropped day: each record once, however many anchors signed it.
    droppedByRetention: tables.reduce((sum, t) => {
      const cut = dropped.get(t) ?? 0n;
      const signed = maxAnchored.get(t) ?? 0n;
      return sum + Number(cut < signed ? cut : signed);
    }, 0),
    lastAnchor: summaries[summaries.length - 1],
    anchors: summaries,
    ...(first
      ? { firstBrokenId: String(first.seq), firstBrokenTable: first.table, reason: first.reason }
      : {}),
  };
}

const ORDER: ChainTableName[] = ['audit_messages', 'audit_events'];
function before(a: Broken, b: Broken): boolean {
  if (a.table !== b.table) return ORDER.indexOf(a.table) < ORDER.indexOf(b.table);
  return a.seq < b.seq;
}

const utcDay = (iso: string) => iso.slice(0, 10);

/**
 * Whether records a retention mark says were dropped cannot have been: retention drops whole UTC
 * days older than the day before, so every record of the day of the first one kept is still
 * there, and no record of the last day is gone. Where an anchor signed a record (its head) up to
 * the mark, recorded on such a day, the mark hides removed records: the owner of the database
 * could otherwise delete any records up to one, add a mark over them, and every check would pass.
 */
async function notDroppedWhole(
  repo: AuditRepository,
  name: ChainTableName,
  droppedUpTo: bigint,
  anchors: Array<{ file: string; anchor: SignedAnchor }>,
  now: Date,
): Promise<Broken | undefined> {
  if (droppedUpTo === 0n) return undefined;
  const table = (name === 'audit_messages' ? MESSAGES : EVENTS) as ChainTable<unknown>;
  const [kept] = await repo.bySeq(table, String(droppedUpTo), String(droppedUpTo + 1n), 1);
  const keptDay = kept && BigInt(kept.seq) === droppedUpTo + 1n ? utcDay(kept.recordedAt) : '';
  const suspects: Broken[] = [];
  for (const { file, anchor } of anchors) {
    for (const chain of anchor.chains) {
      if (chain.table !== name || BigInt(chain.seq) > droppedUpTo) continue;
      const why =
        keptDay && utcDay(chain.recordedAt) >= keptDay
          ? `was recorded on ${utcDay(chain.recordedAt)}, the day of record ${droppedUpTo + 1n} that is still there`
          : now.getTime() - Date.parse(chain.recordedAt) < RETENTION_MIN_AGE_MS
            ? `was recorded at ${chain.recordedAt}, too recently for retention to drop its day`
            : undefined;
      if (why)
        suspects.push({
          table: name,
          seq: BigInt(chain.seq),
          reason: `record ${chain.seq} of ${name} is missing: it ${why}, and retention drops whole days only; a retention mark up to ${droppedUpTo} hides removed records (anchor ${file})`,
        });
    }
  }
  suspects.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  // A record still there is compared with its anchors as any other.
  for (const suspect of suspects) {
    const at = await repo.bySeq(table, String(suspect.seq - 1n), String(suspect.seq), 1);
    if (at.length === 0) return suspect;
  }
  return undefined;
}

async function compare(
  repo: AuditRepository,
  table: ChainTable<unknown>,
  chain: SignedAnchor['chains'][number],
  droppedUpTo: bigint,
  file: string,
  /** Checks a cut retention made since the check began as the first was (see notDroppedWhole); absent: none is asked. */
  recheck?: (cut: bigint) => Promise<Broken | undefined>,
): Promise<Broken | undefined> {
  const digests = Buffer.from(chain.digests, 'base64');
  const from = BigInt(chain.fromSeq);
  const to = BigInt(chain.seq);
  const broken = (seq: bigint, why: string): Broken => ({
    table: table.name,
    seq,
    reason: `record ${seq} of ${table.name} ${why} (anchor ${file}, signed ${chain.recordedAt})`,
  });
  // Only rows retention dropped may be missing. A row still there is compared all the same,
  // whatever audit_chain_anchors claims was dropped: its owner could otherwise rewrite records
  // and add a retention mark over them, and the anchors would no longer look at them.
  const missing = async (seq: bigint): Promise<Broken | undefined> => {
    // Retention may have dropped a day since the check began: compare again from where it cut,
    // a cut held to what retention can do like the first (an owner could delete and mark now).
    const cut = recheck ? BigInt(await repo.droppedUpTo(table.name)) : droppedUpTo;
    if (cut > droppedUpTo) return (await recheck!(cut)) ?? compare(repo, table, chain, cut, file);
    return broken(seq > droppedUpTo ? seq : droppedUpTo + 1n, 'is missing');
  };
  let expected = from + 1n;
  while (expected <= to) {
    const rows = await repo.bySeq(table, String(expected - 1n), chain.seq, BATCH);
    if (rows.length === 0) return to > droppedUpTo ? missing(expected) : undefined;
    for (const row of rows) {
      const seq = BigInt(row.seq);
      if (seq !== expected && seq - 1n > droppedUpTo) return missing(expected);
      const at = Number(seq - from - 1n) * DIGEST_BYTES;
      const signed = digests.subarray(at, at + DIGEST_BYTES);
      if (!row.hash.subarray(0, DIGEST_BYTES).equals(signed))
        return broken(seq, 'differs from what the anchor signed (changed)');
      if (seq === to && row.hash.toString('hex') !== chain.hash)
        return broken(seq, 'differs from the head the anchor signed (changed)');
      expected = seq + 1n;
    }
  }
  return undefined;
}
