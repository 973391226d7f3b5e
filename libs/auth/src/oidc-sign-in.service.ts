import { Inject, Injectable, Logger } from '@nestjs/common';
import { JunctionError, derive } from '@junction/common';
import { AUTH_OPTIONS, AuthOptions } from './auth.options';
import { AuthService, LoginResult } from './auth.service';
import { OidcLoginCookie } from './oidc/oidc-login-cookie';
import {
  Claims,
  claimAt,
  claimValues,
  OidcRefusedError,
  OidcRelyingParty,
  OidcUnavailableError,
} from './oidc/oidc-relying-party';
import { Principal } from './roles';

/** How long a user may take at the provider between the redirect and the callback. */
const LOGIN_TTL_SECONDS = 600;
const REFUSED = 'OpenID Connect sign-in failed; start again';

/**
 * OpenID Connect sign-in (authorization code flow with PKCE, state and nonce) and bearer access
 * tokens of the provider. Every refusal is recorded with its reason and answered with one
 * message that says nothing about which check failed.
 */
@Injectable()
export class OidcSignInService {
  private readonly log = new Logger('OidcSignIn');
  private readonly party?: OidcRelyingParty;
  readonly cookie?: OidcLoginCookie;

  constructor(
    private readonly auth: AuthService,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
  ) {
    if (options.oidc) {
      this.party = new OidcRelyingParty(options.oidc);
      this.cookie = new OidcLoginCookie(
        derive(options.tokenKey, 'junction/oidc-login-cookie'),
        options.oidc.redirectUri.startsWith('https:'),
      );
    }
  }

  /** Whether OIDC sign-in is configured. */
  get enabled(): boolean {
    return this.party !== undefined;
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
    let claims: Claims;
    try {
      claims = await party.complete(query, pending);
    } catch (err) {
      if (err instanceof OidcRefusedError) return this.refuse('(unknown)', err.message, meta.ip);
      if (err instanceof OidcUnavailableError)
        await this.auth
          .refuse('(unknown)', 'oidc', 'identity provider unavailable', meta.ip)
          .catch(() => undefined);
      throw this.unavailable(err);
    }
    const username = this.username(claims);
    if (!username)
      return this.refuse('(unknown)', `no '${this.options.oidc!.usernameClaim}' claim`, meta.ip);
    const roles = this.options.oidc!.claimRoles.rolesFor(
      claimValues(claims, this.options.oidc!.rolesClaim),
    );
    try {
      const result = await this.auth.signInExternal(
        'oidc',
        this.identity(username, claims),
        roles,
        meta,
      );
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
    if (!username) return null;
    const roles = this.options.oidc.claimRoles.rolesFor(
      claimValues(claims, this.options.oidc.rolesClaim),
    );
    return this.auth.principalFromProvider('oidc', this.identity(username, claims), roles);
  }

  private username(claims: Claims): string | null {
    const value = claimAt(claims, this.options.oidc!.usernameClaim);
    return typeof value === 'string' && value.length > 0 && value.length <= 256 ? value : null;
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
