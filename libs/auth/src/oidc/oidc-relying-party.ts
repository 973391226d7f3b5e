import * as jose from 'jose';
import * as oidc from 'openid-client';
import type { OidcAuthOptions } from '../auth.options';
import { isLoopbackUrl } from '../loopback';
import type { Role } from '../roles';

/** The OpenID provider and this gateway's client there (from validated configuration). */
export interface OidcSettings {
  /** Issuer identifier; its `/.well-known/openid-configuration` is discovered. */
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** How the gateway authenticates at the token endpoint. */
  tokenAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
  /** This gateway's callback, registered at the provider. */
  redirectUri: string;
  /** Space-separated; always includes `openid`. */
  scopes: string;
  /** The one signature algorithm accepted for ID tokens and bearer access tokens. */
  algorithm: string;
  /** Claim whose value becomes the gateway's user name (stable and unique: `sub` by default). */
  usernameClaim: string;
  /**
   * With `email` as the user name claim: sign in only those whose provider vouches for the
   * address (`email_verified`). Default true.
   */
  requireVerifiedEmail?: boolean;
  /** Claim (or dotted path) holding the groups or roles that the mapping turns into roles. */
  rolesClaim: string;
  /** Accept the provider's JWT access tokens as `Authorization: Bearer` on API calls. */
  acceptBearer: boolean;
  /** The `aud` a bearer access token must carry (this API's identifier at the provider). */
  bearerAudience?: string;
  /** Time limit of each request to the provider. */
  timeoutMs: number;
}

/** What a sign-in must remember between the redirect to the provider and the callback. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Milliseconds since the epoch after which the callback is refused. */
  expiresAt: number;
}

export type Claims = Record<string, unknown>;

/** A completed sign-in: the user's claims, and the refresh token if the provider issued one. */
export interface SignedIn {
  claims: Claims;
  refreshToken?: string;
}

/** The provider could not be reached or answered nonsense; not the user's fault. */
export class OidcUnavailableError extends Error {
  override readonly name = 'OidcUnavailableError';
}

/** The sign-in or token was refused (state, signature, issuer, audience, expiry, nonce, alg). */
export class OidcRefusedError extends Error {
  override readonly name = 'OidcRefusedError';
}

/** The provider no longer honours a refresh token (`invalid_grant`): the user's grant is gone. */
export class OidcGrantEndedError extends Error {
  override readonly name = 'OidcGrantEndedError';
}

/**
 * A network failure, timeout or abort (as opposed to a refused answer), also when openid-client
 * wraps it ("something went wrong" with the fetch failure as its cause).
 */
function isTransportError(err: unknown): boolean {
  for (let depth = 0, e = err as Fault | undefined; e && depth < 4; depth++, e = e.cause as Fault) {
    if (
      e.name === 'AbortError' ||
      e.name === 'TimeoutError' ||
      (e.name === 'TypeError' && /fetch failed/i.test(e.message ?? ''))
    )
      return true;
  }
  return false;
}

type Fault = { name?: string; message?: string; cause?: unknown };

function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}

/** An error's message with its causes' (openid-client wraps the precise reason in `cause`). */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e && parts.length < 3;) {
    if (typeof e.message === 'string' && e.message && !parts.includes(e.message))
      parts.push(e.message);
    e = e.cause as typeof e;
  }
  return parts.join(': ') || String(err);
}

/** `a.b.c` into nested objects, unless the claim's own name has dots (URL-named claims). */
export function claimAt(claims: Claims, path: string): unknown {
  if (path in claims) return claims[path];
  let node: unknown = claims;
  for (const part of path.split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** A claim as a list of strings: an array's strings, or a single string. */
export function claimValues(claims: Claims, path: string): string[] {
  const value = claimAt(claims, path);
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** The roles a provider's claims grant: the roles claim's values, mapped. */
export function rolesFromClaims(
  options: Pick<OidcAuthOptions, 'claimRoles' | 'rolesClaim'>,
  claims: Claims,
): Role[] {
  return options.claimRoles.rolesFor(claimValues(claims, options.rolesClaim));
}

/**
 * The gateway as an OpenID Connect relying party, in plain TypeScript over `openid-client`
 * (authorization code flow with PKCE S256, state and nonce) and `jose` (bearer access tokens
 * checked against the provider's JWKS). The provider's metadata is discovered on first use and
 * kept; a failed discovery is retried on the next call, so a provider that is down at start-up
 * does not stop the gateway.
 */
export class OidcRelyingParty {
  private configuration?: Promise<oidc.Configuration>;
  private jwks?: ReturnType<typeof jose.createRemoteJWKSet>;

  constructor(private readonly settings: OidcSettings) {}

  /** The provider's authorization URL, and what the callback will need to check the answer. */
  async begin(ttlSeconds: number): Promise<{ url: string; pending: PendingLogin }> {
    const config = await this.discover();
    const pending: PendingLogin = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      expiresAt: Date.now() + ttlSeconds * 1000,
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri,
      scope: this.settings.scopes,
      response_type: 'code',
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, pending };
  }

  /**
   * Checks the provider's answer to the redirect (`query`: the callback's query string),
   * exchanges the code, and returns the verified ID token's claims, completed from the
   * userinfo endpoint when the ID token lacks the roles claim, and the refresh token when the
   * provider issued one.
   */
  async complete(query: string, pending: PendingLogin): Promise<SignedIn> {
    if (Date.now() > pending.expiresAt) throw new OidcRefusedError('the sign-in took too long');
    const config = await this.discover();
    const current = new URL(this.settings.redirectUri);
    current.search = query;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, {
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        pkceCodeVerifier: pending.codeVerifier,
        idTokenExpected: true,
      });
    } catch (err) {
      if (isTransportError(err))
        throw new OidcUnavailableError(`the token endpoint could not be reached`, { cause: err });
      throw new OidcRefusedError(describe(err), { cause: err });
    }
    const idClaims = tokens.claims() as Claims | undefined;
    if (!idClaims) throw new OidcRefusedError('no ID token');
    return {
      claims: await this.withRoles(config, idClaims, tokens.access_token, idClaims.sub as string),
      refreshToken: tokens.refresh_token,
    };
  }

  /**
   * Asks the provider, with a refresh token, whether the user's grant still stands. Returns the
   * token to keep (the new one; the old one when the provider does not rotate) and the new ID
   * token's verified claims ({} without one): complete them with claimsWithRoles, after keeping
   * the token, since a rotated token is spent from this answer on. Throws OidcGrantEndedError
   * when the provider no longer honours the token (`invalid_grant`), OidcRefusedError for any
   * other OAuth error answer (which says nothing about the user; the token is unspent), and
   * OidcUnavailableError for anything else (the token may or may not be spent).
   */
  async refreshGrant(
    refreshToken: string,
  ): Promise<{ refreshToken: string; idClaims: Claims; accessToken?: string }> {
    const config = await this.discover();
    let tokens: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    try {
      tokens = await oidc.refreshTokenGrant(config, refreshToken);
    } catch (err) {
      // Only an OAuth error answer says the request was refused as a whole; anything else (no
      // answer, a 5xx page, an answer that does not verify) leaves it unknown whether the token
      // was spent.
      const error = err instanceof oidc.ResponseBodyError ? err.error : undefined;
      if (error === 'invalid_grant') throw new OidcGrantEndedError(describe(err), { cause: err });
      if (error !== undefined) throw new OidcRefusedError(describe(err), { cause: err });
      throw new OidcUnavailableError(`the token endpoint: ${describe(err)}`, { cause: err });
    }
    return {
      refreshToken: tokens.refresh_token ?? refreshToken,
      idClaims: (tokens.claims() as Claims | undefined) ?? {},
      accessToken: tokens.access_token,
    };
  }

  /**
   * The ID token's claims, completed from userinfo when they lack the roles claim (whose subject
   * must be `subject`).
   */
  async claimsWithRoles(
    idClaims: Claims,
    accessToken: string | undefined,
    subject: string,
  ): Promise<Claims> {
    return this.withRoles(await this.discover(), idClaims, accessToken, subject);
  }

  /** The ID token's claims, completed from userinfo when they lack the roles claim. */
  private async withRoles(
    config: oidc.Configuration,
    idClaims: Claims,
    accessToken: string | undefined,
    subject: string,
  ): Promise<Claims> {
    if (claimAt(idClaims, this.settings.rolesClaim) !== undefined || !accessToken) return idClaims;
    if (!config.serverMetadata().userinfo_endpoint) return idClaims;
    try {
      const userinfo = (await oidc.fetchUserInfo(config, accessToken, subject)) as Claims;
      // The ID token's verified claims win over userinfo's.
      return { ...userinfo, ...idClaims };
    } catch (err) {
      if (isTransportError(err))
        throw new OidcUnavailableError(`the userinfo endpoint could not be reached`, {
          cause: err,
        });
      throw new OidcRefusedError(`userinfo: ${describe(err)}`, { cause: err });
    }
  }

  /**
   * A bearer access token's verified claims, or null when it is not a token of this provider
   * (so that other strategies may try it). Throws OidcRefusedError when it is this provider's
   * but does not verify (signature, algorithm, audience, expiry).
   */
  async verifyAccessToken(token: string): Promise<Claims | null> {
    if (!this.settings.acceptBearer) return null;
    let unverified: jose.JWTPayload;
    try {
      unverified = jose.decodeJwt(token);
    } catch {
      return null;
    }
    // Cheap first: a token of anyone else (e.g. an expired session token) costs no discovery.
    if (typeof unverified.iss !== 'string' || !sameUrl(unverified.iss, this.settings.issuer))
      return null;
    const config = await this.discover();
    const issuer = config.serverMetadata().issuer;
    if (unverified.iss !== issuer) return null;
    try {
      const { payload } = await jose.jwtVerify(token, this.keys(config), {
        issuer,
        audience: this.settings.bearerAudience,
        algorithms: [this.settings.algorithm],
        requiredClaims: ['exp', 'sub'],
        clockTolerance: 30,
      });
      return payload as Claims;
    } catch (err) {
      if (isTransportError(err) || (err as { code?: string }).code === 'ERR_JWKS_TIMEOUT')
        throw new OidcUnavailableError('the JWKS could not be fetched', { cause: err });
      throw new OidcRefusedError(describe(err), { cause: err });
    }
  }

  private keys(config: oidc.Configuration): ReturnType<typeof jose.createRemoteJWKSet> {
    if (!this.jwks) {
      const uri = config.serverMetadata().jwks_uri;
      if (!uri) throw new OidcUnavailableError('the provider publishes no jwks_uri');
      this.jwks = jose.createRemoteJWKSet(new URL(uri), {
        timeoutDuration: this.settings.timeoutMs,
      });
    }
    return this.jwks;
  }

  private discover(): Promise<oidc.Configuration> {
    if (!this.configuration) {
      const s = this.settings;
      const auth =
        s.tokenAuthMethod === 'none'
          ? oidc.None()
          : s.tokenAuthMethod === 'client_secret_post'
            ? oidc.ClientSecretPost(s.clientSecret)
            : oidc.ClientSecretBasic(s.clientSecret);
      this.configuration = oidc
        .discovery(
          new URL(s.issuer),
          s.clientId,
          {
            client_secret: s.clientSecret,
            redirect_uris: [s.redirectUri],
            response_types: ['code'],
            id_token_signed_response_alg: s.algorithm,
          },
          auth,
          {
            timeout: Math.ceil(s.timeoutMs / 1000),
            execute: [
              // openid-client trusts TLS for ID tokens from the token endpoint and would not
              // check their signature: we do, against the provider's JWKS, whatever the transport.
              oidc.enableNonRepudiationChecks,
              // Plain http only towards a provider on this machine (tests, development).
              ...(isLoopbackUrl(s.issuer) ? [oidc.allowInsecureRequests] : []),
            ],
          },
        )
        .catch((err: unknown) => {
          this.configuration = undefined;
          throw new OidcUnavailableError(`discovery of ${s.issuer} failed: ${describe(err)}`, {
            cause: err,
          });
        });
    }
    return this.configuration;
  }
}
