import { QueryClient, queryOptions, useQuery } from '@tanstack/react-query';
import { api, data, maybeSignedIn, onSessionExpired, type Permission, type Schemas } from './api';

export const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: true } },
});

export interface Me {
  principal: Schemas['MeDto'];
  permissions: Set<Permission>;
  can(permission: Permission): boolean;
}

/** The console shows what the server says this caller may do, and nothing else. */
function toMe(principal: Schemas['MeDto']): Me {
  const permissions = new Set<Permission>(principal.permissions);
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
