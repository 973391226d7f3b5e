import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * One X-Forwarded-For entry as an address: proxies that append the client's port (Azure
 * Application Gateway, IIS ARR: `203.0.113.5:51234`, `[2001:db8::1]:443`) give it without; an
 * entry that is no address at all (`unknown`, junk) stays as it is, one value for every such
 * client. Fastify takes the client from the entries as they are written, so a port made every
 * connection of one client another address to the sign-in limits, the audit trail and sessions.
 */
export function forwardedAddress(entry: string): string {
  const value = entry.trim();
  if (isIP(value) !== 0) return value;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed && isIP(bracketed[1]) === 6) return bracketed[1];
  const withPort = /^([\d.]+):\d{1,5}$/.exec(value);
  if (withPort && isIP(withPort[1]) === 4) return withPort[1];
  return value;
}

/** Rewrites X-Forwarded-For (from trusted proxies only: see trustProxy) to addresses, before Fastify reads it. */
export function forwardedFor(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    const header = request.raw.headers['x-forwarded-for'];
    if (typeof header === 'string' && header.includes(':'))
      request.raw.headers['x-forwarded-for'] = header
        .split(',')
        .map((entry) => forwardedAddress(entry))
        .join(', ');
    done();
  });
}
