import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { Permission, Principal } from './roles';

export const PUBLIC_KEY = 'junction:public';
export const PERMISSION_KEY = 'junction:permission';

/** Reachable without signing in (login, health, OpenAPI, ingest that allows it). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/** What the endpoint requires; an endpoint with neither this nor @Public() only needs a sign-in. */
export const RequirePermission = (permission: Permission) =>
  SetMetadata(PERMISSION_KEY, permission);

export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Principal => {
    return ctx.switchToHttp().getRequest<{ user: Principal }>().user;
  },
);
