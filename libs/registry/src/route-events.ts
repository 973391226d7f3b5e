import { EventBus } from '@junction/common';

/**
 * The route changes the registry announces, after their transaction committed. Handlers in this
 * process (the route runtime) apply them before the API answers; other processes hear of them by
 * NOTIFY.
 */
export interface RouteEvents {
  /** A route was created, got a version activated, was started, stopped or deleted. */
  'route.changed': { routeId: string };
  /** A connection changed: the active routes that use it are to restart. */
  'connection.changed': { name: string; routeIds: string[] };
}

/** The bus route changes travel on (provided and exported by the registry module). */
export class RouteEventBus extends EventBus<RouteEvents> {}
