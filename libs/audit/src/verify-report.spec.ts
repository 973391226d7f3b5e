import { generateKeyPairSync } from 'node:crypto';
import type { VerifyResult } from './audit.service';
import { checkReport, makeReport, type VerificationReport } from './verify-report';

const broken: VerifyResult = {
  ok: false,
  checked: 41,
  firstBrokenId: '17',
  firstBrokenTable: 'audit_messages',
  reason: 'its content does not match its hash (it was changed)',
  tables: [
    {
      table: 'audit_messages',
      ok: false,
      checked: 16,
      firstBrokenId: '17',
      reason: 'its content does not match its hash (it was changed)',
      head: { id: '30', hash: 'ab'.repeat(32), recordedAt: '2026-12-01T10:00:00.000Z' },
    },
  ],
  anchors: {
    configured: true,
    ok: true,
    checked: 1,
    droppedByRetention: 0,
    anchors: [
      {
        file: 'anchor-1.json',
        signedAt: '2026-12-01T09:00:00.000Z',
        matched: true,
        chains: [{ table: 'audit_messages', seq: '12' }],
      },
    ],
  },
};

const run = {
  ranBy: { name: 'ada', kind: 'user', provider: 'local' },
  range: { from: '2026-12-01T00:00:00.000Z' },
  now: new Date('2026-12-02T08:00:00.000Z'),
  id: '7d3c0f9e-6c1e-4a55-8a0e-0b8a4bfe2c11',
};

describe('verification reports', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');

  it('names what was checked, the first broken record, the anchors, who ran it and when', () => {
    const report = makeReport(broken, run, privateKey);
    expect(report).toMatchObject({
      format: 'junction-audit-verification/v1',
      id: run.id,
      generatedAt: '2026-12-02T08:00:00.000Z',
      ranBy: { name: 'ada', kind: 'user', provider: 'local' },
      range: { from: '2026-12-01T00:00:00.000Z', to: null, table: null },
      result: {
        ok: false,
        checked: 41,
        firstBroken: { table: 'audit_messages', id: '17' },
        anchors: { anchors: [{ file: 'anchor-1.json', matched: true }] },
      },
      signer: { algorithm: 'Ed25519' },
    });
    expect(report.signer?.publicKey).toContain('BEGIN PUBLIC KEY');
  });

  it('verifies as downloaded (a JSON round trip, keys in any order), by its key or the one given', () => {
    const report = makeReport(broken, run, privateKey);
    const copy = JSON.parse(JSON.stringify(report, null, 2)) as unknown;
    const found = checkReport(copy);
    expect(typeof found).toBe('object');
    expect(found).toMatchObject({ trusted: false, report: { id: run.id } });
    expect(checkReport(copy, publicKey)).toMatchObject({ trusted: true });
  });

  it('is refused when any field was edited, or when another key signed it', () => {
    const report = makeReport(broken, run, privateKey);
    const edit = (change: (r: VerificationReport) => void): unknown => {
      const copy = JSON.parse(JSON.stringify(report)) as VerificationReport;
      change(copy);
      return copy;
    };
    expect(checkReport(edit((r) => (r.result.ok = true)))).toMatch(/signature does not verify/);
    expect(checkReport(edit((r) => (r.ranBy.name = 'mallory')))).toMatch(/does not verify/);
    expect(checkReport(edit((r) => (r.result.firstBroken = null)))).toMatch(/does not verify/);
    expect(checkReport(report, other.publicKey)).toMatch(/signed by another key/);
    // A forger who re-signs with their own key and swaps the key in: valid only by its own key.
    const forged = makeReport({ ...broken, ok: true }, run, other.privateKey);
    expect(checkReport(forged)).toMatchObject({ trusted: false });
    expect(checkReport(forged, publicKey)).toMatch(/signed by another key/);
    expect(checkReport(edit((r) => (r.signer!.publicKey = forged.signer!.publicKey)))).toMatch(
      /key id does not match/,
    );
  });

  it('says so when it is unsigned or not a report at all', () => {
    const unsigned = makeReport(broken, run);
    expect(unsigned.signature).toBeNull();
    expect(checkReport(unsigned)).toMatch(/not signed/);
    expect(checkReport({ format: 'x' })).toMatch(/not an audit verification report/);
    expect(checkReport(null)).toMatch(/not an audit verification report/);
  });
});
