import { redactPans, redactPanText } from '@junction/pipeline';

/**
 * Every failure the API can report, by code. Libraries throw a JunctionError with one of these;
 * the gateway's one exception filter maps each code to an HTTP status with an exhaustive switch.
 */
export type JunctionErrorCode =
  | 'BAD_REQUEST'
  | 'UNPROCESSABLE'
  | 'BAD_GATEWAY'
  | 'ROUTE_INVALID'
  | 'UNKNOWN_CONNECTION'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAVAILABLE'
  | 'SATURATED'
  | 'TIMEOUT';

/** An API failure; card numbers in its text and details are redacted where it is made. */
export class JunctionError extends Error {
  override readonly name = 'JunctionError';

  /** Safe to return to the caller: never a secret, a payload or a stack. */
  readonly details?: unknown;

  constructor(
    readonly code: JunctionErrorCode,
    message: string,
    details?: unknown,
    options?: {
      cause?: unknown;
      /** Sent as Retry-After: the same request may well succeed this many seconds later. */
      retryAfterSeconds?: number;
    },
  ) {
    super(redactPanText(message), options);
    this.details = redactPans(details);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  readonly retryAfterSeconds?: number;
}

/** A Postgres unique violation (SQLSTATE 23505), as TypeORM's QueryFailedError carries it. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { driverError?: { code?: unknown } } | null)?.driverError?.code === '23505';
}

/**
 * SQLSTATEs by which Postgres refuses a value the request carried (class 22, data exception, and
 * 54, program limit exceeded), with what to tell the caller. Postgres's own message is not
 * passed on: it may quote the value (a card number, a password) back.
 */
const INPUT_SQLSTATES: Record<string, string> = {
  '22P02': 'a value in the request has the wrong form for its field (not a number, not a UUID)',
  '22003': 'a number in the request is out of range',
  '22021': 'a string in the request contains a character that cannot be stored (NUL, U+0000)',
  '22P05':
    'a string in the request contains a character that cannot be stored (NUL, U+0000, or a lone UTF-16 surrogate)',
  '22001': 'a value in the request is longer than its field allows',
  '22007': 'a date or time in the request is not valid',
  '22008': 'a date or time in the request is out of range',
  '54001': 'the request is nested too deeply to store',
};

function sqlStateOf(err: unknown): string | undefined {
  // TypeORM wraps the driver's error (driverError); pg's own DatabaseError has the code itself.
  // Follow `cause` a few steps too: a service may have wrapped it once more.
  let at: unknown = err;
  for (let i = 0; i < 4 && at !== null && typeof at === 'object'; i++) {
    const e = at as { driverError?: { code?: unknown }; code?: unknown; cause?: unknown };
    const code = e.driverError?.code ?? e.code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    at = e.cause;
  }
  return undefined;
}

/**
 * The JunctionError for a Postgres error caused by a value in the request (a NUL in a name, a
 * version beyond int4, a malformed UUID or date, nesting too deep for jsonb), or undefined when
 * the error is the server's own fault. One place for all endpoints: whatever reaches the
 * database unchecked is a 4xx, never a 500.
 */
export function databaseInputError(err: unknown): JunctionError | undefined {
  const code = sqlStateOf(err);
  if (code === undefined) return undefined;
  const known = INPUT_SQLSTATES[code];
  if (code.startsWith('22')) {
    return new JunctionError(
      'BAD_REQUEST',
      known ?? 'a value in the request cannot be stored',
      { sqlState: code },
      { cause: err },
    );
  }
  if (code.startsWith('54')) {
    return new JunctionError(
      'PAYLOAD_TOO_LARGE',
      known ?? 'the request is too large or too complex to store',
      { sqlState: code },
      { cause: err },
    );
  }
  return undefined;
}
