import { QueryClient, queryOptions, useQuery } from '@tanstack/react-query';
import { api, data, maybeSignedIn, onSessionExpired, type Permission, type Schemas } from './api';

export const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: true } },
});

/** What each role may do (mirrors the gateway's table) for servers whose /auth/me lists no permissions. */
const ROLE_PERMISSIONS: Record<string, Permission[]> = {
  admin: [
    'routes.read',
    'routes.write',
    'routes.activate',
    'routes.run',
    'connections.read',
    'connections.write',
    'deadletters.read',
    'deadletters.write',
    'audit.read',
    'users.manage',
    'apikeys.manage',
    'sessions.manage',
  ],
  editor: [
    'routes.read',
    'routes.write',
    'routes.activate',
    'connections.read',
    'connections.write',
  ],
  operator: ['routes.read', 'routes.run', 'deadletters.read', 'deadletters.write'],
  auditor: ['audit.read'],
  viewer: ['routes.read'],
};

export interface Me {
  principal: Schemas['PrincipalDto'];
  permissions: Set<Permission>;
  can(permission: Permission): boolean;
}

function toMe(principal: Schemas['PrincipalDto']): Me {
  const listed = (principal as { permissions?: Permission[] }).permissions;
  const permissions = new Set<Permission>(
    listed ?? principal.roles.flatMap((role) => ROLE_PERMISSIONS[role] ?? []),
  );
  return { principal, permissions, can: (p) => permissions.has(p) };
}

export const meQuery = queryOptions({
  queryKey: ['me'],
  queryFn: async (): Promise<Me | null> =>
    maybeSignedIn() ? toMe(await data(api.GET('/api/v1/auth/me'))) : null,
  retry: false,
  staleTime: 60_000,
});

/** Set when the server ended a session under the user's feet; the sign-in screen says so. */
export const sessionState = { expired: false };

/** Forgets everything cached for the caller (at sign-out and when the session ended). */
export function forgetSession(expired: boolean): void {
  sessionState.expired = expired;
  queryClient.clear();
  queryClient.setQueryData(meQuery.queryKey, null);
}

let onExpired: (() => void) | undefined;
/** The router re-checks its guards when the session ends (set once by the router). */
export function whenSessionEnds(callback: () => void): void {
  onExpired = callback;
}
onSessionExpired(() => {
  if (!queryClient.getQueryData(meQuery.queryKey)) return;
  forgetSession(true);
  onExpired?.();
});

/** The signed-in caller (screens below the sign-in guard only). */
export function useMe(): Me {
  const me = useQuery(meQuery).data;
  if (!me) throw new Error('not signed in');
  return me;
}
