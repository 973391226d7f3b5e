import { ServiceStateReader } from './admin-audit.interceptor';
import type { ApiKeyStatePort } from './audit-ports';

type ApiKeyState = Awaited<ReturnType<ApiKeyStatePort['get']>>;

const key: ApiKeyState & { lastUsedAt: string; ownerId: string } = {
  id: 'k1',
  name: 'ci',
  prefix: 'abc',
  roles: ['editor'],
  createdBy: 'admin',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: '2026-01-02T00:00:00.000Z',
  ownerId: 'u1',
};

describe('ServiceStateReader', () => {
  it('reads states through the ports of their owners', async () => {
    const reader = new ServiceStateReader({
      routes: { get: (id, which) => Promise.resolve({ id, which, document: { id } }) },
      connections: { get: (name) => Promise.resolve({ name }) },
      users: { get: (id) => Promise.resolve({ id, username: 'bob' }) },
      apiKeys: { get: () => Promise.resolve(key) },
    });
    await expect(reader.route('r1')).resolves.toEqual({
      id: 'r1',
      which: 'latest',
      document: { id: 'r1' },
    });
    await expect(reader.routeSummary('r1')).resolves.toEqual({ id: 'r1', which: 'latest' });
    await expect(reader.connection('c1')).resolves.toEqual({ name: 'c1' });
    await expect(reader.user('u1')).resolves.toEqual({ id: 'u1', username: 'bob' });
    // What a key is and whether it is revoked: not when it was last used, nor its owner.
    await expect(reader.apiKey('k1')).resolves.toEqual({
      id: 'k1',
      name: 'ci',
      prefix: 'abc',
      roles: ['editor'],
      createdBy: 'admin',
      createdAt: '2026-01-01T00:00:00.000Z',
      expiresAt: null,
      revokedAt: null,
    });
  });

  it('reads a state that is not there, or a port that fails or is missing, as none', async () => {
    const missing = () => Promise.reject(new Error('NOT_FOUND'));
    const reader = new ServiceStateReader({
      routes: { get: missing },
      connections: { get: missing },
      apiKeys: { get: missing },
    });
    await expect(reader.route('r1')).resolves.toBeUndefined();
    await expect(reader.routeSummary('r1')).resolves.toBeUndefined();
    await expect(reader.connection('c1')).resolves.toBeUndefined();
    await expect(reader.user('u1')).resolves.toBeUndefined();
    await expect(reader.apiKey('k1')).resolves.toBeUndefined();
  });
});
