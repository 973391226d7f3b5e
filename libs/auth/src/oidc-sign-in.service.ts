import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { JunctionError, SecretBox, derive } from '@junction/common';
import { AUTH_OPTIONS, AuthOptions } from './auth.options';
import { AuthService, LoginResult, rolesOf } from './auth.service';
import { UserEntity } from './entities/user.entity';
import { OidcLoginCookie } from './oidc/oidc-login-cookie';
import {
  Claims,
  claimAt,
  claimValues,
  OidcGrantEndedError,
  OidcRefusedError,
  OidcRelyingParty,
  OidcUnavailableError,
  SignedIn,
} from './oidc/oidc-relying-party';
import { everyProviderCheck, PROVIDER_CHECK_MS } from './provider-check';
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
 * With `offline_access` among the scopes, the provider check: the refresh token of each user's
 * sign-in is kept (sealed), and every PROVIDER_CHECK_MS the provider is asked with it whether the
 * grant still stands. A user the provider removed, disabled or whose grant it revoked
 * (`invalid_grant`) loses every role here, and with them its sessions and API keys; a user who
 * left mapped groups loses those roles. An offline token ends only so, unlike a session's
 * refresh token, which also ends when the user is idle at the provider: so without
 * `offline_access` nothing is checked (a warning says so).
 */
@Injectable()
export class OidcSignInService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('OidcSignIn');
  private readonly party?: OidcRelyingParty;
  readonly cookie?: OidcLoginCookie;
  /** Seals refresh tokens at rest; set when the provider check is on (offline_access). */
  private readonly box?: SecretBox;
  private timer?: NodeJS.Timeout;
  private warnedNoRefreshToken = false;

  constructor(
    private readonly auth: AuthService,
    private readonly users: UsersRepository,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
  ) {
    if (options.oidc) {
      this.party = new OidcRelyingParty(options.oidc);
      this.cookie = new OidcLoginCookie(
        derive(options.tokenKey, 'junction/oidc-login-cookie'),
        options.oidc.redirectUri.startsWith('https:'),
      );
      if (options.oidc.scopes.split(' ').includes('offline_access'))
        this.box = new SecretBox(derive(options.tokenKey, 'junction/oidc-refresh-token'));
    }
  }

  /** Whether OIDC sign-in is configured. */
  get enabled(): boolean {
    return this.party !== undefined;
  }

  onModuleInit(): void {
    if (!this.party) return;
    if (!this.box) {
      this.log.warn(
        'JUNCTION_OIDC_SCOPES has no offline_access: users removed at the identity provider keep their roles, sessions and API keys here until an admin disables them',
      );
      return;
    }
    this.timer = everyProviderCheck(this.log, 'identity provider', () => this.checkProvider());
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * Asks the provider about every enabled OIDC user holding a role whose refresh token is kept
   * and who was not asked about in the last PROVIDER_CHECK_MS (by this or another process), and
   * withdraws the roles it no longer grants. A provider that cannot be asked changes nothing.
   * Returns how many users lost roles.
   */
  async checkProvider(now: Date = new Date()): Promise<number> {
    if (!this.party || !this.box) return 0;
    const holders = (await this.users.list()).filter(
      (u) => u.provider === 'oidc' && !u.disabled && rolesOf(u).length > 0,
    );
    const due = new Date(now.getTime() - PROVIDER_CHECK_MS);
    let changed = 0;
    for (const user of holders) {
      const verdict = await this.users.askProvider(user.id, due, (sealed) =>
        this.askAbout(user, sealed),
      );
      if (!verdict || rolesOf(user).every((role) => verdict.roles.includes(role))) continue;
      changed += 1;
      await this.auth.withdrawExternal(user, verdict.roles, verdict.reason);
    }
    return changed;
  }

  /** One user's grant at the provider now: the roles it maps to, or none when it ended. */
  private async askAbout(
    user: UserEntity,
    sealed: string,
  ): Promise<{ token: string | null; result: { roles: Role[]; reason: string } | undefined }> {
    const context = `oidc-refresh:${user.id}`;
    let refreshToken: string;
    try {
      refreshToken = this.box!.open(sealed, context).toString('utf8');
    } catch {
      this.log.warn(`a kept refresh token did not open (master key changed?); it is dropped`);
      return { token: null, result: undefined };
    }
    try {
      const now = await this.party!.refresh(refreshToken);
      const token = this.box!.seal(now.refreshToken, context);
      if (this.username(now.claims) !== user.username) {
        this.log.warn(
          'the identity provider answered a refresh with another user; nothing changed',
        );
        return { token, result: undefined };
      }
      return {
        token,
        result: {
          roles: this.rolesOf(now.claims),
          reason: 'left the mapped groups at the identity provider',
        },
      };
    } catch (err) {
      if (err instanceof OidcGrantEndedError)
        return {
          token: null,
          result: {
            roles: [],
            reason: 'the identity provider ended the grant (user removed, disabled or revoked)',
          },
        };
      if (err instanceof OidcUnavailableError || err instanceof OidcRefusedError) {
        this.log.warn(`the identity provider check of one user did not run: ${err.message}`);
        return { token: sealed, result: undefined };
      }
      throw err;
    }
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
    if (!username)
      return this.refuse('(unknown)', `no '${this.options.oidc!.usernameClaim}' claim`, meta.ip);
    try {
      const result = await this.auth.signInExternal(
        'oidc',
        this.identity(username, claims),
        this.rolesOf(claims),
        meta,
      );
      await this.keepRefreshToken(result.principal.id, signedIn.refreshToken);
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
    return this.auth.principalFromProvider(
      'oidc',
      this.identity(username, claims),
      this.rolesOf(claims),
    );
  }

  /** With the provider check on: the sign-in's refresh token, sealed to its user (or none). */
  private async keepRefreshToken(userId: string, refreshToken: string | undefined): Promise<void> {
    if (!this.box) return;
    if (!refreshToken && !this.warnedNoRefreshToken) {
      this.warnedNoRefreshToken = true;
      this.log.warn(
        'the identity provider issued no refresh token for offline_access: its users cannot be checked (allow the refresh_token grant to this client)',
      );
    }
    await this.users.setProviderToken(
      userId,
      refreshToken ? this.box.seal(refreshToken, `oidc-refresh:${userId}`) : null,
    );
  }

  private rolesOf(claims: Claims): Role[] {
    return this.options.oidc!.claimRoles.rolesFor(
      claimValues(claims, this.options.oidc!.rolesClaim),
    );
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
