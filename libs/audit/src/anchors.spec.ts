import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ANCHOR_FORMAT,
  AnchorBody,
  checkAnchor,
  DIGEST_BYTES,
  keyId,
  loadSigningKey,
  loadVerifyKey,
  signAnchor,
} from './anchors';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

function body(rows = randomInt(1, 50)): AnchorBody {
  const fromSeq = randomInt(0, 1_000);
  return {
    format: ANCHOR_FORMAT,
    signedAt: new Date().toISOString(),
    keyId: keyId(privateKey),
    chains: [
      {
        table: 'audit_messages',
        fromSeq: String(fromSeq),
        seq: String(fromSeq + rows),
        hash: randomBytes(32).toString('hex'),
        recordedAt: new Date().toISOString(),
        digests: randomBytes(rows * DIGEST_BYTES).toString('base64'),
      },
    ],
  };
}

describe('signed audit anchors', () => {
  it('verifies what it signed, with the public key only', () => {
    for (let i = 0; i < 20; i++) {
      const anchor = signAnchor(body(), privateKey);
      expect(checkAnchor(JSON.parse(JSON.stringify(anchor)), publicKey)).toEqual(anchor);
    }
  });

  it('refuses an anchor with any field changed after signing', () => {
    const anchor = signAnchor(body(10), privateKey);
    const chain = anchor.chains[0];
    const flipHex = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);
    const changes: Array<(a: typeof anchor) => void> = [
      (a) => (a.signedAt = new Date(0).toISOString()),
      (a) => (a.chains[0].hash = flipHex(chain.hash)),
      (a) => (a.chains[0].recordedAt = new Date(1).toISOString()),
      (a) => (a.chains[0].table = 'audit_events'),
      (a) => {
        const d = Buffer.from(chain.digests, 'base64');
        d[randomInt(0, d.length)] ^= 1 << randomInt(0, 8);
        a.chains[0].digests = d.toString('base64');
      },
    ];
    for (const change of changes) {
      const copy = JSON.parse(JSON.stringify(anchor)) as typeof anchor;
      change(copy);
      expect(checkAnchor(copy, publicKey)).toBe(
        'its signature does not verify (the anchor was changed)',
      );
    }
  });

  it('refuses malformed anchors and anchors of another key', () => {
    const other = generateKeyPairSync('ed25519');
    const foreign = { ...body(), keyId: keyId(other.publicKey) };
    expect(checkAnchor(signAnchor(foreign, other.privateKey), publicKey)).toMatch(
      /^signed by another key/,
    );
    // Claiming our key id does not help a signature made with another key.
    expect(checkAnchor(signAnchor(body(), other.privateKey), publicKey)).toBe(
      'its signature does not verify (the anchor was changed)',
    );
    const short = body(4);
    short.chains[0].digests = randomBytes(3 * DIGEST_BYTES).toString('base64');
    expect(checkAnchor(signAnchor(short, privateKey), publicKey)).toBe(
      'a chain of the anchor is malformed',
    );
    for (const junk of [null, 'text', 42, {}, { format: ANCHOR_FORMAT }])
      expect(typeof checkAnchor(junk, publicKey)).toBe('string');
  });

  it('loads the key from PEM text or a file, and only Ed25519', () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-anchor-keys-'));
    try {
      const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      const file = join(dir, 'key.pem');
      writeFileSync(file, pem);
      expect(keyId(loadSigningKey(pem))).toBe(keyId(publicKey));
      expect(keyId(loadSigningKey(file))).toBe(keyId(publicKey));
      expect(keyId(loadVerifyKey(file))).toBe(keyId(publicKey));
      const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
      expect(() => loadSigningKey(rsa.export({ format: 'pem', type: 'pkcs8' }).toString())).toThrow(
        /Ed25519/,
      );
      expect(() => loadSigningKey(join(dir, 'missing.pem'))).toThrow(/neither a PEM key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
