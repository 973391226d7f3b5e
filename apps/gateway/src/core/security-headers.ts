import type { FastifyInstance } from 'fastify';

/**
 * The API's replies are data, never a page: a reply opened in a browser (a link in a phishing
 * mail, a frame on another site) runs nothing, loads nothing and cannot be framed.
 */
export const API_CSP = [
  "default-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * The API's reference at /docs (Swagger UI): its own scripts and styles (the page styles itself
 * inline), calls to this origin only ("Try it out"), never framed.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "base-uri 'none'",
].join('; ');

const COMMON: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * Replies hold what a user may see and no more (audit records, route documents, session tokens):
 * no cache, shared or the browser's own, keeps a copy for the next user of the machine.
 */
const API_HEADERS: Record<string, string> = {
  ...COMMON,
  'cache-control': 'no-store',
  'content-security-policy': API_CSP,
};

const DOCS_HEADERS: Record<string, string> = {
  ...COMMON,
  'cache-control': 'no-cache',
  'content-security-policy': DOCS_CSP,
};

/**
 * The headers every reply starts with; over HTTPS (a trusted proxy's X-Forwarded-Proto, see
 * JUNCTION_TRUSTED_PROXIES) also Strict-Transport-Security for `hstsMaxAgeSeconds`
 * (JUNCTION_HSTS_MAX_AGE, a year; 0: none), so that a later plain-HTTP link cannot strip TLS off
 * the console. Plain HTTP gets none (browsers ignore it there, and a gateway on localhost must
 * stay reachable without TLS); a handler may set its own in their place (the console's
 * pages and files, a sync ingest's reply from the far side).
 */
export function securityHeaders(fastify: FastifyInstance, hstsMaxAgeSeconds = 31_536_000): void {
  const hsts = hstsMaxAgeSeconds > 0 ? `max-age=${hstsMaxAgeSeconds}` : undefined;
  fastify.addHook('onRequest', (request, reply, done) => {
    const url = request.url;
    void reply.headers(
      url === '/docs' || url.startsWith('/docs/') || url.startsWith('/docs?')
        ? DOCS_HEADERS
        : API_HEADERS,
    );
    if (hsts && request.protocol === 'https') void reply.header('strict-transport-security', hsts);
    done();
  });
}
