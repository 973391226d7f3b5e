/**
 * The admin changes the audit trail records, by the REST contract's method and path (DESIGN.md):
 * what kind of change each is, what it changes, and how to read that thing's state before and
 * after. States are read through the owning services (their views carry no secrets; the audit
 * removes secrets again before anything is kept).
 */

/** What the interceptor can read states through; each returns undefined when it cannot tell. */
export interface StateReader {
  route(id: string): Promise<unknown>;
  routeSummary(id: string): Promise<unknown>;
  connection(name: string): Promise<unknown>;
  user(id: string): Promise<unknown>;
  apiKey(id: string): Promise<unknown>;
}

export interface ChangeRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
}

export interface AdminChange {
  type: string;
  targetType: string;
  targetId(request: ChangeRequest, result: unknown): string | undefined;
  /** Read before the handler runs. */
  before?(states: StateReader, request: ChangeRequest): Promise<unknown>;
  /** The state after: by default the handler's answer (a view without secrets). */
  after?(states: StateReader, request: ChangeRequest, result: unknown): Promise<unknown> | unknown;
  /** What the request asked for, without values that may be secret. */
  details?(request: ChangeRequest, result: unknown): Record<string, unknown>;
}

const field = (value: unknown, key: string): unknown =>
  value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
const str = (value: unknown): string | undefined =>
  typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
const keysOf = (value: unknown): string[] =>
  value !== null && typeof value === 'object' ? Object.keys(value as object).sort() : [];
const withoutDocument = (view: unknown): unknown => {
  if (view === null || typeof view !== 'object') return view;
  const { document: _document, ...rest } = view as Record<string, unknown>;
  return rest;
};

/** An override reason as the audit keeps it: a trimmed string, or null when none was given. */
const overrideOf = (reason: unknown): { reason: string } | null =>
  typeof reason === 'string' && reason.trim().length > 0 ? { reason: reason.trim() } : null;

const routeId = (r: ChangeRequest, result: unknown) =>
  r.params.id ?? str(field(result, 'id')) ?? str(field(r.body, 'id'));

const routeRunState = (type: string): AdminChange => ({
  type,
  targetType: 'route',
  targetId: routeId,
  before: (s, r) => s.routeSummary(r.params.id),
  after: (_s, _r, result) => withoutDocument(result),
});

export const ADMIN_CHANGES: Record<string, AdminChange> = {
  'POST /api/v1/routes': {
    type: 'route.created',
    targetType: 'route',
    targetId: routeId,
    details: (r, result) => ({
      version: field(result, 'latestVersion'),
      comment: r.query.comment ?? null,
    }),
  },
  'PUT /api/v1/routes/:id': {
    type: 'route.updated',
    targetType: 'route',
    targetId: routeId,
    before: (s, r) => s.route(r.params.id),
    // The answer shows the version that runs; the change is the latest one, activated or not.
    after: (s, r) => s.route(r.params.id),
    details: (r, result) => ({
      version: field(result, 'latestVersion'),
      activate: r.query.activate === 'true' || r.query.activate === true,
      comment: r.query.comment ?? null,
      override: overrideOf(r.query.override),
    }),
  },
  'DELETE /api/v1/routes/:id': {
    type: 'route.deleted',
    targetType: 'route',
    targetId: routeId,
    before: (s, r) => s.route(r.params.id),
    after: (s, r) => s.routeSummary(r.params.id),
  },
  'POST /api/v1/routes/:id/versions/:version/activate': {
    ...routeRunState('route.activated'),
    // An admin's override of the sample guard (a card number would leave) is kept with its reason.
    details: (r) => ({
      version: Number(r.params.version),
      override: overrideOf(field(field(r.body, 'override'), 'reason')),
    }),
  },
  'PUT /api/v1/routes/:id/samples/:name': {
    type: 'route.sample.saved',
    targetType: 'route',
    targetId: (r) => r.params.id,
    // The sample itself may hold card numbers: only its name is kept.
    after: () => undefined,
    details: (r) => ({ sample: r.params.name }),
  },
  'DELETE /api/v1/routes/:id/samples/:name': {
    type: 'route.sample.deleted',
    targetType: 'route',
    targetId: (r) => r.params.id,
    after: () => undefined,
    details: (r) => ({ sample: r.params.name }),
  },
  'POST /api/v1/routes/:id/start': routeRunState('route.started'),
  'POST /api/v1/routes/:id/stop': routeRunState('route.stopped'),

  'POST /api/v1/connections': {
    type: 'connection.created',
    targetType: 'connection',
    targetId: (r, result) => str(field(result, 'name')) ?? str(field(r.body, 'name')),
    details: (r) => ({ secretsSet: keysOf(field(r.body, 'secrets')) }),
  },
  'PUT /api/v1/connections/:name': {
    type: 'connection.updated',
    targetType: 'connection',
    targetId: (r) => r.params.name,
    before: (s, r) => s.connection(r.params.name),
    details: (r) => {
      const secrets = (field(r.body, 'secrets') ?? {}) as Record<string, unknown>;
      return {
        secretsSet: keysOf(secrets).filter((k) => secrets[k] !== null),
        secretsRemoved: keysOf(secrets).filter((k) => secrets[k] === null),
      };
    },
  },
  // Not a change, but it makes the gateway connect somewhere with stored secrets: who and what came of it.
  'POST /api/v1/connections/:name/test': {
    type: 'connection.tested',
    targetType: 'connection',
    targetId: (r) => r.params.name,
  },
  'DELETE /api/v1/connections/:name': {
    type: 'connection.deleted',
    targetType: 'connection',
    targetId: (r) => r.params.name,
    before: (s, r) => s.connection(r.params.name),
    after: () => null,
  },

  'POST /api/v1/users': {
    type: 'user.created',
    targetType: 'user',
    targetId: (r, result) => str(field(result, 'id')) ?? str(field(r.body, 'username')),
    details: (r) => ({ username: field(r.body, 'username'), roles: field(r.body, 'roles') ?? [] }),
  },
  'PATCH /api/v1/users/:id': {
    type: 'user.updated',
    targetType: 'user',
    targetId: (r) => r.params.id,
    before: (s, r) => s.user(r.params.id),
    // Which fields were asked to change: a new password shows as `password`, never its value.
    details: (r) => ({ fields: keysOf(r.body) }),
  },
  'DELETE /api/v1/users/:id': {
    type: 'user.deleted',
    targetType: 'user',
    targetId: (r) => r.params.id,
    before: (s, r) => s.user(r.params.id),
    after: () => null,
  },

  'POST /api/v1/api-keys': {
    type: 'apikey.created',
    targetType: 'apiKey',
    targetId: (_r, result) => str(field(result, 'id')),
    // The answer carries the key itself, once: keep everything but it.
    after: (_s, _r, result) => {
      if (result === null || typeof result !== 'object') return result;
      const { key: _key, ...rest } = result as Record<string, unknown>;
      return rest;
    },
  },
  'DELETE /api/v1/api-keys/:id': {
    type: 'apikey.revoked',
    targetType: 'apiKey',
    targetId: (r) => r.params.id,
    before: (s, r) => s.apiKey(r.params.id),
    after: (s, r) => s.apiKey(r.params.id),
    // With cascade: what else it ended (each disabled user has its own user.updated event too).
    details: (r, result) => (r.query?.cascade === 'true' && result ? { cascade: result } : {}),
  },

  'DELETE /api/v1/sessions/:id': {
    type: 'session.revoked',
    targetType: 'session',
    targetId: (r) => r.params.id,
    after: () => undefined,
  },
  'POST /api/v1/auth/logout': {
    type: 'logout',
    targetType: 'session',
    targetId: () => undefined,
    after: () => undefined,
  },
  'POST /api/v1/auth/logout-everywhere': {
    type: 'logout.everywhere',
    targetType: 'session',
    targetId: () => undefined,
    after: () => undefined,
    details: (_r, result) => ({ sessionsEnded: field(result, 'sessionsEnded') ?? null }),
  },

  'POST /api/v1/dead-letters/:id/replay': {
    type: 'deadletter.replayed',
    targetType: 'deadLetter',
    targetId: (r) => r.params.id,
    after: () => undefined,
    details: (_r, result) => ({
      messageId: field(result, 'id') ?? null,
      outcome: field(result, 'outcome') ?? null,
      error: field(result, 'error') ?? null,
    }),
  },
  'POST /api/v1/dead-letters/replay-jobs/:id/cancel': {
    type: 'deadletter.replayjob.cancel',
    targetType: 'replayJob',
    targetId: (r) => r.params.id,
    after: () => undefined,
    details: (_r, result) => ({ state: field(result, 'state') ?? null }),
  },
  'DELETE /api/v1/dead-letters/:id': {
    type: 'deadletter.deleted',
    targetType: 'deadLetter',
    targetId: (r) => r.params.id,
    after: () => undefined,
  },
};

/**
 * Requests that change nothing, or are audited elsewhere: sign-in (the auth event sink), dry
 * runs and validation (no side effects), and the audit API itself (reads only).
 */
export const NOT_CHANGES = new Set([
  'POST /api/v1/auth/login',
  // The auth event sink records it (password.changed, or login.failed for a wrong current one).
  'POST /api/v1/auth/password',
  'POST /api/v1/routes/validate',
  'POST /api/v1/routes/:id/test',
  'POST /api/v1/routes/test',
  'POST /api/v1/expressions/evaluate',
  'POST /api/v1/dead-letters/preview',
  // A caller's own saved audit searches: preferences, not changes to the gateway.
  'POST /api/v1/audit/searches',
  'DELETE /api/v1/audit/searches/:id',
  // The replay-jobs service records the job it creates (a dry run only counts).
  'POST /api/v1/dead-letters/replay-jobs',
]);
