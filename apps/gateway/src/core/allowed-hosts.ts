import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * Which host names a request may name in its Host header. A web page on any site can have its
 * own name re-pointed at this machine (DNS rebinding): the browser then treats the gateway as
 * that site, sends it the page's requests and hands the page the answers. Such a request names
 * the page's host, never this gateway's, so a gateway that answers only to its own names is out
 * of the page's reach. An address (127.0.0.1, [::1], 10.0.0.5) is always answered: a page can
 * only name an address that is its own origin.
 */
export class HostPolicy {
  private constructor(
    private readonly any: boolean,
    private readonly names: ReadonlySet<string>,
    private readonly domains: readonly string[],
  ) {}

  /** `*` (any), host names and `*.domain` (the domain's subdomains). */
  static of(entries: readonly string[]): HostPolicy {
    const names = new Set<string>();
    const domains: string[] = [];
    for (const entry of entries.map((e) => e.trim().toLowerCase().replace(/\.$/, ''))) {
      if (entry === '*') return new HostPolicy(true, names, domains);
      if (entry.startsWith('*.')) domains.push(entry.slice(2));
      else names.add(entry);
    }
    return new HostPolicy(false, names, domains);
  }

  /**
   * The policy of a gateway listening on `listen`: the configured names, or without them, on a
   * loopback address, this machine's names (`localhost`, `*.localhost`); elsewhere any name,
   * since the names it is reached by are not known. `extra` (the host names the gateway is
   * configured to be reached by, e.g. its OIDC redirect URI's) is allowed in every case: a
   * provider sends the browser back there.
   */
  static forListener(
    listen: string,
    configured: readonly string[] | undefined,
    extra: readonly string[] = [],
  ): HostPolicy {
    if (configured) return HostPolicy.of([...configured, ...extra]);
    return isLoopbackAddress(listen)
      ? HostPolicy.of(['localhost', '*.localhost', ...extra])
      : HostPolicy.of(['*']);
  }

  /** Whether a request with this Host header is answered (none: HTTP/1.0, never a browser). */
  allows(host: string | undefined): boolean {
    if (host === undefined) return true;
    const name = hostName(host);
    if (name === null) return false;
    if (isIP(name) !== 0 || this.any || this.names.has(name)) return true;
    return this.domains.some((domain) => name.endsWith(`.${domain}`));
  }
}

/** A Host header's host, lower case, without the port or a final dot; null when malformed. */
export function hostName(header: string): string | null {
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0 || !/^(?::\d{1,5})?$/.test(host.slice(end + 1))) return null;
    return host.slice(1, end);
  }
  const match = /^([^:\s]+)(?::\d{1,5})?$/.exec(host);
  return match ? match[1].replace(/\.$/, '') : null;
}

/** A host name as JUNCTION_ALLOWED_HOSTS takes it: `*`, a name, or `*.domain`. */
export function checkAllowedHost(entry: string): string | null {
  const name = entry.startsWith('*.') ? entry.slice(2) : entry;
  if (
    entry === '*' ||
    /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i.test(name)
  )
    return null;
  return `'${entry}' is not a host name, '*.domain' or '*' (no scheme, port or path)`;
}

function isLoopbackAddress(listen: string): boolean {
  const host = listen.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(host);
}

/** Refuses (403) every request whose Host header the policy does not allow, before any handler. */
export function allowedHosts(fastify: FastifyInstance, policy: HostPolicy): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (policy.allows(request.headers.host)) {
      done();
      return;
    }
    // The name is not quoted back: it is whatever the caller sent.
    void reply.status(403).header('content-type', 'application/json; charset=utf-8').send({
      statusCode: 403,
      error: 'Forbidden',
      message:
        'this gateway does not answer to the host name in the Host header; an operator can allow it in JUNCTION_ALLOWED_HOSTS',
    });
  });
}
