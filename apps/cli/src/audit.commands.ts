import { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DataSource } from 'typeorm';
import {
  AnchorDirectory,
  AuditRepository,
  AuditService,
  checkReport,
  loadVerifyKey,
  type VerifyResult,
} from '@junction/audit';
import { EXIT } from './exit-codes';
import { printable } from './terminal-text';

export interface AuditVerifyOptions {
  /** A downloaded verification report to check (instead of the database). */
  report?: string;
  databaseUrl?: string;
  anchors?: string;
  publicKey?: string;
  json?: boolean;
}

const out = (text: string) => process.stdout.write(`${printable(text)}\n`);
const err = (text: string) => process.stderr.write(`junction audit verify: ${printable(text)}\n`);

function describe(result: VerifyResult): string[] {
  const lines: string[] = [];
  if (result.ok) lines.push(`ok: ${result.checked} records verified`);
  else if (result.firstBrokenId)
    lines.push(
      `BROKEN: first broken record ${result.firstBrokenId} of ${result.firstBrokenTable}: ${result.reason}`,
    );
  else lines.push(`BROKEN: ${result.reason}`);
  for (const t of result.tables)
    lines.push(
      `  ${t.table}: ${t.checked} records, chain ${t.ok ? 'consistent' : `broken at ${t.firstBrokenId}`}, head ${t.head.id}`,
    );
  const a = result.anchors;
  if (a.lastAnchor) {
    lines.push(
      `  anchors: ${a.checked} checked; last ${a.lastAnchor.file} signed ${a.lastAnchor.signedAt} (${a.lastAnchor.chains
        .map((c) => `${c.table} ${c.seq}`)
        .join(', ')}): ${a.lastAnchor.matched ? 'matched' : 'DID NOT MATCH'}`,
    );
  } else lines.push(`  anchors: none checked`);
  if (a.droppedByRetention)
    lines.push(
      `  ${a.droppedByRetention} anchored records were dropped by retention (whole days) and could not be checked`,
    );
  return lines;
}

/**
 * Checks an audit database offline against the published anchors: every row unchanged since an
 * anchor signed it, none missing, and the chain consistent. Exit 0 ok, 1 broken (naming the
 * first broken record), 2 bad usage, 5 the database or the anchors could not be read.
 */
export async function auditVerifyCommand(options: AuditVerifyOptions): Promise<number> {
  if (options.report) return reportCommand(options.report, options);
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  const anchorsDir = options.anchors ?? process.env.JUNCTION_AUDIT_ANCHOR_DIR;
  const keyText = options.publicKey ?? process.env.JUNCTION_AUDIT_PUBLIC_KEY;
  const missing = [
    !databaseUrl && '--database-url (or DATABASE_URL)',
    !anchorsDir && '--anchors (or JUNCTION_AUDIT_ANCHOR_DIR)',
    !keyText && '--public-key (or JUNCTION_AUDIT_PUBLIC_KEY)',
  ].filter(Boolean);
  if (missing.length > 0) {
    err(`missing ${missing.join(', ')}`);
    return EXIT.USAGE;
  }
  let publicKey: KeyObject;
  try {
    publicKey = loadVerifyKey(keyText!);
  } catch (e) {
    err((e as Error).message);
    return EXIT.USAGE;
  }
  const db = new DataSource({
    type: 'postgres',
    url: databaseUrl,
    logging: false,
    extra: { max: 2, application_name: 'junction-audit-verify' },
  });
  let result: VerifyResult;
  try {
    await db.initialize();
    const directory = new AnchorDirectory(anchorsDir!);
    result = await new AuditService(new AuditRepository(db), { directory, publicKey }).verify({});
  } catch (e) {
    err(`could not check: ${(e as Error).message}`);
    return EXIT.UNAVAILABLE;
  } finally {
    if (db.isInitialized) await db.destroy().catch(() => undefined);
  }
  // No anchor proves nothing: a CI check must not pass on an empty folder.
  const noAnchor = result.ok && (result.anchors.checked ?? 0) === 0 && result.checked > 0;
  if (noAnchor) {
    result = { ...result, ok: false, reason: `no signed anchor in ${anchorsDir}` };
  }
  if (options.json) out(JSON.stringify(result, null, 2));
  else for (const line of describe(result)) out(line);
  return result.ok ? EXIT.DELIVER : EXIT.AUDIT_BROKEN;
}

/**
 * Checks a verification report downloaded from the gateway (GET /audit/verify/report, or the
 * console's Verify screen): its Ed25519 signature, by the key it carries or, with --public-key,
 * by the gateway's key kept apart. Exit 0 signed by that key and the trail verified, 1 the
 * signature does not verify, no key was given to trust, or the report says the trail is broken,
 * 2 bad usage, 5 the file could not be read.
 */
async function reportCommand(file: string, options: AuditVerifyOptions): Promise<number> {
  const keyText = options.publicKey ?? process.env.JUNCTION_AUDIT_PUBLIC_KEY;
  let trusted: KeyObject | undefined;
  try {
    trusted = keyText ? loadVerifyKey(keyText) : undefined;
  } catch (e) {
    err((e as Error).message);
    return EXIT.USAGE;
  }
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (e) {
    err(`could not read the report ${file}: ${(e as Error).message}`);
    return EXIT.UNAVAILABLE;
  }
  const checked = checkReport(value, trusted);
  if (typeof checked === 'string') {
    if (options.json) out(JSON.stringify({ signatureValid: false, reason: checked }, null, 2));
    else out(`NOT VALID: ${file}: ${checked}`);
    return EXIT.AUDIT_BROKEN;
  }
  const { report } = checked;
  const r = report.result;
  // A report carries its signer's public key: whoever edits one, or makes one up, signs it with a
  // key of their own and puts that key in. Only the gateway's key, kept apart, says who made it.
  const verdict = checked.trusted && r.ok ? EXIT.DELIVER : EXIT.AUDIT_BROKEN;
  if (options.json) {
    out(JSON.stringify({ signatureValid: true, trusted: checked.trusted, report }, null, 2));
    return verdict;
  }
  out(
    `signature valid: report ${report.id} signed by key ${checked.keyId}${checked.trusted ? ' (the key given)' : ' (the key it carries: pass --public-key to know whose it is)'}`,
  );
  out(
    `  ran by ${report.ranBy.name} (${report.ranBy.kind}) at ${report.generatedAt}, range ${report.range.from ?? 'the beginning'} to ${report.range.to ?? 'now'}`,
  );
  if (r.ok) out(`  ok: ${r.checked} records verified`);
  else if (r.firstBroken)
    out(
      `  BROKEN: first broken record ${r.firstBroken.id} of ${r.firstBroken.table}: ${r.firstBroken.reason}`,
    );
  else out(`  BROKEN: ${r.reason ?? 'see the report'}`);
  if (!checked.trusted)
    out(
      `NOT TRUSTED: signed by the key it carries, which anyone can make; pass --public-key (or JUNCTION_AUDIT_PUBLIC_KEY) with the gateway's public key`,
    );
  return verdict;
}
