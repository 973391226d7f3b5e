/** Why the embedded database or a test database could not be provided. */
export type DatabaseErrorCode =
  /** No Postgres binaries for this platform, or the package that ships them is missing. */
  | 'BINARIES_MISSING'
  /**
   * Under root, the unprivileged uid Postgres runs as cannot reach the binaries, and copying them
   * to a folder it can reach failed or found a folder there that is not ours.
   */
  | 'BINARIES_UNREACHABLE'
  /** The embedded server needs signals and uids that only POSIX systems have. */
  | 'UNSUPPORTED_PLATFORM'
  /** `initdb` failed; the message carries the tail of its output. */
  | 'INIT_FAILED'
  /** Another process already listens on the requested port. */
  | 'PORT_IN_USE'
  /** The server exited or did not become ready; the message carries the tail of its log. */
  | 'START_FAILED'
  /** A server that a live process still runs holds the data folder. */
  | 'DATA_DIR_IN_USE'
  /** A postmaster left over from an earlier run would not stop. */
  | 'ORPHAN_NOT_STOPPED'
  /** Creating or dropping a database failed. */
  | 'SQL_FAILED';

export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';

  constructor(
    readonly code: DatabaseErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
