import { createRoute, lazyRouteComponent } from '@tanstack/react-router';
import { appRoute } from './router';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** The dead letters' search, all of it in the address (bookmarkable, shareable). */
export interface DeadLetterSearch {
  routeId?: string;
  reasonCode?: string;
  from?: string;
  to?: string;
  q?: string;
  /** The replay job being watched. */
  job?: string;
}

export const dashboardRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/dashboard',
  staticData: { permission: 'routes.run' },
  component: lazyRouteComponent(() => import('./screens/dashboard'), 'DashboardScreen'),
});

export const deadLettersRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/dead-letters',
  staticData: { permission: 'deadletters.read' },
  validateSearch: (s: Record<string, unknown>): DeadLetterSearch => ({
    routeId: str(s.routeId),
    reasonCode: str(s.reasonCode),
    from: str(s.from),
    to: str(s.to),
    q: str(s.q),
    job: str(s.job),
  }),
  component: lazyRouteComponent(() => import('./screens/dead-letters'), 'DeadLettersScreen'),
});

export const deadLetterRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/dead-letters/$id',
  staticData: { permission: 'deadletters.read' },
  component: lazyRouteComponent(() => import('./screens/dead-letter'), 'DeadLetterScreen'),
});

/** The operators' screens, added to the signed-in part of the route tree. */
export const OPS_ROUTES = [dashboardRoute, deadLettersRoute, deadLetterRoute] as const;
