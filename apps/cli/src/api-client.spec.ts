import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { textBody } from '@junction/client';
import { AnswerTimedOut, AnswerTooLarge, connect, failure } from './api-client';

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

describe('the CLI on @junction/client: what an exit code is made of', () => {
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
        const status = Number(/\/s(\d{3})/.exec(req.url ?? '')?.[1] ?? 200);
        if (req.url?.includes('format=yaml')) {
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

  const client = (base = url) => connect({ url: base, credentials: { apiKey: 'k1' } }, 5000);
  const get = (id: string, base = url) => {
    const api = client(base);
    return api.data(api.GET('/api/v1/routes/{id}', { params: { path: { id } } }));
  };

  it('sends the credential and the body with its content type', async () => {
    const api = client();
    const res = await api.PUT('/api/v1/routes/{id}', {
      params: { path: { id: 'a' } },
      ...textBody('id: a\n', 'application/yaml'),
    });
    expect(res.response.status).toBe(200);
    const last = seen[seen.length - 1];
    expect(last).toMatchObject({ method: 'PUT', url: '/api/v1/routes/a', body: 'id: a\n' });
    expect(last.headers['x-api-key']).toBe('k1');
    expect(last.headers['content-type']).toBe('application/yaml');
  });

  it('reads text bodies as text', async () => {
    const api = client();
    const yaml = await api.data(
      api.GET('/api/v1/routes/{id}', {
        params: { path: { id: 'x' }, query: { format: 'yaml' } },
        parseAs: 'text',
      }),
    );
    expect(yaml).toBe('id: x\n');
  });

  it.each([400, 401, 403, 404, 409, 415, 422, 500])(
    '%i is refused, with the error body',
    async (status) => {
      const failed = failure(await get(`s${status}`).catch((e: unknown) => e));
      expect(failed).toMatchObject({
        unavailable: false,
        error: { status, body: { details: { problems: [{ pointer: '/id' }] } } },
      });
      expect(failed?.line).toBe(`GET /api/v1/routes/s${status}: ${status} answer ${status}`);
    },
  );

  it.each([502, 503, 504])(
    '%i is unavailable (the gateway is not there to decide)',
    async (status) => {
      expect(failure(await get(`s${status}`).catch((e: unknown) => e))).toMatchObject({
        unavailable: true,
      });
    },
  );

  it('a closed port is unavailable, naming the gateway', async () => {
    const closed = await serve(() => undefined);
    await new Promise((r) => closed.server.close(r));
    const failed = failure(await get('x', closed.url).catch((e: unknown) => e));
    expect(failed?.unavailable).toBe(true);
    expect(failed?.line).toBe(`cannot reach ${closed.url}: ECONNREFUSED`);
  });

  it('anything else is not an API failure', () => {
    expect(failure(new Error('disk full'))).toBeUndefined();
  });

  it('stops reading an answer past the bound (a server that answers without end), except the audit export', async () => {
    const endless = await serve((req, res) => {
      res.writeHead(200, {
        'content-type': req.url?.includes('format=yaml') ? 'application/yaml' : 'application/json',
      });
      // 2 MiB: twice the bound below; the audit export gets it whole.
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let i = 0; i < 32; i++) res.write(chunk);
      res.end('"x"');
    });
    try {
      const api = connect({ url: endless.url, credentials: { apiKey: 'k1' } }, 5000, 1024 * 1024);
      const text = await api
        .data(
          api.GET('/api/v1/routes/{id}', {
            params: { path: { id: 'x' }, query: { format: 'yaml' } },
            parseAs: 'text',
          }),
        )
        .catch((e: unknown) => e);
      expect(text).toBeInstanceOf(AnswerTooLarge);
      expect(failure(text)).toEqual({
        unavailable: true,
        line: "the gateway's answer to /api/v1/routes/x is over 1048576 bytes; not read further",
      });
      const json = await api
        .data(api.GET('/api/v1/routes/{id}', { params: { path: { id: 'x' } } }))
        .catch((e: unknown) => e);
      expect(json).toBeInstanceOf(AnswerTooLarge);
      const exported = await api.auditExport({ format: 'ndjson' });
      expect((await new Response(exported.body).arrayBuffer()).byteLength).toBe(
        2 * 1024 * 1024 + 3,
      );
    } finally {
      endless.server.closeAllConnections();
      await new Promise((r) => endless.server.close(r));
    }
  });

  it('a deadline that holds: an answer that never ends times out; the audit export only when it stalls', async () => {
    const timers: NodeJS.Timeout[] = [];
    const slow = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      if (req.url?.includes('steady')) {
        // The audit export: 30 parts 50 ms apart, longer in all than the 1 s deadline.
        let n = 0;
        const t = setInterval(() => {
          res.write('x');
          if (++n === 30) {
            clearInterval(t);
            res.end();
          }
        }, 50);
        timers.push(t);
      } else if (req.url?.includes('export'))
        res.write('x'); // one byte, then nothing
      else timers.push(setInterval(() => res.write('a'), 50)); // a byte at a time, without end
    });
    try {
      const api = connect({ url: slow.url, credentials: { apiKey: 'k1' } }, 1000);
      const trickled = await api
        .data(
          api.GET('/api/v1/routes/{id}', {
            params: { path: { id: 'x' }, query: { format: 'yaml' } },
            parseAs: 'text',
          }),
        )
        .catch((e: unknown) => e);
      expect(trickled).toBeInstanceOf(AnswerTimedOut);
      expect(failure(trickled)).toEqual({
        unavailable: true,
        line: 'the gateway did not answer within 1000 ms (/api/v1/routes/x)',
      });
      const stalled = await api.auditExport({ format: 'ndjson' });
      await expect(new Response(stalled.body).text()).rejects.toBeInstanceOf(AnswerTimedOut);
      const steady = connect({ url: `${slow.url}/steady`, credentials: { apiKey: 'k1' } }, 1000);
      const exported = await steady.auditExport({ format: 'ndjson' });
      expect(await new Response(exported.body).text()).toBe('x'.repeat(30));
    } finally {
      for (const t of timers) clearInterval(t);
      slow.server.closeAllConnections();
      await new Promise((r) => slow.server.close(r));
    }
  });
});
