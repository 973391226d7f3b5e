import { Chained, chainHash, ChainTable, GENESIS_HASH } from './audit-tables';
import { AuditRepository } from './audit.repository';

export interface TableVerifyResult {
  table: string;
  ok: boolean;
  /** Rows whose hash and link were checked. */
  checked: number;
  /** The first row that does not verify (or, rows missing at the end, the first missing id). */
  firstBrokenId?: string;
  reason?: string;
  /** The chain head as read when the check began: keep it outside the database to prove later appends. */
  head: { id: string; hash: string; recordedAt: string };
}

const BATCH = 2_000;

/**
 * Walks one chain in order over a time range and checks each row: its hash is the hash of its
 * own content and the previous row's hash; it follows the previous row without a gap; the first
 * row links to the row before the range (or to the genesis, or to where retention cut the
 * chain); and, when the range reaches the end, the last row is the chain head.
 */
export async function verifyChain<R>(
  repo: AuditRepository,
  table: ChainTable<R>,
  range: { from?: string; to?: string },
): Promise<TableVerifyResult> {
  const head = await repo.head(table.name);
  const result: TableVerifyResult = {
    table: table.name,
    ok: true,
    checked: 0,
    head: { id: head.seq, hash: head.hash.toString('hex'), recordedAt: head.recordedAt },
  };
  const broken = (id: string, reason: string): TableVerifyResult => ({
    ...result,
    ok: false,
    firstBrokenId: id,
    reason,
  });
  let prev: Chained<R> | undefined;
  for (;;) {
    const rows = await repo.chain(
      table,
      { ...range, maxSeq: head.seq },
      {
        order: 'asc',
        limit: BATCH,
        after: prev ? { recordedAt: prev.recordedAt, seq: prev.seq } : undefined,
      },
    );
    for (const row of rows) {
      // Its own content first: a record whose time was changed moves in the order, and is then
      // named as changed rather than taken for a gap before the next.
      const hash = chainHash(
        table.name,
        row.prevHash,
        row.seq,
        row.recordedAt,
        table.content(row.row),
      );
      if (!hash.equals(row.hash))
        return broken(row.seq, 'its content does not match its hash (it was changed)');
      let expected: Buffer;
      if (prev) {
        if (BigInt(row.seq) <= BigInt(prev.seq)) {
          return broken(
            row.seq,
            `it comes after record ${prev.seq} in time: a second record ${row.seq} was inserted, or its time was changed`,
          );
        }
        if (
          BigInt(row.seq) !== BigInt(prev.seq) + 1n &&
          !(await droppedUnderfoot(repo, table, row))
        ) {
          const wanted = (BigInt(prev.seq) + 1n).toString();
          const [moved] = await repo.bySeq(table, prev.seq, wanted, 1);
          if (moved?.seq === wanted)
            return broken(
              wanted,
              `it is out of its place in time (recorded at ${moved.recordedAt}, after record ${row.seq}): its time was changed`,
            );
          return broken(
            row.seq,
            `rows ${BigInt(prev.seq) + 1n} to ${BigInt(row.seq) - 1n} are missing before it`,
          );
        }
        expected = BigInt(row.seq) === BigInt(prev.seq) + 1n ? prev.hash : row.prevHash;
      } else {
        const link = await linkBefore(repo, table, row);
        if (!link) return broken(row.seq, `the row before it (${BigInt(row.seq) - 1n}) is missing`);
        expected = link;
      }
      if (!row.prevHash.equals(expected)) {
        return broken(
          row.seq,
          'it does not link to the row before it (that row, or this link, was changed)',
        );
      }
      result.checked += 1;
      prev = row;
    }
    if (rows.length < BATCH) break;
  }
  const reachesHead = !range.to || Date.parse(range.to) > Date.parse(head.recordedAt);
  if (reachesHead && BigInt(head.seq) > 0n) {
    const lastSeq = prev ? BigInt(prev.seq) : undefined;
    if (lastSeq === undefined && !range.from) {
      // Nothing left at all: fine only if retention dropped it all, up to the head.
      const anchor = await repo.anchor(table.name, head.seq);
      if (!anchor?.equals(head.hash))
        return broken('1', 'the chain has no rows left up to its head');
    } else if (lastSeq === undefined) {
      // Nothing in the range, yet the head was recorded in it: the rows up to it are gone.
      // Unless retention dropped them all, up to the head (a quiet chain whose last day went).
      const dropped = (await repo.anchor(table.name, head.seq))?.equals(head.hash) ?? false;
      if (!dropped && range.from && Date.parse(head.recordedAt) >= Date.parse(range.from)) {
        const before = await repo.before(table, { recordedAt: range.from, seq: '0' });
        const first = before
          ? BigInt(before.seq) + 1n
          : BigInt(await repo.droppedUpTo(table.name)) + 1n;
        return broken(
          String(first),
          `rows ${first} to ${head.seq} (the end of the chain) are missing`,
        );
      }
    } else if (lastSeq < BigInt(head.seq)) {
      return broken(
        String(lastSeq + 1n),
        `rows ${lastSeq + 1n} to ${head.seq} (the end of the chain) are missing`,
      );
    } else if (prev && !prev.hash.equals(head.hash)) {
      return broken(prev.seq, 'the last row is not the chain head');
    }
  }
  // A row the head never reached is on no chain: inserted, whatever it holds.
  const stray = await repo.pastHead(table.name, range);
  if (stray)
    return broken(stray, 'it is past the chain head, where no append put it: it was inserted');
  return result;
}

/**
 * Whether the rows between `prev` and `row` went with a day retention dropped while the walk
 * went on: `row` links to where retention cut the chain, and no row up to the cut is left (`prev`,
 * read a moment ago, is gone too). Rows deleted from the middle of the chain, under a mark or not, leave `prev` there.
 */
async function droppedUnderfoot<R>(
  repo: AuditRepository,
  table: ChainTable<R>,
  row: Chained<R>,
): Promise<boolean> {
  const cut = await repo.anchor(table.name, (BigInt(row.seq) - 1n).toString());
  if (!cut?.equals(row.prevHash)) return false;
  // Retention drops a prefix: no row up to the cut may be left (the owner could otherwise cut
  // out a middle under a mark while the check is past its start).
  const [left] = await repo.bySeq(table, '0', (BigInt(row.seq) - 1n).toString(), 1);
  return left === undefined;
}

/** The hash the first row of a range must link to, or undefined when its predecessor is gone. */
async function linkBefore<R>(
  repo: AuditRepository,
  table: ChainTable<R>,
  row: Chained<R>,
): Promise<Buffer | undefined> {
  if (row.seq === '1') return GENESIS_HASH;
  const wanted = (BigInt(row.seq) - 1n).toString();
  const before = await repo.before(table, { recordedAt: row.recordedAt, seq: row.seq });
  if (before?.seq === wanted) return before.hash;
  return repo.anchor(table.name, wanted);
}
