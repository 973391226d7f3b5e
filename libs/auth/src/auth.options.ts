import type { LdapSettings } from './ldap/ldap-directory';
import type { OidcSettings } from './oidc/oidc-relying-party';
import type { RoleMapping } from './role-mapping';

/** LDAP sign-in: the directory, and which groups (compared as normalised DNs) grant which roles. */
export interface LdapAuthOptions extends LdapSettings {
  groupRoles: RoleMapping;
}

/** OpenID Connect sign-in: the provider, and which claim values grant which roles. */
export interface OidcAuthOptions extends OidcSettings {
  claimRoles: RoleMapping;
}

/** What the gateway hands the auth module at start-up (from validated configuration). */
export interface AuthOptions {
  /** Key that signs session tokens (derived from the master key). */
  tokenKey: Buffer;
  tokenTtlSeconds: number;
  /** Sign-in attempts allowed per minute for one address and user name. */
  loginAttemptsPerMinute: number;
  /** Session cookies always Secure (else only on requests that came over TLS). */
  cookieSecure?: boolean;
  /** Off unless configured. */
  ldap?: LdapAuthOptions;
  /** Off unless configured. */
  oidc?: OidcAuthOptions;
}

export const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');

/** Where sign-ins, failures and denials are reported; the audit trail plugs in here. */
export interface AuthEventSink {
  record(event: AuthEvent): void | Promise<void>;
}

export type AuthEvent =
  | { type: 'login.succeeded'; actor: string; provider: string; ip?: string }
  | { type: 'login.failed'; actor: string; provider: string; ip?: string; reason: string }
  | {
      type: 'request.denied';
      actor: string;
      method: string;
      path: string;
      status: 401 | 403;
      ip?: string;
    }
  | {
      type: 'session.revoked';
      actor: string;
      sessionId: string;
      user: string;
      provider: string;
      ip?: string;
    };

export const AUTH_EVENT_SINK = Symbol('AUTH_EVENT_SINK');
