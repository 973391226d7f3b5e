import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

/** What the console shows of the environment it runs in (so production looks like production). */
export interface ConsoleEnvironment {
  name: string;
  color: string;
  /** False when an administrator turned audit exports off: the console offers none. */
  auditExport?: boolean;
}

/**
 * The console's pages: no script but our own files (no inline script, no eval), styles from our
 * files plus inline style attributes and elements (Mantine and CodeMirror set CSS variables and
 * positions at run time: a style cannot run code), calls to this origin only, never framed.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "base-uri 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
  immutable: boolean;
}

/** The folder the console was built into (apps/console/dist), from src under jest or dist under node. */
export function consoleDistDir(from = __dirname): string | undefined {
  for (let dir = from; dirname(dir) !== dir; dir = dirname(dir)) {
    const candidate = join(dir, 'apps', 'console', 'dist');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return undefined;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

const escapeAttribute = (value: string) =>
  value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Loads every built file into memory once (a few hundred KB), so that a request can only ever
 * name one of them: an unknown path gets index.html (the single-page app routes deep links
 * itself), never a file outside the build. Hashed assets are cached for a year; index.html
 * never, so a new build is picked up at the next load.
 */
function loadAssets(dist: string, environment: ConsoleEnvironment): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const file of listFiles(dist)) {
    const path = '/console/' + relative(dist, file).split(sep).join('/');
    let body = readFileSync(file);
    const ext = file.slice(file.lastIndexOf('.'));
    if (path === '/console/index.html') {
      // The environment banner's name and colour, as data the app reads (not a script).
      body = Buffer.from(
        body
          .toString('utf8')
          // Replaced by functions: a `$'` or `$&` in the name is text, not a replacement pattern.
          .replace('%JUNCTION_ENV_NAME%', () => escapeAttribute(environment.name))
          .replace('%JUNCTION_ENV_COLOR%', () => escapeAttribute(environment.color))
          .replace('%JUNCTION_AUDIT_EXPORT%', environment.auditExport === false ? 'off' : 'on'),
      );
    }
    const compressible = ['.html', '.js', '.css', '.svg', '.json', '.txt'].includes(ext);
    assets.set(path, {
      body,
      gzip: compressible ? gzipSync(body) : undefined,
      type: TYPES[ext] ?? 'application/octet-stream',
      immutable: path.startsWith('/console/assets/'),
    });
  }
  return assets;
}

/** Serves the console at /console (with a fallback to index.html for deep links) and sends / there. */
export function serveConsole(
  app: NestFastifyApplication,
  environment: ConsoleEnvironment,
  dist = consoleDistDir(),
): void {
  const fastify = app.getHttpAdapter().getInstance();
  const assets = dist ? loadAssets(dist, environment) : new Map<string, Asset>();
  const index = assets.get('/console/index.html');

  const send = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0].split('#')[0];
    void reply.headers(SECURITY_HEADERS);
    if (!index) {
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The console is not built: run `npm run build`.');
    }
    let asset = assets.get(path);
    if (!asset && path.startsWith('/console/assets/')) {
      // A hashed file from another build: a 404, not index.html served as script.
      return reply.status(404).type('text/plain; charset=utf-8').send('Not found');
    }
    asset ??= index;
    void reply.header(
      'cache-control',
      asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    void reply.header('vary', 'accept-encoding');
    const gzip = asset.gzip && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    if (gzip) void reply.header('content-encoding', 'gzip');
    return reply.type(asset.type).send(gzip ? asset.gzip : asset.body);
  };

  fastify.get('/console', send);
  fastify.get('/console/*', send);
  fastify.get('/', (_request, reply) => reply.redirect('/console/', 302));
}
