import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from './exit-codes';
import { deadLettersListCommand, routeApplyCommand, routeExportCommand } from './remote.commands';
import { printable } from './terminal-text';

/** Sequences a terminal acts on: retitle (OSC 0), cursor up and erase line, bidi override. */
const HOSTILE = '\u001b]0;owned\u0007\u001b[1A\u001b[2K\r\u202e\u009b';

const FILE_TEXT = `id: r1
source: { type: http, path: r1, auth: none }
destinations: [{ type: log }]
`;

/**
 * A stand-in gateway on 127.0.0.1 with one route, r1, whose state another editor changes while
 * `route apply` is between its diff and its change.
 */
class FakeGateway {
  server!: Server;
  url!: string;
  state = { incarnation: 1, latestVersion: 1, activeVersion: 1 };
  /** Another editor stores and activates version 2 once the CLI has read version 1's source. */
  raceAfterDiff = true;
  changes: Array<{ method: string; url: string; ifMatch?: string }> = [];
  /** The stored source of every version (an editor may have put anything in a comment). */
  serverSource = 'id: r1\n# the old text\n';

  etag(): string {
    const s = this.state;
    return `"${s.incarnation}.${s.latestVersion}.${s.activeVersion}"`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => this.answer(req, res));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const view = () => ({
      id: 'r1',
      ...this.state,
      description: null,
      sourceType: 'http',
      desiredState: 'running',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      documentVersion: this.state.activeVersion,
      document: {},
    });
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'POST' && path === '/api/v1/routes/validate')
      return json(200, { valid: true, problems: [] });
    if (req.method === 'GET' && path === '/api/v1/routes/r1')
      return json(200, view(), { etag: this.etag() });
    const version = /^\/api\/v1\/routes\/r1\/versions\/(\d+)$/.exec(path);
    if (req.method === 'GET' && version) {
      if (this.raceAfterDiff) this.state = { incarnation: 1, latestVersion: 2, activeVersion: 2 };
      const source = this.serverSource;
      return json(200, { version: Number(version[1]), source, sourceFormat: 'yaml' });
    }
    if (req.method === 'GET' && path === '/api/v1/dead-letters')
      return json(200, [
        {
          id: '0193e3a4-0000-7000-8000-000000000000',
          messageId: 'm',
          routeId: 'r1',
          routeVersion: 1,
          routeIncarnation: 1,
          source: {},
          reasonCode: 'EXPRESSION_FAILED',
          reason: `failed: ${HOSTILE}`,
          failedAt: null,
          attempts: 1,
          payloadSha256: '0'.repeat(64),
          createdAt: '2026-01-01T00:00:00.000Z',
          replayedAt: null,
          replays: 0,
          lastReplayError: null,
        },
      ]);
    const ifMatch = req.headers['if-match'] as string | undefined;
    this.changes.push({ method: req.method!, url: req.url!, ifMatch });
    if (ifMatch !== undefined && ifMatch !== this.etag())
      return json(412, {
        statusCode: 412,
        error: 'Precondition Failed',
        message: "route 'r1' changed since it was read",
        details: { code: 'ROUTE_CHANGED' },
      });
    this.state = { incarnation: 1, latestVersion: this.state.latestVersion + 1, activeVersion: 1 };
    return json(200, view(), { etag: this.etag() });
  }
}

describe('route apply against a route changed after its diff', () => {
  const gw = new FakeGateway();
  let dir: string;
  const saved = { url: process.env.JUNCTION_URL, key: process.env.JUNCTION_API_KEY };
  let output = '';

  beforeAll(async () => {
    await gw.start();
    dir = mkdtempSync(join(tmpdir(), 'junction-apply-race-'));
    writeFileSync(join(dir, 'r1.yaml'), FILE_TEXT);
    process.env.JUNCTION_URL = gw.url;
    process.env.JUNCTION_API_KEY = 'test-key';
  });

  beforeEach(() => {
    output = '';
    for (const stream of [process.stdout, process.stderr])
      jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        output += chunk.toString();
        return true;
      });
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    process.env.JUNCTION_URL = saved.url;
    process.env.JUNCTION_API_KEY = saved.key;
    if (saved.url === undefined) delete process.env.JUNCTION_URL;
    if (saved.key === undefined) delete process.env.JUNCTION_API_KEY;
    rmSync(dir, { recursive: true, force: true });
    await new Promise((resolve) => gw.server.close(resolve));
  });

  it('sends the tag it read with its change, and a route changed since is refused (exit 6)', async () => {
    const code = await routeApplyCommand([dir], { activate: true });
    expect(gw.changes).toEqual([
      { method: 'PUT', url: '/api/v1/routes/r1?activate=true', ifMatch: '"1.1.1"' },
    ]);
    expect(code).toBe(EXIT.REFUSED);
    expect(output).toContain('412');
    // The other editor's version 2 still runs.
    expect(gw.state).toEqual({ incarnation: 1, latestVersion: 2, activeVersion: 2 });
  });

  it('applies when nothing changed in between', async () => {
    gw.raceAfterDiff = false;
    gw.changes = [];
    expect(await routeApplyCommand([dir], {})).toBe(0);
    expect(gw.changes).toEqual([{ method: 'PUT', url: '/api/v1/routes/r1', ifMatch: '"1.2.2"' }]);
  });
});

describe('text from the gateway printed to a terminal', () => {
  it('shows control characters as visible escapes, keeping tabs, line ends and JSON', () => {
    expect(printable(`a${HOSTILE}b\tc\r\nd\n`)).toBe(
      'a\\u001b]0;owned\\u0007\\u001b[1A\\u001b[2K\\u000d\\u202e\\u009bb\tc\r\nd\n',
    );
    const json = JSON.stringify({ reason: HOSTILE });
    expect(JSON.parse(printable(json))).toEqual({ reason: HOSTILE });
  });

  const gw = new FakeGateway();
  let dir: string;
  let output = '';
  const saved = { url: process.env.JUNCTION_URL, key: process.env.JUNCTION_API_KEY };

  beforeAll(async () => {
    gw.raceAfterDiff = false;
    gw.serverSource = `id: r1\n# ${HOSTILE} looks harmless\ndestinations: [{ type: http, connection: elsewhere }]\n`;
    await gw.start();
    dir = mkdtempSync(join(tmpdir(), 'junction-apply-text-'));
    writeFileSync(join(dir, 'r1.yaml'), FILE_TEXT);
    process.env.JUNCTION_URL = gw.url;
    process.env.JUNCTION_API_KEY = 'test-key';
    for (const stream of [process.stdout, process.stderr])
      jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        output += chunk.toString();
        return true;
      });
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    process.env.JUNCTION_URL = saved.url;
    process.env.JUNCTION_API_KEY = saved.key;
    if (saved.url === undefined) delete process.env.JUNCTION_URL;
    if (saved.key === undefined) delete process.env.JUNCTION_API_KEY;
    rmSync(dir, { recursive: true, force: true });
    await new Promise((resolve) => gw.server.close(resolve));
  });

  it("route diff and dead-letters list print the server's text with no control character", async () => {
    expect(await routeApplyCommand([dir], { diffOnly: true })).toBe(0);
    expect(await deadLettersListCommand({})).toBe(0);
    expect(output).toContain('-# \\u001b]0;owned\\u0007\\u001b[1A\\u001b[2K');
    expect(output).toContain('-destinations: [{ type: http, connection: elsewhere }]');
    expect(output).toContain('failed: \\u001b]0;owned');
    for (const c of ['\u001b', '\u0007', '\u009b', '\u202e']) expect(output).not.toContain(c);
  });

  it('export -o writes the file itself, never through a symbolic link or into a FIFO', async () => {
    const victim = join(dir, 'bashrc');
    writeFileSync(victim, 'export PS1=safe\n');
    const link = join(dir, 'orders.yaml');
    symlinkSync(victim, link);
    expect(await routeExportCommand('r1', { output: link })).toBe(EXIT.USAGE);
    expect(output).toContain('is a symbolic link: not written through it');
    expect(readFileSync(victim, 'utf8')).toBe('export PS1=safe\n');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);

    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(await routeExportCommand('r1', { output: fifo })).toBe(EXIT.USAGE);

    const plain = join(dir, 'plain.yaml');
    expect(await routeExportCommand('r1', { output: plain })).toBe(0);
    writeFileSync(plain, 'old and longer than the export '.repeat(100));
    expect(await routeExportCommand('r1', { output: plain })).toBe(0);
    expect(JSON.parse(readFileSync(plain, 'utf8'))).toMatchObject({ id: 'r1' });
  });
});
