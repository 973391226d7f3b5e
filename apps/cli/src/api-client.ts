import type { Connection } from './cli-config';

/** The gateway could not be reached, or said it is unavailable (502/503/504). */
export class Unreachable extends Error {}

/** The gateway answered with an error. */
export class Refused extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiProblem {
  pointer?: string;
  message: string;
  line?: number;
  column?: number;
}

export interface ApiErrorBody {
  statusCode?: number;
  error?: string;
  message?: string;
  details?: { problems?: ApiProblem[]; code?: string; [key: string]: unknown };
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  text: string;
}

const UNAVAILABLE = new Set([502, 503, 504]);

/** The gateway's public API (/api/v1), with the credentials of a Connection. */
export class ApiClient {
  constructor(
    readonly connection: Connection,
    private readonly timeoutMs = 30_000,
  ) {}

  /**
   * One request. `expect` lists statuses that are answers rather than errors (e.g. 404 when
   * looking a route up); any other non-2xx throws Refused or Unreachable.
   */
  async request<T = unknown>(
    method: string,
    path: string,
    options: { json?: unknown; text?: string; contentType?: string; expect?: number[] } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...this.connection.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.text !== undefined) {
      headers['content-type'] = options.contentType ?? 'text/plain';
      body = options.text;
    }
    const url = `${this.connection.url}/api/v1${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Unreachable(
        `cannot reach ${this.connection.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (res.ok || options.expect?.includes(res.status))
      return { status: res.status, body: parsed as T, text };
    const error = typeof parsed === 'object' && parsed ? (parsed as ApiErrorBody) : undefined;
    const message = `${method} ${path}: ${res.status} ${error?.message ?? (text.slice(0, 200) || res.statusText)}`;
    if (UNAVAILABLE.has(res.status)) throw new Unreachable(message);
    throw new Refused(res.status, error, message);
  }
}
