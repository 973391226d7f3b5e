import {
  ApiError,
  createJunctionClient,
  readCookie,
  type JunctionClient,
  type Middleware,
  type Schemas,
} from '@junction/client';

export { ApiError };
export type { Schemas };
export type Permission = Schemas['MeDto']['permissions'][number];

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
  return readCookie('junction_csrf') !== undefined;
}

const expiry: Middleware = {
  onResponse({ request, response }) {
    if (response.status === 401 && !request.url.includes('/auth/login')) {
      for (const listener of expiredListeners) listener();
    }
    return response;
  },
};

/**
 * The gateway's API in browser mode: the session rides on the HttpOnly cookie the server sets at
 * sign-in, and every state-changing call carries the CSRF token from the `junction_csrf` cookie.
 */
export const api: JunctionClient = createJunctionClient({ browser: true, middleware: [expiry] });

/** The data of an openapi-fetch answer, or its error as an ApiError. */
export const data: JunctionClient['data'] = (call) => api.data(call);

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
