import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { LoginThrottleService } from './login-throttle.service';

/**
 * On the sign-in endpoints: the source's and the account's limits are checked (and the attempt
 * charged to the source) before any password is looked at.
 */
@Injectable()
export class LoginThrottleGuard implements CanActivate {
  constructor(private readonly throttle: LoginThrottleService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const body = request.body as { username?: unknown; provider?: unknown } | undefined;
    const username = typeof body?.username === 'string' ? body.username : undefined;
    const provider = request.url.startsWith('/api/v1/auth/oidc')
      ? 'oidc'
      : body?.provider === 'ldap'
        ? 'ldap'
        : 'local';
    await this.throttle.admit(request.ip, provider, username);
    return true;
  }
}
