import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from '../generated/api';

export type Schemas = components['schemas'];
export type Permission = Schemas['MeDto']['permissions'][number];

/** The error shape every endpoint answers with. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { statusCode?: number; error?: string; message?: string; details?: unknown },
  ) {
    super(body.message ?? `request failed (${status})`);
  }
}

function cookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

type Listener = () => void;
const expiredListeners = new Set<Listener>();
/** Called when the server says the session is over (401 on a call that was signed in). */
export function onSessionExpired(listener: Listener): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

/**
 * Whether a session may exist: the readable CSRF cookie comes and goes with the session cookie.
 * Without it the console does not ask /auth/me (a 401 there would only be noise).
 */
export function maybeSignedIn(): boolean {
  return cookie('junction_csrf') !== undefined;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Sessions ride on the HttpOnly cookie the server sets at sign-in; every state-changing call
 * carries the CSRF token the server put in the readable `junction_csrf` cookie.
 */
const session: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method)) {
      const csrf = cookie('junction_csrf');
      if (csrf) request.headers.set('X-CSRF-Token', csrf);
    }
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !request.url.includes('/auth/login')) {
      for (const listener of expiredListeners) listener();
    }
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: window.location.origin,
  credentials: 'same-origin',
});
api.use(session);

/** The data of an openapi-fetch answer, or its error as an ApiError. */
export async function data<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data: body, error, response } = await call;
  if (error !== undefined || !response.ok) {
    throw new ApiError(response.status, (error ?? {}) as ApiError['body']);
  }
  return body as T;
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
