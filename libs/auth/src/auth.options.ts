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
  /** Live sessions one user keeps (default MAX_LIVE_SESSIONS): a sign-in beyond them ends the oldest. */
  maxSessionsPerUser?: number;
  /** Sign-in limits per source address and per account (defaults: DEFAULT_LOGIN_THROTTLE). */
  loginThrottle?: LoginThrottleSettings;
  /** Milliseconds since the epoch; tests move it. Default Date.now. */
  clock?: () => number;
  /** Session cookies always Secure (else only on requests that came over TLS). */
  cookieSecure?: boolean;
  /** Off unless configured. */
  ldap?: LdapAuthOptions;
  /** Off unless configured. */
  oidc?: OidcAuthOptions;
}

/** How sign-in attempts are limited (see LoginThrottleService). */
export interface LoginThrottleSettings {
  /** The window failures of one source are counted in, and how long an account remembers a failure. */
  windowSeconds: number;
  /** Failed sign-ins from one address in a window, whatever the user names, before 429. */
  sourceFailures: number;
  /** Failed sign-ins in a row that lock an account. */
  accountFailures: number;
  /** The first lockout; each further one doubles it. */
  lockoutSeconds: number;
  maxLockoutSeconds: number;
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
      /** The matched route's pattern (`/api/v1/routes/:id`), when one matched. */
      route?: string;
      status: 401 | 403;
      ip?: string;
    }
  | {
      /** The address reached `failures` failed sign-ins in a window: its sign-ins are refused until `until`. */
      type: 'login.throttled';
      actor: string;
      provider: string;
      ip?: string;
      until: string;
      failures: number;
    }
  | {
      /** Failed sign-ins in a row locked the account until `until`. */
      type: 'account.locked';
      actor: string;
      provider: string;
      ip?: string;
      until: string;
    }
  | {
      type: 'password.changed';
      actor: string;
      provider: string;
      ip?: string;
      sessionsEnded: number;
    }
  | {
      /** A disabled or deleted user's API keys and sessions were ended. */
      type: 'credentials.revoked';
      actor: string;
      user: string;
      userId: string;
      provider: string;
      reason: string;
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
