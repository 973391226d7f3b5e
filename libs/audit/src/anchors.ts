import {
  createHash,
  createPrivateKey,
  createPublicKey,
  KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, Json } from './audit-json';
import { ChainTableName } from './audit-tables';
import { AuditError } from './audit.error';

export const ANCHOR_FORMAT = 'junction-audit-anchor/v1';

/** Bytes of each row's hash an anchor lists: enough to name the first changed row (the head hash is whole). */
export const DIGEST_BYTES = 8;

/** What one anchor says about one chain: rows `fromSeq`+1 to `seq`, and the head they led to. */
export interface AnchoredChain {
  table: ChainTableName;
  /** The seq the previous anchor of this signer ended at (0: the genesis). */
  fromSeq: string;
  seq: string;
  /** Hex SHA-256 chain hash of row `seq`. */
  hash: string;
  recordedAt: string;
  /** Base64 of the first {@link DIGEST_BYTES} bytes of each row's hash, `fromSeq`+1 to `seq`. */
  digests: string;
}

/** A signed statement of where the audit chains stood: published where the database cannot rewrite it. */
export interface SignedAnchor {
  format: typeof ANCHOR_FORMAT;
  signedAt: string;
  /** First 16 hex digits of the SHA-256 of the public key (SPKI DER). */
  keyId: string;
  chains: AnchoredChain[];
  /** Base64 Ed25519 signature of the canonical JSON of every other field. */
  signature: string;
}

export type AnchorBody = Omit<SignedAnchor, 'signature'>;

function readKeyText(value: string, what: string): string {
  const text = value.includes('-----BEGIN') ? value : readKeyFile(value, what);
  return text.replace(/\\n/g, '\n');
}

function readKeyFile(path: string, what: string): string {
  if (!existsSync(path))
    throw new AuditError('BAD_SIGNING_KEY', `${what}: neither a PEM key nor an existing file`);
  return readFileSync(path, 'utf8');
}

/** The Ed25519 signing key from PEM text or the path of a PEM file. */
export function loadSigningKey(value: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readKeyText(value, 'the audit signing key'));
  } catch (err) {
    if (err instanceof AuditError) throw err;
    throw new AuditError('BAD_SIGNING_KEY', 'the audit signing key is not a PEM private key', {
      cause: err,
    });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AuditError('BAD_SIGNING_KEY', 'the audit signing key must be an Ed25519 key');
  return key;
}

/** The Ed25519 public key from PEM text or a file (a private key is accepted too: its public half is used). */
export function loadVerifyKey(value: string): KeyObject {
  const text = readKeyText(value, 'the audit public key');
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch (err) {
    throw new AuditError('BAD_SIGNING_KEY', 'the audit public key is not a PEM key', {
      cause: err,
    });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AuditError('BAD_SIGNING_KEY', 'the audit public key must be an Ed25519 key');
  return key;
}

export function keyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('hex')
    .slice(0, 16);
}

const signedText = (body: AnchorBody): Buffer =>
  Buffer.from(canonicalJson(body as unknown as Json), 'utf8');

export function signAnchor(body: AnchorBody, privateKey: KeyObject): SignedAnchor {
  return { ...body, signature: sign(null, signedText(body), privateKey).toString('base64') };
}

const isText = (v: unknown): v is string => typeof v === 'string';
const isSeq = (v: unknown): v is string => isText(v) && /^\d{1,19}$/.test(v);

/** The anchor if it is well formed and signed by `publicKey`, else why not. */
export function checkAnchor(value: unknown, publicKey: KeyObject): SignedAnchor | string {
  const a = value as Partial<SignedAnchor> | null;
  if (!a || typeof a !== 'object' || a.format !== ANCHOR_FORMAT) return 'not an audit anchor';
  if (!isText(a.signedAt) || !isText(a.keyId) || !isText(a.signature) || !Array.isArray(a.chains))
    return 'an anchor field is missing';
  for (const c of a.chains as Array<Partial<AnchoredChain>>) {
    const ok =
      (c.table === 'audit_messages' || c.table === 'audit_events') &&
      isSeq(c.fromSeq) &&
      isSeq(c.seq) &&
      BigInt(c.seq) > BigInt(c.fromSeq) &&
      isText(c.hash) &&
      /^[0-9a-f]{64}$/.test(c.hash) &&
      isText(c.recordedAt) &&
      isText(c.digests) &&
      Buffer.from(c.digests, 'base64').length ===
        Number(BigInt(c.seq) - BigInt(c.fromSeq)) * DIGEST_BYTES;
    if (!ok) return 'a chain of the anchor is malformed';
  }
  const { signature, ...body } = a as SignedAnchor;
  if (a.keyId !== keyId(publicKey)) return `signed by another key (${a.keyId})`;
  if (!verify(null, signedText(body), publicKey, Buffer.from(signature, 'base64')))
    return 'its signature does not verify (the anchor was changed)';
  return a as SignedAnchor;
}

export interface AnchorFile {
  file: string;
  content: unknown;
}

/**
 * Anchors as files in one folder (`anchor-<signedAt>-<n>.json`), written whole (a temporary
 * file, then a rename) so that a reader never sees half an anchor. The folder belongs outside
 * the database's reach: another disk, a mount only this process writes, a WORM bucket's sync.
 */
export class AnchorDirectory {
  private counter = 0;

  constructor(readonly dir: string) {}

  async write(anchor: SignedAnchor): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    const stamp = anchor.signedAt.replace(/[-:]/g, '').replace('.', '');
    const name = `anchor-${stamp}-${process.pid}-${this.counter++}.json`;
    const tmp = join(this.dir, `.${name}.tmp`);
    await writeFile(tmp, `${JSON.stringify(anchor, null, 2)}\n`, { mode: 0o644 });
    await rename(tmp, join(this.dir, name));
    return name;
  }

  /** Every anchor file, oldest name first; unreadable JSON is given as its text. */
  async readAll(): Promise<AnchorFile[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const files: AnchorFile[] = [];
    for (const file of names.filter((n) => /^anchor-.*\.json$/.test(n)).sort()) {
      const text = await readFile(join(this.dir, file), 'utf8');
      try {
        files.push({ file, content: JSON.parse(text) as unknown });
      } catch {
        files.push({ file, content: text });
      }
    }
    return files;
  }
}
