/** Why the audit trail could not do what was asked. */
export type AuditErrorCode =
  /** The writer was closed: a record given after shutdown began is not taken. */
  | 'CLOSED'
  /** The database refused a row for a reason that trying again cannot fix (a bug, or a broken schema). */
  | 'REJECTED'
  /** The chain head of a table is missing: the audit migration has not run. */
  | 'NO_CHAIN_HEAD'
  /** The signing key is missing, unreadable or not Ed25519. */
  | 'BAD_SIGNING_KEY'
  /** The rows since the last signed anchor do not extend it: nothing was signed. */
  | 'ANCHOR_REFUSED';

export class AuditError extends Error {
  override readonly name = 'AuditError';

  constructor(
    readonly code: AuditErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
