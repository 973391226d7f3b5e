import { JunctionError } from '@junction/common';

/** What a route's entity tag covers: which life of the id, its newest version and what runs. */
export interface RouteState {
  id: string;
  incarnation: number;
  latestVersion: number;
  activeVersion: number | null;
}

/**
 * The route's entity tag (`ETag`, strong): it changes with every stored version, activation or
 * rollback, and when the id is deleted and created again. An editor sends it back in `If-Match`
 * so that a change made from a stale read is refused instead of silently undoing another's.
 */
export function routeEtag(route: RouteState): string {
  return `"${route.incarnation}.${route.latestVersion}.${route.activeVersion ?? 0}"`;
}

/** The entity tags of an `If-Match` header (`*`, or a comma-separated list; `W/` ignored). */
function tagsOf(header: string): string[] {
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .filter((t) => t !== '');
}

/**
 * Refuses (412) a change whose `If-Match` names another state of the route than the one it is in
 * now. No header: no check (clients that send none keep the old last-write-wins behaviour).
 */
export function checkIfMatch(route: RouteState, ifMatch: string | undefined): void {
  if (ifMatch === undefined) return;
  const tags = tagsOf(ifMatch);
  const current = routeEtag(route);
  if (tags.includes('*') || tags.includes(current)) return;
  throw new JunctionError(
    'PRECONDITION_FAILED',
    `route '${route.id}' changed since it was read: it is now at version ${route.latestVersion}` +
      `${route.activeVersion === null ? '' : ` (version ${route.activeVersion} active)`}; read it again and redo the change`,
    {
      code: 'ROUTE_CHANGED',
      etag: current,
      incarnation: route.incarnation,
      latestVersion: route.latestVersion,
      activeVersion: route.activeVersion,
    },
  );
}
