import { QueryClient, queryOptions, useQuery } from '@tanstack/react-query';
import { api, data, maybeSignedIn, onSessionExpired, type Permission, type Schemas } from './api';
import { dropAllDrafts, dropDraftsNotOf } from './drafts';

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
  queryFn: async (): Promise<Me | null> => {
    if (!maybeSignedIn()) return null;
    const me = toMe(await data(api.GET('/api/v1/auth/me')));
    // Whoever signs in on this tab finds no one else's unsaved edits in its storage.
    dropDraftsNotOf(me.principal.id);
    return me;
  },
  retry: false,
  staleTime: 60_000,
});

/** Set when the server ended a session under the user's feet; the sign-in screen says so. */
export const sessionState = { expired: false };

/** Forgets everything cached for the caller (at sign-out and when the session ended). */
export function forgetSession(expired: boolean): void {
  sessionState.expired = expired;
  // A session that ended under the user's feet keeps their unsaved edits for when they are back.
  if (!expired) dropAllDrafts();
  queryClient.clear();
  queryClient.setQueryData(meQuery.queryKey, null);
}

let leave: (() => Promise<void>) | undefined;
/** How to leave the signed-in screens for sign-in (set once by the router). */
export function whenSessionEnds(callback: () => Promise<void>): void {
  leave = callback;
}

let ending = false;
/**
 * The session is over (expired, or ended by an admin): go to sign-in, which says so, and only
 * then forget what was cached, so that no screen renders without a caller.
 */
export async function endSession(): Promise<void> {
  if (ending || !queryClient.getQueryData(meQuery.queryKey)) return;
  ending = true;
  sessionState.expired = true;
  try {
    await leave?.();
    forgetSession(true);
  } finally {
    ending = false;
  }
}
onSessionExpired(() => void endSession());

/** The signed-in caller (screens below the sign-in guard only). */
const NOBODY: Me = {
  principal: { kind: 'user', id: '', name: '', provider: 'local', roles: [], permissions: [] },
  permissions: new Set(),
  can: () => false,
};

/** The signed-in caller; nobody (no permission at all) in the moment a session ends. */
export function useMe(): Me {
  return useQuery(meQuery).data ?? NOBODY;
}
