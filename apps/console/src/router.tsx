import {
  createRootRoute,
  createRoute,
  createRouter,
  lazyRouteComponent,
  Outlet,
  redirect,
} from '@tanstack/react-router';
import { firstScreen, Layout } from './layout';
import { auditRoutes } from './audit-routes';
import { ConnectionsScreen } from './screens/connections';
import { ApiKeysScreen, SessionsScreen, UsersScreen } from './screens/admin';
import { RoutesScreen } from './screens/routes';
import { SignInScreen } from './screens/sign-in';
import { OPS_ROUTES } from './ops-routes';
import type { Permission } from './api';
import { meQuery, queryClient, sessionState, whenSessionEnds } from './session';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const int = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
};

const rootRoute = createRootRoute({ component: Outlet });

function NotFound() {
  return (
    <p role="alert">
      No such page. <a href="/console/routes">Go to the routes</a>.
    </p>
  );
}

export const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/sign-in',
  validateSearch: (s: Record<string, unknown>): { redirect?: string; expired?: true } => ({
    redirect: str(s.redirect),
    expired: s.expired === true || s.expired === 'true' ? true : undefined,
  }),
  component: SignInScreen,
});

/** Every screen but sign-in: who is calling is known before any of them renders. */
export const appRoute = createRoute({
  getParentRoute: () => rootRoute,
  id: 'app',
  component: Layout,
  beforeLoad: async ({ location }) => {
    const me = await queryClient.ensureQueryData(meQuery);
    if (!me) {
      throw redirect({
        to: '/sign-in',
        search: { redirect: location.href, expired: sessionState.expired ? true : undefined },
      });
    }
    return { me };
  },
});

const indexRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/',
  beforeLoad: ({ context }) => {
    throw redirect({ to: firstScreen(context.me) });
  },
});

export const routesRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/routes',
  staticData: { permission: 'routes.read' },
  validateSearch: (s: Record<string, unknown>): { q?: string; state?: string } => ({
    q: str(s.q),
    state: str(s.state),
  }),
  component: RoutesScreen,
});

export const newRouteRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/routes/new',
  staticData: { permission: 'routes.write' },
  component: lazyRouteComponent(() => import('./editor/route-editor'), 'NewRouteEditor'),
});

export const routeRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/routes/$id',
  staticData: { permission: 'routes.read' },
  validateSearch: (s: Record<string, unknown>): { sample?: string } => ({ sample: str(s.sample) }),
  component: lazyRouteComponent(() => import('./editor/route-editor'), 'RouteEditor'),
});

export const versionsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/routes/$id/versions',
  staticData: { permission: 'routes.read' },
  validateSearch: (s: Record<string, unknown>): { left?: number; right?: number } => ({
    left: int(s.left),
    right: int(s.right),
  }),
  component: lazyRouteComponent(() => import('./editor/versions'), 'VersionsScreen'),
});

export const connectionsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/connections',
  staticData: { permission: 'connections.read' },
  validateSearch: (s: Record<string, unknown>): { edit?: string } => ({ edit: str(s.edit) }),
  component: ConnectionsScreen,
});

const usersRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/users',
  staticData: { permission: 'users.manage' },
  component: UsersScreen,
});
const apiKeysRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/api-keys',
  staticData: { permission: 'apikeys.manage' },
  component: ApiKeysScreen,
});
const sessionsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/sessions',
  staticData: { permission: 'sessions.manage' },
  component: SessionsScreen,
});

const routeTree = rootRoute.addChildren([
  signInRoute,
  appRoute.addChildren([
    indexRoute,
    ...auditRoutes,
    routesRoute,
    newRouteRoute,
    versionsRoute,
    routeRoute,
    connectionsRoute,
    usersRoute,
    apiKeysRoute,
    sessionsRoute,
    ...OPS_ROUTES,
  ]),
]);

export const router = createRouter({
  routeTree,
  basepath: '/console',
  defaultPreload: 'intent',
  defaultNotFoundComponent: NotFound,
});

whenSessionEnds(async () => {
  const here = router.state.location.href;
  await router.navigate({ to: '/sign-in', search: { redirect: here, expired: true } });
});

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
  interface StaticDataRouteOption {
    /**
     * What a screen needs: without it the layout says "Not available" instead of rendering a
     * screen whose every call the server refuses (a bookmark or a link from someone else).
     */
    permission?: Permission;
  }
}
