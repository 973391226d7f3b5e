import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { ApiError, errorBody, NetworkError } from './api-error';
import type { components, paths } from './generated/api';

export type { components, paths };
export type Schemas = components['schemas'];

/** The header that holds the cursor of the next page of a list. */
export const NEXT_CURSOR_HEADER = 'Junction-Next-Cursor';

export interface JunctionClientOptions {
  /**
   * The gateway's origin, e.g. `http://127.0.0.1:8080` (the typed paths start with `/api/v1`).
   * In browser mode, the page's origin when not given.
   */
  baseUrl?: string;
  /** A session token from `POST /api/v1/auth/login`, sent as `Authorization: Bearer`. */
  token?: string;
  /** An API key, sent as `X-API-Key`. */
  apiKey?: string;
  /**
   * Browser mode: the session rides on the HttpOnly cookie the gateway sets at sign-in, and every
   * state-changing call carries the CSRF token the gateway put in the readable `junction_csrf`
   * cookie (as `X-CSRF-Token`).
   */
  browser?: boolean;
  /** The fetch to use (e.g. one that adds a timeout or its own authentication). */
  fetch?: (request: Request) => Promise<Response>;
  /** openapi-fetch middleware, run in order around every request. */
  middleware?: Middleware[];
}

type Json200<Op> = Op extends { responses: { 200: { content: { 'application/json': infer T } } } }
  ? T
  : never;
type GetOperation<P> = P extends keyof paths
  ? paths[P] extends { get: infer Op }
    ? Op
    : never
  : never;
type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** The items of a page: a JSON array (cursor in a header) or `{ items, nextCursor }`. */
type ItemsOf<T> = T extends readonly (infer I)[]
  ? I
  : T extends { items: readonly (infer I)[]; nextCursor: unknown }
    ? I
    : never;
/**
 * The list endpoints that page with a cursor: `cursor` in, and out the `Junction-Next-Cursor`
 * header (dead letters) or the page's `nextCursor` (audit records).
 */
export type PagedPath = {
  [P in keyof paths]: [QueryOf<GetOperation<P>>] extends [never]
    ? never
    : 'cursor' extends keyof QueryOf<GetOperation<P>>
      ? [ItemsOf<Json200<GetOperation<P>>>] extends [never]
        ? never
        : P
      : never;
}[keyof paths];
/** One item of a paged list. */
export type PageItem<P extends PagedPath> = ItemsOf<Json200<GetOperation<P>>>;
/** The filter of a paged list (the cursor is the iterator's business). */
export type PageQuery<P extends PagedPath> = Omit<QueryOf<GetOperation<P>>, 'cursor'>;

export type AuditExportQuery = QueryOf<GetOperation<'/api/v1/audit/export'>>;

/** A download as it arrives: the body is read chunk by chunk, never held whole. */
export interface Download {
  contentType: string;
  /** From Content-Disposition, when the gateway names the file. */
  filename: string | undefined;
  body: ReadableStream<Uint8Array>;
}

/** The answer of one openapi-fetch call. */
export interface CallResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

export interface JunctionClient extends Client<paths> {
  /** The data of a call, or its error as an ApiError: `await api.data(api.GET('/api/v1/routes'))`. */
  data<T>(call: CallResult<T> | Promise<CallResult<T>>): Promise<T>;
  /**
   * Every item of a cursor-paged list, page after page (`limit` sets the page size):
   * `for await (const letter of api.paginate('/api/v1/dead-letters', { query: { routeId } }))`;
   * also `/api/v1/audit/messages` and `/api/v1/audit/events`.
   */
  paginate<P extends PagedPath>(
    path: P,
    options?: { query?: PageQuery<P>; signal?: AbortSignal },
  ): AsyncIterableIterator<PageItem<P>>;
  /** `GET /api/v1/audit/export` as a stream (CSV or NDJSON), for any size of export. */
  auditExport(query: AuditExportQuery, options?: { signal?: AbortSignal }): Promise<Download>;
}

/** A cookie of the page (browser mode), or undefined outside a browser. */
export function readCookie(name: string): string | undefined {
  const doc = (globalThis as { document?: { cookie?: string } }).document;
  for (const part of (doc?.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

/**
 * A body sent as it was written, e.g. a route in YAML:
 * `api.POST('/api/v1/routes', textBody(yaml, 'application/yaml'))`.
 */
export function textBody(text: string, contentType: string) {
  return {
    body: text,
    bodySerializer: (body: unknown) => body as string,
    headers: { 'content-type': contentType },
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const csrf: Middleware = {
  onRequest({ request }) {
    if (!SAFE_METHODS.has(request.method)) {
      const token = readCookie('junction_csrf');
      if (token) request.headers.set('X-CSRF-Token', token);
    }
    return request;
  },
};

/** Replaces the client's own credentials wherever they might be echoed back. */
function scrubber(secrets: string[]): <T>(value: T) => T {
  const known = secrets.filter((s) => s.length >= 8);
  if (known.length === 0) return (value) => value;
  const scrub = (text: string) => known.reduce((t, s) => t.split(s).join('[redacted]'), text);
  return (value) => JSON.parse(scrub(JSON.stringify(value) ?? 'null')) as typeof value;
}

function errorCode(err: unknown): string | undefined {
  const e = err as { name?: string; code?: string; cause?: { code?: string } } | undefined;
  if (e?.name === 'TimeoutError') return 'TIMEOUT';
  return e?.cause?.code ?? e?.code;
}

/**
 * A typed client of the gateway's API (openapi-fetch over the types generated from the gateway's
 * OpenAPI document): `GET`/`POST`/`PUT`/`PATCH`/`DELETE` answer `{ data, error, response }`;
 * `data()` turns an error into an ApiError; `paginate()` walks cursor-paged lists;
 * `auditExport()` streams an export.
 */
export function createJunctionClient(options: JunctionClientOptions = {}): JunctionClient {
  if (options.token && options.apiKey) throw new Error('give a token or an API key, not both');
  const location = (globalThis as { location?: { origin?: string } }).location;
  const baseUrl = (options.baseUrl ?? (options.browser ? location?.origin : undefined))?.replace(
    /\/+$/,
    '',
  );
  if (!baseUrl) throw new Error('baseUrl is required (the gateway, e.g. http://127.0.0.1:8080)');
  let origin: string;
  try {
    origin = new URL(baseUrl).origin;
  } catch {
    throw new Error('baseUrl must be an absolute http(s) URL');
  }
  const scrub = scrubber([options.token, options.apiKey].filter((s): s is string => !!s));
  // Which request each answer was for (method and path only), for the errors.
  const asked = new WeakMap<Response, { method: string; path: string }>();
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const client = createClient<paths>({
    baseUrl,
    // A redirect is an answer, not followed: fetch would carry X-API-Key (it drops only
    // Authorization) to wherever a proxy, a mistyped URL or anyone on the path sends it. The
    // browser (the console) sends only its same-origin cookie and keeps fetch's default.
    ...(options.browser
      ? { credentials: 'same-origin' as const }
      : { redirect: 'manual' as const }),
    // A failed connection says which gateway, never the request (its headers hold credentials).
    fetch: async (request: Request) => {
      try {
        const response = await send(request);
        asked.set(response, { method: request.method, path: new URL(request.url).pathname });
        return response;
      } catch (err) {
        if ((err as Error | undefined)?.name === 'AbortError') throw err;
        throw new NetworkError(origin, errorCode(err));
      }
    },
  });
  const { token, apiKey } = options;
  if (token || apiKey)
    client.use({
      onRequest({ request }) {
        if (token) request.headers.set('Authorization', `Bearer ${token}`);
        else if (apiKey) request.headers.set('X-API-Key', apiKey);
        return request;
      },
    });
  if (options.browser) client.use(csrf);
  for (const m of options.middleware ?? []) client.use(m);

  const fail = (status: number, error: unknown, response: Response): ApiError =>
    new ApiError(status, scrub(errorBody(error)), asked.get(response));
  async function data<T>(call: CallResult<T> | Promise<CallResult<T>>): Promise<T> {
    const { data: body, error, response } = await call;
    if (error !== undefined || !response.ok) throw fail(response.status, error, response);
    return body as T;
  }
  // The generic calls below go through openapi-fetch with a path chosen at run time.
  const loose = client as unknown as {
    GET(path: string, init: object): Promise<CallResult<unknown>>;
  };
  async function* paginate<P extends PagedPath>(
    path: P,
    opts: { query?: PageQuery<P>; signal?: AbortSignal } = {},
  ): AsyncIterableIterator<PageItem<P>> {
    let cursor: string | undefined;
    do {
      const query = { ...opts.query, ...(cursor ? { cursor } : {}) };
      const call = loose.GET(path, { params: { query }, signal: opts.signal });
      const page = (await data(call)) as
        PageItem<P>[] | { items: PageItem<P>[]; nextCursor?: string | null };
      const header = (await call).response.headers.get(NEXT_CURSOR_HEADER) ?? undefined;
      if (Array.isArray(page)) {
        yield* page;
        cursor = header;
      } else {
        yield* page.items;
        cursor = page.nextCursor ?? header;
      }
    } while (cursor);
  }
  async function auditExport(
    query: AuditExportQuery,
    opts: { signal?: AbortSignal } = {},
  ): Promise<Download> {
    const call = loose.GET('/api/v1/audit/export', {
      params: { query },
      parseAs: 'stream',
      signal: opts.signal,
    });
    const body = (await data(call)) as ReadableStream<Uint8Array> | null;
    const { response } = await call;
    const disposition = response.headers.get('content-disposition') ?? '';
    return {
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      filename: /filename="?([^";]+)"?/.exec(disposition)?.[1],
      body: body ?? new ReadableStream({ start: (c) => c.close() }),
    };
  }
  return Object.assign(client, { data, paginate, auditExport });
}
