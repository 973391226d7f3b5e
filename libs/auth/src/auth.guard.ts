import { ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { JunctionError } from '@junction/common';
import { PERMISSION_KEY, PUBLIC_KEY } from './auth.decorators';
import { AUTH_EVENT_SINK, AuthEventSink } from './auth.options';
import { Permission, permits, Principal } from './roles';
import { CSRF_COOKIE, SessionCookies } from './session-cookies';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const CSRF_HEADER_NAME = 'X-CSRF-Token';

/**
 * The one guard on every endpoint: authenticates by session token (Bearer), the OpenID
 * provider's access token (Bearer, when configured), API key (X-API-Key) or the console's
 * session cookie (with the CSRF token on changes) through passport,
 * then checks the endpoint's permission against the caller's roles. Every denial is reported to
 * the event sink (the audit trail).
 */
@Injectable()
export class JunctionAuthGuard extends AuthGuard([
  'jwt',
  'oidc-bearer',
  'api-key',
  'session-cookie',
]) {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_EVENT_SINK) private readonly events: AuthEventSink,
    private readonly cookies: SessionCookies,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: Principal }>();
    try {
      await super.canActivate(context);
    } catch (err) {
      await this.deny(request, 401, '(anonymous)');
      throw err;
    }
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(
      PERMISSION_KEY,
      targets,
    );
    const principal = request.user!;
    // A browser sends its cookies with any request, whoever made the page: a change made with
    // the cookie must prove it comes from the console (double submit). Bearer and API-key
    // callers are not sent anything by a browser on their own, and need no token.
    if (principal.viaCookie && STATE_CHANGING.has(request.method.toUpperCase())) {
      if (!this.cookies.csrfValid(request, principal.sessionId)) {
        await this.deny(request, 403, principal.name);
        throw new JunctionError(
          'FORBIDDEN',
          `missing or wrong ${CSRF_HEADER_NAME} header: a change signed in by the session cookie must send the value of the ${CSRF_COOKIE} cookie in ${CSRF_HEADER_NAME}`,
        );
      }
    }
    if (permission && !permits(principal.roles, permission)) {
      await this.deny(request, 403, principal.name);
      throw new JunctionError(
        'FORBIDDEN',
        `this needs the '${permission}' permission, which your roles (${principal.roles.join(', ') || 'none'}) do not grant`,
      );
    }
    return true;
  }

  override handleRequest<T>(err: unknown, user: T): T {
    if (err || !user)
      throw new JunctionError(
        'UNAUTHENTICATED',
        'sign in first: send a valid Bearer token or X-API-Key, or sign in to the console again (session expired)',
      );
    return user;
  }

  private async deny(request: FastifyRequest, status: 401 | 403, actor: string): Promise<void> {
    await this.events.record({
      type: 'request.denied',
      actor,
      method: request.method,
      path: request.url.split('?')[0],
      ...(request.routeOptions?.url ? { route: request.routeOptions.url } : {}),
      status,
      ip: request.ip,
    });
  }
}
