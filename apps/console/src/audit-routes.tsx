import { createRoute, lazyRouteComponent } from '@tanstack/react-router';
import { appRoute } from './router';

/**
 * A filter's text. The router reads a value whose text is a number exactly (`?q=4111...`, as a
 * hand-written bookmark has it) as that number: its text is the number's own.
 */
const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined;

/** Every filter of the audit search, as the URL keeps it (a search is a bookmark). */
export interface AuditSearch {
  kind?: 'messages' | 'events';
  messageId?: string;
  traceId?: string;
  routeId?: string;
  destination?: string;
  outcome?: string;
  from?: string;
  to?: string;
  q?: string;
  type?: string;
  actor?: string;
  targetType?: string;
  targetId?: string;
}

const FILTERS = [
  'messageId',
  'traceId',
  'routeId',
  'destination',
  'outcome',
  'from',
  'to',
  'q',
  'type',
  'actor',
  'targetType',
  'targetId',
] as const;

export const auditRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/audit',
  staticData: { permission: 'audit.read' },
  validateSearch: (s: Record<string, unknown>): AuditSearch => {
    const out: AuditSearch = { kind: s.kind === 'events' ? 'events' : undefined };
    for (const k of FILTERS) out[k] = str(s[k]);
    return out;
  },
  component: lazyRouteComponent(() => import('./screens/audit'), 'AuditScreen'),
});

export const auditStoryRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/audit/messages/$id',
  staticData: { permission: 'audit.read' },
  component: lazyRouteComponent(() => import('./screens/audit'), 'AuditStoryScreen'),
});

export const verifyRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/verify',
  staticData: { permission: 'audit.read' },
  validateSearch: (s: Record<string, unknown>): { from?: string; to?: string } => ({
    from: str(s.from),
    to: str(s.to),
  }),
  component: lazyRouteComponent(() => import('./screens/verify'), 'VerifyScreen'),
});

/** The compliance screens, for the router's tree. */
export const auditRoutes = [auditRoute, auditStoryRoute, verifyRoute];
