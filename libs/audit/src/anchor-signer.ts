import { KeyObject } from 'node:crypto';
import {
  AnchorDirectory,
  AnchoredChain,
  checkAnchor,
  DIGEST_BYTES,
  keyId,
  SignedAnchor,
  signAnchor,
  ANCHOR_FORMAT,
} from './anchors';
import { chainHash, ChainTable, EVENTS, GENESIS_HASH, MESSAGES } from './audit-tables';
import { AuditError } from './audit.error';
import { AuditRepository } from './audit.repository';
import { AuditLog } from './chain-writer';
import { AnchorPublisher } from './anchor-publishers';

const BATCH = 5_000;

interface Signed {
  seq: string;
  hash: Buffer;
}

/**
 * Signs the chain heads (Ed25519) and publishes them as anchors. Each anchor covers the rows
 * since this signer's previous anchor: they are checked first (each row's hash is its content's,
 * each links to the one before, the first to the previous anchor's head), so a signer never signs
 * a chain that does not extend what it signed before. A refusal is logged loudly and nothing is
 * signed: the auditor's `verify` then names the row.
 */
export class AnchorSigner {
  private last?: Map<string, Signed>;
  private running?: Promise<SignedAnchor | undefined>;

  constructor(
    private readonly repo: AuditRepository,
    private readonly directory: AnchorDirectory,
    private readonly privateKey: KeyObject,
    private readonly log: AuditLog,
    private readonly now: () => Date = () => new Date(),
    private readonly publishers: AnchorPublisher[] = [],
  ) {}

  /** Signs and publishes where the chains stand now, if they moved since the last anchor. */
  anchorNow(): Promise<SignedAnchor | undefined> {
    this.running ??= this.anchor().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves once an anchor in progress, if any, has ended (signed or not). */
  async settled(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async anchor(): Promise<SignedAnchor | undefined> {
    const last = (this.last ??= await this.lastSigned());
    const chains: AnchoredChain[] = [];
    const next = new Map(last);
    for (const table of [MESSAGES, EVENTS] as Array<ChainTable<unknown>>) {
      const chain = await this.extend(table, last.get(table.name));
      if (!chain) continue;
      chains.push(chain);
      next.set(table.name, { seq: chain.seq, hash: Buffer.from(chain.hash, 'hex') });
    }
    if (chains.length === 0) return undefined;
    const anchor = signAnchor(
      {
        format: ANCHOR_FORMAT,
        signedAt: this.now().toISOString(),
        keyId: keyId(this.privateKey),
        chains,
      },
      this.privateKey,
    );
    const file = await this.directory.write(anchor);
    this.last = next;
    // The folder has it; a publisher that fails is said loudly and does not stop the next anchor.
    for (const publisher of this.publishers) {
      await publisher
        .publish(anchor, file)
        .catch((err: unknown) =>
          this.log.error(
            `audit anchor ${file} was not published to ${publisher.name}: ${(err as Error).message}`,
          ),
        );
    }
    return anchor;
  }

  /** The rows after `from` up to the head, checked, as one chain of an anchor; undefined if none. */
  private async extend<R>(
    table: ChainTable<R>,
    from: Signed | undefined,
  ): Promise<AnchoredChain | undefined> {
    const head = await this.repo.head(table.name);
    let fromSeq = from?.seq ?? '0';
    let prevHash = from?.hash ?? GENESIS_HASH;
    if (BigInt(head.seq) <= BigInt(fromSeq)) return undefined;
    // Retention may have dropped rows past the last anchor: start where it cut the chain.
    const dropped = await this.repo.droppedUpTo(table.name);
    if (BigInt(dropped) > BigInt(fromSeq)) {
      const cut = await this.repo.anchor(table.name, dropped);
      if (cut) {
        fromSeq = dropped;
        prevHash = cut;
      }
    }
    if (BigInt(head.seq) <= BigInt(fromSeq)) return undefined;
    const digests: Buffer[] = [];
    let expected = BigInt(fromSeq) + 1n;
    let lastRecordedAt = '';
    const refuse = (seq: bigint, why: string) => {
      const message = `not signing ${table.name}: record ${seq} ${why}; the audit trail was changed since the last anchor (run junction audit verify)`;
      this.log.error(message);
      return new AuditError('ANCHOR_REFUSED', message);
    };
    while (expected <= BigInt(head.seq)) {
      const rows = await this.repo.bySeq(table, String(expected - 1n), head.seq, BATCH);
      if (rows.length === 0) throw refuse(expected, 'is missing');
      for (const row of rows) {
        if (BigInt(row.seq) !== expected) throw refuse(expected, 'is missing');
        if (!row.prevHash.equals(prevHash))
          throw refuse(expected, 'does not link to the record before it');
        const hash = chainHash(
          table.name,
          row.prevHash,
          row.seq,
          row.recordedAt,
          table.content(row.row),
        );
        if (!hash.equals(row.hash)) throw refuse(expected, 'does not match its hash');
        digests.push(row.hash.subarray(0, DIGEST_BYTES));
        prevHash = row.hash;
        lastRecordedAt = row.recordedAt;
        expected += 1n;
      }
    }
    if (!prevHash.equals(head.hash)) throw refuse(BigInt(head.seq), 'is not the chain head');
    return {
      table: table.name,
      fromSeq,
      seq: head.seq,
      hash: prevHash.toString('hex'),
      recordedAt: lastRecordedAt,
      digests: Buffer.concat(digests).toString('base64'),
    };
  }

  /** Where this key's published anchors end, per chain (a restart goes on from there). */
  private async lastSigned(): Promise<Map<string, Signed>> {
    const last = new Map<string, Signed>();
    for (const { content } of await this.directory.readAll()) {
      const anchor = checkAnchor(content, this.privateKey);
      if (typeof anchor === 'string') continue;
      for (const c of anchor.chains) {
        const known = last.get(c.table);
        if (!known || BigInt(c.seq) > BigInt(known.seq))
          last.set(c.table, { seq: c.seq, hash: Buffer.from(c.hash, 'hex') });
      }
    }
    return last;
  }
}
