/** One problem the gateway found in a request, pointing at the field (JSON Pointer). */
export interface ApiProblem {
  pointer?: string;
  message: string;
  line?: number;
  column?: number;
  /** A conflict with another live route (validate): its id. */
  routeId?: string;
}

/** The error shape every endpoint answers with (the `ErrorDto` of the OpenAPI document). */
export interface ApiErrorBody {
  statusCode?: number;
  error?: string;
  message?: string;
  details?: { problems?: ApiProblem[]; code?: string; [key: string]: unknown };
}

/**
 * The gateway answered with an error status. `body` is what it said; the message is the
 * server's `message`. Only the method and the path (without its query) of the request are kept:
 * never its headers, so no credential travels with the error into a log.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
    readonly request?: { method: string; path: string },
  ) {
    super(body.message ?? `request failed (${status})`);
  }
}

/** The gateway could not be reached (refused, reset, name unknown, timed out). */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';

  constructor(
    /** The gateway's origin (never user:password@). */
    readonly origin: string,
    /** ECONNREFUSED, ENOTFOUND, TIMEOUT, ... when known. */
    readonly code: string | undefined,
  ) {
    super(`cannot reach ${origin}${code ? `: ${code}` : ''}`);
  }
}

/** The server's error body when it is one, else an empty body (e.g. a proxy's HTML page). */
export function errorBody(error: unknown): ApiErrorBody {
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return {};
  const { statusCode, error: title, message, details } = error as Record<string, unknown>;
  return {
    ...(typeof statusCode === 'number' ? { statusCode } : {}),
    ...(typeof title === 'string' ? { error: title } : {}),
    ...(typeof message === 'string' ? { message } : {}),
    ...(typeof details === 'object' && details !== null
      ? { details: details as ApiErrorBody['details'] }
      : {}),
  };
}
