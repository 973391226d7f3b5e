export const ROLES = ['admin', 'editor', 'operator', 'auditor', 'viewer', 'ingest'] as const;
export type Role = (typeof ROLES)[number];

/** What an endpoint requires. One guard checks it against the caller's roles. */
export const PERMISSIONS = [
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
  /** POST /ingest/{path} on a route with `auth: apiKey` (API keys only). */
  'ingest.send',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * The permission table of DESIGN.md. admin: everything. editor: routes and connections.
 * operator: run state and dead letters (and reading routes, to know what it runs). auditor: the
 * audit trail and nothing else. viewer: reading routes and their status. ingest: posting to
 * HTTP ingest paths with an API key (and nothing else); no other role but admin implies it.
 */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
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
  // A machine that feeds routes: it posts messages and reads nothing.
  ingest: ['ingest.send'],
};

export function permits(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((role) => ROLE_PERMISSIONS[role]?.includes(permission));
}

/** Who is calling: a signed-in user or a machine with an API key. */
export interface Principal {
  kind: 'user' | 'apiKey';
  id: string;
  name: string;
  provider: 'local' | 'ldap' | 'oidc' | 'apiKey';
  roles: Role[];
  /** The sign-in session (users only): revoking it ends the token. */
  sessionId?: string;
  /** The user an API key acts for (keys only). */
  ownerId?: string;
  /** API keys only: the routes the key may post to; null or absent: any its roles allow. */
  ingestRoutes?: string[] | null;
  /** When the session (or API key) expires. */
  expiresAt?: Date;
  /** Authenticated by the console's session cookie: state-changing requests need the CSRF token. */
  viaCookie?: boolean;
}

/**
 * Whether roles `held` cover role `role`: holding it, or holding admin (which permits
 * everything). A key keeps, and a caller may give a key, only roles its user covers.
 */
export function covers(held: readonly Role[], role: Role): boolean {
  return held.includes(role) || held.includes('admin');
}

/** Every permission the roles grant, in the table's order. */
export function permissionsOf(roles: readonly Role[]): Permission[] {
  return PERMISSIONS.filter((permission) => permits(roles, permission));
}
