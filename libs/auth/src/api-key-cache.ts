import type { Principal } from './roles';

/**
 * How long a verified API key is trusted without reading its row again. A change (a key revoked,
 * its owner disabled, deleted or given other roles) clears the cache of every gateway process on
 * the database once it commits (ApiKeyChanges, Postgres NOTIFY); this bounds a stale entry only
 * while a process's listening connection is down.
 */
export const API_KEY_CACHE_TTL_MS = 5_000;

/** Most keys kept; past it the oldest entry goes (a bound on memory, not a tuning knob). */
const MAX_ENTRIES = 10_000;

interface Entry {
  principal: Principal;
  until: number;
}

/**
 * Verified API keys by the SHA-256 of the key (never the key itself), so that a machine posting
 * thousands of messages a second does not cost two queries and an UPDATE per request. Only keys
 * that were valid are kept: an unknown or refused key is checked against the database every time.
 *
 * A lookup started before a clear() must not put back what the clear removed: `generation`
 * tells a reader whether a change landed while it read the row.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();
  private generationValue = 0;

  constructor(
    private readonly ttlMs = API_KEY_CACHE_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Taken before reading a key's row; pass it to set(). */
  get generation(): number {
    return this.generationValue;
  }

  get(keyHash: string): Principal | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    const now = this.now();
    const expiresAt = entry.principal.expiresAt?.getTime();
    if (now >= entry.until || (expiresAt !== undefined && expiresAt <= now)) {
      this.entries.delete(keyHash);
      return undefined;
    }
    return { ...entry.principal };
  }

  /** Keeps a verified principal, unless a clear() came since `generation` was taken. */
  set(keyHash: string, principal: Principal, generation: number): void {
    if (generation !== this.generationValue) return;
    if (this.entries.size >= MAX_ENTRIES && !this.entries.has(keyHash)) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    Object.freeze(principal.roles);
    if (principal.ingestRoutes) Object.freeze(principal.ingestRoutes);
    this.entries.set(keyHash, { principal: { ...principal }, until: this.now() + this.ttlMs });
  }

  /** Forgets every key: call once a change to keys, users or role grants is committed. */
  clear(): void {
    this.generationValue += 1;
    this.entries.clear();
  }
}
