import { createPublicKey, KeyObject, randomUUID, sign, verify } from 'node:crypto';
import { canonicalJson, Json } from './audit-json';
import { keyId } from './anchors';
import type { VerifyResult } from './audit.service';

export const REPORT_FORMAT = 'junction-audit-verification/v1';

/** Who asked for a verification (as the audit trail names people). */
export interface ReportActor {
  name: string;
  kind: string;
  provider: string | null;
}

/**
 * A verification of the audit trail over a time range, as a document that stands on its own:
 * what was checked, the first broken record if any, the anchors it was checked against, who ran
 * it and when, signed (Ed25519) so that a copy handed to an auditor cannot be edited unseen.
 */
export interface VerificationReport {
  format: typeof REPORT_FORMAT;
  id: string;
  generatedAt: string;
  ranBy: ReportActor;
  range: { from: string | null; to: string | null; table: 'messages' | 'events' | null };
  result: {
    ok: boolean;
    checked: number;
    /** The first record that does not verify, or null. */
    firstBroken: { table: string; id: string; reason: string } | null;
    /** Why the trail does not verify when no single record is to blame (an anchor that fails). */
    reason: string | null;
    tables: Json;
    anchors: Json;
  };
  /** The key that signed the report; null when the gateway has no signing key (unsigned). */
  signer: { algorithm: 'Ed25519'; keyId: string; publicKey: string } | null;
  /** Base64 Ed25519 signature over the canonical JSON of every other field; null: unsigned. */
  signature: string | null;
}

type ReportBody = Omit<VerificationReport, 'signature'>;

const signedText = (body: ReportBody): Buffer =>
  Buffer.from(canonicalJson(body as unknown as Json), 'utf8');

/** What JSON keeps of a value (no undefined): the form the signature covers and a reader parses. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The report of one verification, signed with `privateKey` when there is one. */
export function makeReport(
  result: VerifyResult,
  run: {
    ranBy: ReportActor;
    range: { from?: string; to?: string; table?: 'messages' | 'events' };
    now: Date;
    id?: string;
  },
  privateKey?: KeyObject,
): VerificationReport {
  const body: ReportBody = plain({
    format: REPORT_FORMAT,
    id: run.id ?? randomUUID(),
    generatedAt: run.now.toISOString(),
    ranBy: run.ranBy,
    range: {
      from: run.range.from ?? null,
      to: run.range.to ?? null,
      table: run.range.table ?? null,
    },
    result: {
      ok: result.ok,
      checked: result.checked,
      firstBroken: result.firstBrokenId
        ? {
            table: result.firstBrokenTable ?? '',
            id: result.firstBrokenId,
            reason: result.reason ?? '',
          }
        : null,
      reason: result.ok ? null : (result.reason ?? null),
      tables: result.tables as unknown as Json,
      anchors: result.anchors as unknown as Json,
    },
    signer: privateKey
      ? {
          algorithm: 'Ed25519' as const,
          keyId: keyId(privateKey),
          publicKey: createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString(),
        }
      : null,
  });
  return {
    ...body,
    signature: privateKey ? sign(null, signedText(body), privateKey).toString('base64') : null,
  };
}

export interface ReportCheck {
  report: VerificationReport;
  /** The key id that signed it. */
  keyId: string;
  /** Whether it was signed by the key the checker trusts (false: only by the key it carries). */
  trusted: boolean;
}

/**
 * The report if it is well formed and its signature verifies, else why not. The key it carries
 * proves only that nobody edited it since; pass `trustedKey` (the gateway's public key, kept
 * apart) to know who signed it.
 */
export function checkReport(value: unknown, trustedKey?: KeyObject): ReportCheck | string {
  const r = value as Partial<VerificationReport> | null;
  if (!r || typeof r !== 'object' || r.format !== REPORT_FORMAT)
    return 'not an audit verification report';
  if (
    typeof r.id !== 'string' ||
    typeof r.generatedAt !== 'string' ||
    !r.result ||
    typeof r.result !== 'object' ||
    !r.ranBy ||
    !r.range
  )
    return 'a report field is missing';
  if (!r.signer || typeof r.signature !== 'string')
    return 'the report is not signed (the gateway that made it has no signing key)';
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(r.signer.publicKey);
  } catch {
    return 'the public key in the report is not a PEM key';
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') return 'the report was not signed with Ed25519';
  if (keyId(publicKey) !== r.signer.keyId) return 'the key id does not match the key in the report';
  const { signature, ...body } = r as VerificationReport;
  if (!verify(null, signedText(body), publicKey, Buffer.from(signature!, 'base64')))
    return 'its signature does not verify (the report was changed)';
  if (trustedKey && keyId(trustedKey) !== r.signer.keyId)
    return `signed by another key (${r.signer.keyId}, not ${keyId(trustedKey)})`;
  return { report: r as VerificationReport, keyId: r.signer.keyId, trusted: !!trustedKey };
}
