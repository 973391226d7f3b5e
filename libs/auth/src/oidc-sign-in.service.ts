import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { JunctionError, SecretBox, derive } from '@junction/common';
import { AUTH_OPTIONS, AuthOptions } from './auth.options';
import { AuthService, LoginResult } from './auth.service';
import { OidcGrants } from './oidc/oidc-grants';
import { OidcLoginCookie } from './oidc/oidc-login-cookie';
import {
  Claims,
  claimAt,
  rolesFromClaims,
  OidcRefusedError,
  OidcRelyingParty,
  OidcUnavailableError,
  SignedIn,
} from './oidc/oidc-relying-party';
import { everyProviderCheck } from './provider-check';
import { Principal, Role } from './roles';
import { UsersRepository } from './users.repository';

/** How long a user may take at the provider between the redirect and the callback. */
const LOGIN_TTL_SECONDS = 600;
const REFUSED = 'OpenID Connect sign-in failed; start again';

/**
 * OpenID Connect sign-in (authorization code flow with PKCE, state and nonce) and bearer access
 * tokens of the provider. Every refusal is recorded with its reason and answered with one
 * message that says nothing about which check failed.
 *
 * With `offline_access` among the scopes, the provider check (OidcGrants): a user the provider
 * removed, disabled or whose grant it revoked (`invalid_grant`) loses every role here, and with
 * them its sessions and API keys; a user who left mapped groups loses those roles. An offline
 * token ends only so (or by the provider's policy, which the check tells apart by its scale),
 * unlike a session's refresh token, which also ends when the user is idle at the provider: so
 * without `offline_access` nothing is checked (a warning says so).
 */
@Injectable()
export class OidcSignInService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('OidcSignIn');
  private readonly party?: OidcRelyingParty;
  readonly cookie?: OidcLoginCookie;
  /** The provider check; set when it is on (offline_access). */
  private readonly grants?: OidcGrants;
  private timer?: NodeJS.Timeout;
  private warnedNoRefreshToken = false;

  constructor(
    private readonly auth: AuthService,
    users: UsersRepository,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
  ) {
    if (options.oidc) {
      this.party = new OidcRelyingParty(options.oidc);
      this.cookie = new OidcLoginCookie(
        derive(options.tokenKey, 'junction/oidc-login-cookie'),
        options.oidc.redirectUri.startsWith('https:'),
      );
      if (options.oidc.scopes.split(' ').includes('offline_access'))
        this.grants = new OidcGrants(
          this.party,
          new SecretBox(derive(options.tokenKey, 'junction/oidc-refresh-token')),
          users,
          auth,
          options.oidc,
        );
    }
  }

  /** Whether OIDC sign-in is configured. */
  get enabled(): boolean {
    return this.party !== undefined;
  }

  onModuleInit(): void {
    if (!this.party) return;
    if (!this.grants) {
      this.log.warn(
        'JUNCTION_OIDC_SCOPES has no offline_access: users removed at the identity provider keep their roles, sessions and API keys here until an admin disables them',
      );
      return;
    }
    this.timer = everyProviderCheck(this.log, 'identity provider', () => this.checkProvider());
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.grants?.settled();
  }

  /**
   * Asks the provider about every enabled OIDC user holding a role whose refresh token is kept
   * and who was not asked about in the last PROVIDER_CHECK_MS (by this or another process), and
   * withdraws the roles it no longer grants (see OidcGrants). Returns how many users lost roles.
   */
  checkProvider(): Promise<number> {
    return this.grants?.check() ?? Promise.resolve(0);
  }

  /** The provider's authorization URL and the cookie that carries state, nonce and verifier. */
  async begin(returnTo?: string): Promise<{ url: string; cookie: string }> {
    const party = this.require();
    try {
      const { url, pending } = await party.begin(LOGIN_TTL_SECONDS);
      return { url, cookie: this.cookie!.serialize({ ...pending, returnTo }) };
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async complete(
    query: string,
    cookieHeader: string | undefined,
    meta: { ip?: string; userAgent?: string },
  ): Promise<LoginResult & { returnTo?: string }> {
    const party = this.require();
    const pending = this.cookie!.read(cookieHeader);
    if (!pending) return this.refuse('(unknown)', 'no or unreadable sign-in cookie', meta.ip);
    let signedIn: SignedIn;
    try {
      signedIn = await party.complete(query, pending);
    } catch (err) {
      if (err instanceof OidcRefusedError) return this.refuse('(unknown)', err.message, meta.ip);
      if (err instanceof OidcUnavailableError)
        await this.auth
          .refuse('(unknown)', 'oidc', 'identity provider unavailable', meta.ip)
          .catch(() => undefined);
      throw this.unavailable(err);
    }
    const { claims } = signedIn;
    const username = this.username(claims);
    if (typeof username !== 'string') return this.refuse('(unknown)', username.refused, meta.ip);
    try {
      const result = await this.auth.signInExternal(
        'oidc',
        this.identity(username, claims),
        this.rolesOf(claims),
        meta,
      );
      await this.keepRefreshToken(result.principal.id, signedIn.refreshToken, claims.sub);
      return { ...result, returnTo: pending.returnTo };
    } catch (err) {
      if (err instanceof JunctionError && err.code === 'UNAUTHENTICATED')
        throw new JunctionError('UNAUTHENTICATED', REFUSED);
      throw err;
    }
  }

  /**
   * The principal of an `Authorization: Bearer` access token from the provider, when bearer
   * tokens are accepted; null when the token is not the provider's or does not verify.
   */
  async principalFromAccessToken(token: string): Promise<Principal | null> {
    if (!this.party || !this.options.oidc?.acceptBearer) return null;
    let claims: Claims | null;
    try {
      claims = await this.party.verifyAccessToken(token);
    } catch (err) {
      if (err instanceof OidcRefusedError) return null;
      if (err instanceof OidcUnavailableError) {
        this.log.warn(err.message);
        return null;
      }
      throw err;
    }
    if (!claims) return null;
    const username = this.username(claims);
    if (typeof username !== 'string') return null;
    return this.auth.principalFromProvider(
      'oidc',
      this.identity(username, claims),
      this.rolesOf(claims),
    );
  }

  /** With the provider check on: the sign-in's refresh token, sealed to its user (or none). */
  private async keepRefreshToken(
    userId: string,
    refreshToken: string | undefined,
    sub: unknown,
  ): Promise<void> {
    if (!this.grants) return;
    if (!refreshToken && !this.warnedNoRefreshToken) {
      this.warnedNoRefreshToken = true;
      this.log.warn(
        'the identity provider issued no refresh token for offline_access: its users cannot be checked (allow the refresh_token grant to this client)',
      );
    }
    await this.grants.keep(userId, refreshToken, sub);
  }

  private rolesOf(claims: Claims): Role[] {
    return rolesFromClaims(this.options.oidc!, claims);
  }

  /** The user name the claims give, or why they give none. */
  private username(claims: Claims): string | { refused: string } {
    const { usernameClaim, requireVerifiedEmail = true } = this.options.oidc!;
    const value = claimAt(claims, usernameClaim);
    if (typeof value !== 'string' || value.length === 0 || value.length > 256)
      return { refused: `no '${usernameClaim}' claim` };
    // An address is a user name only once the provider vouches for it: many let a user type any
    // address, a victim's included, and would hand over that victim's account here.
    if (
      usernameClaim === 'email' &&
      requireVerifiedEmail &&
      claims.email_verified !== true &&
      claims.email_verified !== 'true'
    )
      return { refused: "the 'email' claim is not verified (email_verified)" };
    return value;
  }

  private identity(username: string, claims: Claims) {
    const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
    return {
      username,
      displayName: text(claims.name) ?? text(claims.preferred_username),
      email: text(claims.email),
    };
  }

  private require(): OidcRelyingParty {
    if (!this.party)
      throw new JunctionError('NOT_FOUND', 'OpenID Connect sign-in is not configured');
    return this.party;
  }

  private async refuse(actor: string, reason: string, ip?: string): Promise<never> {
    await this.auth.refuse(actor, 'oidc', reason, ip).catch(() => undefined);
    throw new JunctionError('UNAUTHENTICATED', REFUSED);
  }

  private unavailable(err: unknown): Error {
    if (err instanceof OidcUnavailableError) {
      this.log.warn(err.message);
      return new JunctionError(
        'UNAVAILABLE',
        'the identity provider cannot be reached; try again later',
        undefined,
        { cause: err },
      );
    }
    return err as Error;
  }
}
