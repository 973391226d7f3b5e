import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { ApiError, createJunctionClient } from './index';

/** What the browser gives the console: its origin and its (readable) cookies. */
function pretendBrowser(origin: string, cookie: string): () => void {
  const g = globalThis as { document?: unknown; location?: unknown };
  g.document = { cookie };
  g.location = { origin };
  return () => {
    delete g.document;
    delete g.location;
  };
}

describe('createJunctionClient (against a stand-in server)', () => {
  let server: Server;
  let baseUrl: string;
  const seen: IncomingMessage['headers'][] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      // A careless server that echoes the credential it was given.
      res.writeHead(req.url?.includes('echo') ? 400 : 200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          statusCode: 400,
          error: 'Bad Request',
          message: `did not like ${req.headers.authorization ?? req.headers['x-api-key']}`,
          details: { got: req.headers.authorization ?? req.headers['x-api-key'] },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('browser mode: the page origin, and the CSRF cookie on state-changing calls only', async () => {
    const restore = pretendBrowser(baseUrl, 'other=1; junction_csrf=c%2Fsrf; x=2');
    try {
      const api = createJunctionClient({ browser: true });
      await api.GET('/api/v1/auth/me');
      expect(seen.at(-1)?.['x-csrf-token']).toBeUndefined();
      await api.POST('/api/v1/auth/logout');
      expect(seen.at(-1)?.['x-csrf-token']).toBe('c/srf');
      expect(seen.at(-1)?.authorization).toBeUndefined();
    } finally {
      restore();
    }
  });

  it.each([
    ['token', { token: 'tok-0123456789abcdef' }, 'did not like Bearer [redacted]'],
    ['API key', { apiKey: 'key-0123456789abcdef' }, 'did not like [redacted]'],
  ])('a credential echoed in an error body (%s) is redacted', async (_, credentials, message) => {
    const secret = Object.values(credentials)[0];
    const api = createJunctionClient({ baseUrl, ...credentials });
    const err = (await api
      .data(api.GET('/api/v1/routes/{id}', { params: { path: { id: 'echo' } } }))
      .catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe(message);
    expect(err.body.details).toEqual({ got: message.replace('did not like ', '') });
    for (const text of [err.message, inspect(err), JSON.stringify(err)])
      expect(text).not.toContain(secret);
  });

  it('refuses a token and an API key together, and a relative base URL', () => {
    expect(() => createJunctionClient({ baseUrl, token: 't', apiKey: 'k' })).toThrow(/not both/);
    expect(() => createJunctionClient({ baseUrl: '/api' })).toThrow(/absolute/);
  });
});
