/**
 * The version list reads no document or source, against a real Postgres: an editor can make
 * thousands of versions of a 128 KiB text, and every viewer's list loaded them all.
 */
import { RoutesRepository } from '@junction/registry';
import { startTestGateway, TestGateway } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';

describe('route version list', () => {
  let gw: TestGateway;
  let token: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    token = await gw.login('admin', gw.adminPassword);
    await gw.create(token, '/api/v1/connections', {
      name: 'partner',
      type: 'http',
      config: { baseUrl: 'http://127.0.0.1:9' },
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
  });

  it('lists every version with its summary, without loading documents or sources', async () => {
    const padding = `# ${'c'.repeat(98)}\n`.repeat(1000);
    const text = (n: number) =>
      `# version ${n}\n${padding}id: wide\nsource: { type: http, path: wide, auth: none }\n` +
      'pipeline: []\ndestinations: [ { type: http, connection: partner, path: /in } ]\n';
    const send = (method: string, url: string, n: number) =>
      gw.request(method, url, {
        token,
        body: text(n),
        headers: { 'content-type': 'application/yaml' },
      });
    expect((await send('POST', '/api/v1/routes', 1)).status).toBe(201);
    for (const n of [2, 3]) expect((await send('PUT', '/api/v1/routes/wide', n)).status).toBe(200);

    const list = await gw.request('GET', '/api/v1/routes/wide/versions', { token });
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject([
      { version: 3, author: 'admin', active: false },
      { version: 2, active: false },
      { version: 1, active: true },
    ]);
    for (const v of list.body as Array<Record<string, unknown>>) {
      expect(v.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(v).not.toHaveProperty('source');
    }

    const rows = await gw.app.get(RoutesRepository, { strict: false }).listVersions('wide', 1);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      // Each source is 100 KB: read for the list, 4,000 versions held a viewer's request seconds.
      const loaded = row as { source?: unknown; document?: unknown };
      expect(loaded.source).toBeUndefined();
      expect(loaded.document).toBeUndefined();
    }
  });
});
