import { ApiKeyCache, API_KEY_CACHE_TTL_MS } from './api-key-cache';
import type { KeyForUse } from './api-keys.repository';
import { AuthService, hashApiKey, newApiKey } from './auth.service';
import type { Principal } from './roles';

function principal(over: Partial<Principal> = {}): Principal {
  return { kind: 'apiKey', id: 'k1', name: 'shop', provider: 'apiKey', roles: ['ingest'], ...over };
}

describe('ApiKeyCache', () => {
  it('keeps a verified key for its time to live, then forgets it', () => {
    let now = 1_000;
    const cache = new ApiKeyCache(5_000, () => now);
    cache.set('h', principal(), cache.generation);
    now += 4_999;
    expect(cache.get('h')?.id).toBe('k1');
    now += 1;
    expect(cache.get('h')).toBeUndefined();
  });

  it('forgets a key at its own expiry, even inside the time to live', () => {
    let now = 1_000;
    const cache = new ApiKeyCache(60_000, () => now);
    cache.set('h', principal({ expiresAt: new Date(2_000) }), cache.generation);
    expect(cache.get('h')).toBeDefined();
    now = 2_000;
    expect(cache.get('h')).toBeUndefined();
  });

  it('clear() forgets everything at once, and a lookup begun before it cannot put its key back', () => {
    const cache = new ApiKeyCache(5_000, () => 0);
    cache.set('h', principal(), cache.generation);
    const before = cache.generation; // a lookup reads the row ...
    cache.clear(); // ... while the key is revoked and the change committed
    expect(cache.get('h')).toBeUndefined();
    cache.set('h', principal(), before);
    expect(cache.get('h')).toBeUndefined();
  });

  it('hands out copies: a caller cannot change what the next request gets', () => {
    const cache = new ApiKeyCache(5_000, () => 0);
    cache.set('h', principal(), cache.generation);
    const got = cache.get('h')!;
    got.name = 'changed';
    expect(() => got.roles.push('admin')).toThrow();
    expect(cache.get('h')).toEqual(principal());
  });
});

describe('AuthService.principalFromApiKey with the cache', () => {
  const { key, prefix } = newApiKey();
  let row: KeyForUse;
  let reads: number;
  let touches: number;
  let now: number;
  let cache: ApiKeyCache;
  let auth: AuthService;

  beforeEach(() => {
    now = 1_000_000;
    reads = 0;
    touches = 0;
    row = {
      key: {
        id: 'k1',
        name: 'shop',
        prefix,
        keyHash: hashApiKey(key),
        roles: ['ingest'],
        ingestRoutes: null,
        revokedAt: null,
        expiresAt: null,
      } as unknown as KeyForUse['key'],
      owner: { id: 'u1', username: 'alice', disabled: false, roles: ['admin'] },
    };
    const repository = {
      findForUse: (p: string) => {
        reads += 1;
        return Promise.resolve(p === prefix ? structuredClone(row) : null);
      },
      touch: () => {
        touches += 1;
        return Promise.resolve();
      },
    };
    cache = new ApiKeyCache(API_KEY_CACHE_TTL_MS, () => now);
    const unused = undefined as never;
    auth = new AuthService(
      unused,
      unused,
      repository as never,
      cache,
      unused,
      unused,
      unused,
      unused,
    );
  });

  it('reads the row (and records its use) once per time to live, not once per request', async () => {
    for (let i = 0; i < 100; i += 1) expect((await auth.principalFromApiKey(key))?.id).toBe('k1');
    expect(reads).toBe(1);
    expect(touches).toBe(1);
    now += API_KEY_CACHE_TTL_MS;
    await auth.principalFromApiKey(key);
    expect(reads).toBe(2);
  });

  it('a key revoked in this process is refused at the next request', async () => {
    expect(await auth.principalFromApiKey(key)).not.toBeNull();
    row.key.revokedAt = new Date(now);
    cache.clear(); // what ApiKeysRepository.revoke does once the change is committed
    expect(await auth.principalFromApiKey(key)).toBeNull();
  });

  it('a key revoked by another process is refused within the documented bound', async () => {
    expect(await auth.principalFromApiKey(key)).not.toBeNull();
    row.key.revokedAt = new Date(now); // written elsewhere: this process's cache is not told
    now += API_KEY_CACHE_TTL_MS - 1;
    expect(await auth.principalFromApiKey(key)).not.toBeNull();
    now += 1;
    expect(await auth.principalFromApiKey(key)).toBeNull();
  });

  it('a refused key is never cached: every attempt is checked against the database', async () => {
    const forged = `jk_${prefix}_${'A'.repeat(32)}`;
    expect(await auth.principalFromApiKey(forged)).toBeNull();
    expect(await auth.principalFromApiKey(forged)).toBeNull();
    expect(reads).toBe(2);
    // And the real key is not served from an entry the forged one made.
    expect(await auth.principalFromApiKey(key)).not.toBeNull();
  });
});
