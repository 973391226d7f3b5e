import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** The browser's session: the same signed token a Bearer caller sends, in an HttpOnly cookie. */
export const SESSION_COOKIE = 'junction_session';
/** Readable by the console's script, which echoes it in X-CSRF-Token (double submit). */
export const CSRF_COOKIE = 'junction_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** A cookie's value from a Cookie header, or undefined when absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * Session and CSRF cookies of the console. The CSRF value is an HMAC of the session id: random
 * to anyone without the key, bound to one session (a token planted from another session does
 * not pass), and checked against both the cookie and the header, so a cross-site form (which can
 * neither read the cookie nor set a header) is refused even where SameSite is not enforced.
 */
export class SessionCookies {
  constructor(
    private readonly key: Buffer,
    private readonly alwaysSecure: boolean,
  ) {}

  /** Set-Cookie headers that start a browser session. */
  issue(request: FastifyRequest, token: string, sessionId: string, expiresAt: Date): string[] {
    const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
    const secure = this.secure(request);
    return [
      this.attributes(SESSION_COOKIE, token, maxAge, secure, true),
      this.attributes(CSRF_COOKIE, this.csrfFor(sessionId), maxAge, secure, false),
    ];
  }

  /** Set-Cookie headers that remove both cookies. */
  clear(request: FastifyRequest): string[] {
    const secure = this.secure(request);
    return [
      this.attributes(SESSION_COOKIE, '', 0, secure, true),
      this.attributes(CSRF_COOKIE, '', 0, secure, false),
    ];
  }

  /** The session token carried by the request's cookie, if any. */
  token(request: FastifyRequest): string | undefined {
    const value = cookieValue(request.headers.cookie, SESSION_COOKIE);
    return value ? value : undefined;
  }

  /**
   * True when the request carries the CSRF token of `sessionId` in both the header and the cookie
   * (constant-time compares).
   */
  csrfValid(request: FastifyRequest, sessionId: string | undefined): boolean {
    if (!sessionId) return false;
    const header = request.headers[CSRF_HEADER];
    const cookie = cookieValue(request.headers.cookie, CSRF_COOKIE);
    if (typeof header !== 'string' || !cookie) return false;
    const expected = Buffer.from(this.csrfFor(sessionId));
    return sameBytes(Buffer.from(header), expected) && sameBytes(Buffer.from(cookie), expected);
  }

  private csrfFor(sessionId: string): string {
    return createHmac('sha256', this.key).update(`csrf:${sessionId}`).digest('base64url');
  }

  private secure(request: FastifyRequest): boolean {
    return this.alwaysSecure || request.protocol === 'https';
  }

  private attributes(
    name: string,
    value: string,
    maxAge: number,
    secure: boolean,
    httpOnly: boolean,
  ): string {
    return [
      `${name}=${value}`,
      'Path=/',
      `Max-Age=${maxAge}`,
      ...(httpOnly ? ['HttpOnly'] : []),
      'SameSite=Strict',
      ...(secure ? ['Secure'] : []),
    ].join('; ');
  }
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
