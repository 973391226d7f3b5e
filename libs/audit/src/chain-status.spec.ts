import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANCHOR_FORMAT, AnchorDirectory, DIGEST_BYTES, keyId, signAnchor } from './anchors';
import type { ChainHeadRow, ChainStatusRepository } from './chain-status.repository';
import { ChainStatusService } from './chain-status.service';

const INTERVAL = 60_000;
const { privateKey, publicKey } = generateKeyPairSync('ed25519');

function heads(messages: number, events: number): ChainStatusRepository {
  const at = new Date('2026-12-04T10:00:00Z');
  const rows: ChainHeadRow[] = [
    { table: 'audit_messages', seq: String(messages), recordedAt: messages ? at : null },
    { table: 'audit_events', seq: String(events), recordedAt: events ? at : null },
  ];
  return { heads: async () => rows } as unknown as ChainStatusRepository;
}

async function anchorTo(dir: string, messages: number, signedAt: string): Promise<void> {
  await new AnchorDirectory(dir).write(
    signAnchor(
      {
        format: ANCHOR_FORMAT,
        signedAt,
        keyId: keyId(privateKey),
        chains: [
          {
            table: 'audit_messages',
            fromSeq: '0',
            seq: String(messages),
            hash: 'a'.repeat(64),
            recordedAt: signedAt,
            digests: Buffer.alloc(messages * DIGEST_BYTES).toString('base64'),
          },
        ],
      },
      privateKey,
    ),
  );
}

describe('ChainStatusService', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chain-status-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const service = (repo: ChainStatusRepository, now: string) =>
    new ChainStatusService(repo, { dir, publicKey, intervalMs: INTERVAL }, () => new Date(now));

  it('is unanchored without a signing key, and shows the heads', async () => {
    const status = await new ChainStatusService(heads(5, 2)).status();
    expect(status).toMatchObject({ state: 'unanchored', problem: null });
    expect(status.chains).toEqual([
      expect.objectContaining({ table: 'audit_messages', headSeq: '5', unanchored: 5 }),
      expect.objectContaining({ table: 'audit_events', headSeq: '2', unanchored: 2 }),
    ]);
  });

  it('is anchored when the newest anchor covers every row', async () => {
    await anchorTo(dir, 5, '2026-12-04T10:00:01.000Z');
    const status = await service(heads(5, 0), '2026-12-04T10:00:02Z').status();
    expect(status.state).toBe('anchored');
    expect(status.anchors.lastSignedAt).toBe('2026-12-04T10:00:01.000Z');
    expect(status.chains[0]).toMatchObject({ anchoredSeq: '5', unanchored: 0 });
  });

  it('is pending while newer rows wait less than three intervals, then stale', async () => {
    await anchorTo(dir, 3, '2026-12-04T10:00:00.000Z');
    expect((await service(heads(5, 0), '2026-12-04T10:02:00Z').status()).state).toBe('pending');
    const stale = await service(heads(5, 0), '2026-12-04T10:03:01Z').status();
    expect(stale.state).toBe('stale');
    expect(stale.problem).toContain('waited more than 180 s');
  });

  it('is stale when the newest anchor does not check', async () => {
    await anchorTo(dir, 5, '2026-12-04T10:00:01.000Z');
    writeFileSync(join(dir, 'anchor-99999999T999999999Z-1-0.json'), '{"format":"nope"}');
    const status = await service(heads(5, 0), '2026-12-04T10:00:02Z').status();
    expect(status.state).toBe('stale');
    expect(status.problem).toContain('does not check: not an audit anchor');
  });
});
