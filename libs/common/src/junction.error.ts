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
