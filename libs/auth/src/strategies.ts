import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { ExtractJwt, Strategy as JwtStrategyBase } from 'passport-jwt';
import { Strategy as CustomStrategy } from 'passport-custom';
import { AUTH_OPTIONS, AuthOptions } from './auth.options';
import { AuthService, TokenClaims } from './auth.service';
import { OidcSignInService } from './oidc-sign-in.service';
import { Principal } from './roles';
import { SessionCookies } from './session-cookies';

@Injectable()
export class JwtStrategy extends PassportStrategy(JwtStrategyBase, 'jwt') {
  constructor(
    private readonly auth: AuthService,
    @Inject(AUTH_OPTIONS) options: AuthOptions,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: options.tokenKey,
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  async validate(claims: TokenClaims): Promise<Principal | false> {
    return (await this.auth.principalFromClaims(claims)) ?? false;
  }
}

@Injectable()
export class ApiKeyStrategy extends PassportStrategy(CustomStrategy, 'api-key') {
  constructor(private readonly auth: AuthService) {
    super();
  }

  async validate(request: FastifyRequest): Promise<Principal | false> {
    const header = request.headers['x-api-key'];
    if (typeof header !== 'string' || header.length === 0) return false;
    return (await this.auth.principalFromApiKey(header)) ?? false;
  }
}

/**
 * `Authorization: Bearer <access token>` issued by the OpenID provider (when
 * JUNCTION_OIDC_ACCEPT_BEARER is on): a JWT checked against the provider's JWKS, issuer,
 * audience, algorithm and expiry; its roles claim mapped to roles like at sign-in. Tokens of
 * anyone else are left to the other strategies.
 */
@Injectable()
export class OidcBearerStrategy extends PassportStrategy(CustomStrategy, 'oidc-bearer') {
  constructor(private readonly oidc: OidcSignInService) {
    super();
  }

  async validate(request: FastifyRequest): Promise<Principal | false> {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) return false;
    return (await this.oidc.principalFromAccessToken(match[1])) ?? false;
  }
}

/**
 * The console's session cookie: the same signed session token as a Bearer caller's, checked the
 * same way (signature, expiry, live session, enabled user). The principal is marked so that the
 * guard asks state-changing requests for the CSRF token.
 */
@Injectable()
export class SessionCookieStrategy extends PassportStrategy(CustomStrategy, 'session-cookie') {
  constructor(
    private readonly auth: AuthService,
    private readonly jwt: JwtService,
    private readonly cookies: SessionCookies,
  ) {
    super();
  }

  async validate(request: FastifyRequest): Promise<Principal | false> {
    const token = this.cookies.token(request);
    if (!token) return false;
    let claims: TokenClaims;
    try {
      claims = await this.jwt.verifyAsync<TokenClaims>(token);
    } catch {
      return false; // forged, tampered or expired: not signed in
    }
    const principal = await this.auth.principalFromClaims(claims);
    return principal ? { ...principal, viaCookie: true } : false;
  }
}
