/**
 * What the audit reads of other parts' states, as small ports: the owning libraries'
 * services implement them (the registry's routes and connections, auth's users and API keys)
 * and are injected where the audit module is built. The audit reads no other part's tables.
 */
export interface RouteStatePort {
  /** The route with its latest document (an edit's diff shows the version it stored). */
  get(id: string, which: 'latest'): Promise<unknown>;
}

export interface ConnectionStatePort {
  /** The connection's view, secrets left out. */
  get(name: string): Promise<unknown>;
}

export interface UserStatePort {
  get(id: string): Promise<unknown>;
}

export interface ApiKeyStatePort {
  /** The key's view: never its hash, nor the key. */
  get(id: string): Promise<{
    id: string;
    name: string;
    prefix: string;
    roles: readonly string[];
    createdBy: string;
    createdAt: string;
    expiresAt: string | null;
    revokedAt: string | null;
  }>;
}

export interface DeadLetterIdsPort {
  /** The ids of the dead letters kept of a message (by its id as stored): a replay job's events name only those. */
  idsOfMessage(messageId: string): Promise<string[]>;
}

/** The ports the admin audit reads states through (a missing one reads as "no state"). */
export interface AuditStatePorts {
  routes?: RouteStatePort;
  connections?: ConnectionStatePort;
  users?: UserStatePort;
  apiKeys?: ApiKeyStatePort;
}
