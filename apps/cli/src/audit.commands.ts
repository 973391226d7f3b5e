import { KeyObject } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  AnchorDirectory,
  AuditRepository,
  AuditService,
  loadVerifyKey,
  type VerifyResult,
} from '@junction/audit';
import { EXIT } from './exit-codes';

export interface AuditVerifyOptions {
  databaseUrl?: string;
  anchors?: string;
  publicKey?: string;
  json?: boolean;
}

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`junction audit verify: ${text}\n`);

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
