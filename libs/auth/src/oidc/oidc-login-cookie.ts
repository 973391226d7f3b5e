import { SecretBox } from '@junction/common';
import { cookieValue } from '../session-cookies';
import type { PendingLogin } from './oidc-relying-party';

export const OIDC_COOKIE = 'junction_oidc';

/** A pending sign-in, and where the console wants the browser back (a checked /console path). */
export type BrowserPendingLogin = PendingLogin & { returnTo?: string };
/** The cookie is sent back only to the OIDC endpoints. */
export const OIDC_COOKIE_PATH = '/api/v1/auth/oidc';
const CONTEXT = 'oidc-pending-login';

/**
 * State, nonce and PKCE verifier between the redirect to the provider and the callback, kept in
 * the browser rather than in the gateway, so that any gateway process behind a load balancer can
 * finish the sign-in. The cookie is encrypted and authenticated (AES-256-GCM with a key of its
 * own), httpOnly, SameSite=Lax (the callback is a top-level redirect from another site), limited
 * to the OIDC paths, Secure when the callback is https, and lives as long as the sign-in may take.
 */
export class OidcLoginCookie {
  private readonly box: SecretBox;

  constructor(
    key: Buffer,
    private readonly secure: boolean,
  ) {
    this.box = new SecretBox(key);
  }

  serialize(pending: BrowserPendingLogin): string {
    const value = this.box.sealJson(pending, CONTEXT);
    const maxAge = Math.max(0, Math.ceil((pending.expiresAt - Date.now()) / 1000));
    return this.attributes(encodeURIComponent(value), maxAge);
  }

  /** The header that removes the cookie (after a callback, whatever its outcome). */
  clear(): string {
    return this.attributes('', 0);
  }

  /** The pending sign-in from a Cookie header, or null if absent, forged or unreadable. */
  read(cookieHeader: string | undefined): BrowserPendingLogin | null {
    const raw = cookieValue(cookieHeader, OIDC_COOKIE);
    if (!raw) return null;
    try {
      const pending = this.box.openJson<BrowserPendingLogin>(decodeURIComponent(raw), CONTEXT);
      if (
        typeof pending?.state !== 'string' ||
        typeof pending.nonce !== 'string' ||
        typeof pending.codeVerifier !== 'string' ||
        typeof pending.expiresAt !== 'number' ||
        (pending.returnTo !== undefined && typeof pending.returnTo !== 'string')
      )
        return null;
      return pending;
    } catch {
      return null;
    }
  }

  private attributes(value: string, maxAge: number): string {
    return [
      `${OIDC_COOKIE}=${value}`,
      `Path=${OIDC_COOKIE_PATH}`,
      `Max-Age=${maxAge}`,
      'HttpOnly',
      'SameSite=Lax',
      ...(this.secure ? ['Secure'] : []),
    ].join('; ');
  }
}
