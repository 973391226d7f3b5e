import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { ApiClient, Refused, Unreachable } from './api-client';

/** A real HTTP server on 127.0.0.1 that answers each path with a fixed status and body. */
function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

describe('ApiClient: what a CLI exit code is made of', () => {
  let server: Server;
  let url: string;
  const seen: {
    method?: string;
    url?: string;
    headers: IncomingMessage['headers'];
    body: string;
  }[] = [];

  beforeAll(async () => {
    ({ server, url } = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const status = Number(/\/status\/(\d+)/.exec(req.url ?? '')?.[1] ?? 200);
        if (req.url?.includes('/text')) {
          res.writeHead(status, { 'content-type': 'application/yaml' });
          res.end('id: x\n');
          return;
        }
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            status < 300
              ? { ok: true }
              : {
                  statusCode: status,
                  error: 'E',
                  message: `answer ${status}`,
                  details: { problems: [{ pointer: '/id', message: 'bad' }] },
                },
          ),
        );
      });
    }));
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const client = (base = url) =>
    new ApiClient({ url: base, headers: { 'x-api-key': 'k1' }, from: 'test' }, 5000);

  it('sends the credential and the body with its content type under /api/v1', async () => {
    const res = await client().request('PUT', '/routes/a', {
      text: 'id: a\n',
      contentType: 'application/yaml',
    });
    expect(res).toMatchObject({ status: 200, body: { ok: true } });
    const last = seen[seen.length - 1];
    expect(last).toMatchObject({ method: 'PUT', url: '/api/v1/routes/a', body: 'id: a\n' });
    expect(last.headers['x-api-key']).toBe('k1');
    expect(last.headers['content-type']).toBe('application/yaml');
  });

  it('returns text bodies as text', async () => {
    expect((await client().request('GET', '/text')).body).toBe('id: x\n');
  });

  it.each([400, 401, 403, 404, 409, 415, 422, 500])(
    '%i is Refused, with the error body',
    async (status) => {
      const err = await client()
        .request('GET', `/status/${status}`)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Refused);
      expect(err).toMatchObject({ status, body: { details: { problems: [{ pointer: '/id' }] } } });
      expect((err as Error).message).toContain(`answer ${status}`);
    },
  );

  it.each([502, 503, 504])(
    '%i is Unreachable (the gateway is not there to decide)',
    async (status) => {
      await expect(client().request('GET', `/status/${status}`)).rejects.toBeInstanceOf(
        Unreachable,
      );
    },
  );

  it('a status the caller expects is an answer', async () => {
    await expect(client().request('GET', '/status/404', { expect: [404] })).resolves.toMatchObject({
      status: 404,
    });
  });

  it('a closed port is Unreachable, naming the gateway', async () => {
    const closed = await serve(() => undefined);
    await new Promise((r) => closed.server.close(r));
    const err = await client(closed.url)
      .request('GET', '/x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Unreachable);
    expect((err as Error).message).toContain(`cannot reach ${closed.url}`);
  });
});
