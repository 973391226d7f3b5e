/**
 * Where an HTTP destination may send: the target URL built from a connection's base URL and a
 * route's path, and the host allowlist that every request and every redirect is checked against.
 */

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/**
 * `baseUrl + path` as a URL that can only point at the base URL's own origin: the path is taken
 * as a path (a missing leading slash is added), so `//evil.example`, `@evil.example` or
 * `http://evil.example` in a route cannot move the request to another host. User info in the base
 * URL is dropped from the result (it is the basic-auth user name, sent as a header).
 */
export function targetUrl(baseUrl: string, path: string): URL {
  const base = new URL(baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new TypeError(`base URL must be http or https, not ${base.protocol}`);
  if (/[\s\\]/.test(path)) throw new TypeError('path must not contain spaces or backslashes');
  const suffix = path.startsWith('/') ? path : `/${path}`;
  const url = new URL(`${base.origin}${base.pathname.replace(/\/+$/, '')}${suffix}`);
  if (url.origin !== base.origin) throw new TypeError('path must stay on the base URL host');
  return url;
}

/** `host:port` of a URL, with the scheme's default port made explicit; lower case. */
export function hostAndPort(url: URL): string {
  return `${url.hostname.toLowerCase()}:${url.port || DEFAULT_PORTS[url.protocol] || ''}`;
}

/**
 * Host allowlist. Entries: `erp.example.com` (any port), `erp.example.com:8443` (that port only),
 * `*.example.com` (any subdomain, not the apex itself), IPv6 as `[::1]` or `[::1]:8080`.
 */
export class HostAllowlist {
  private readonly exact = new Set<string>();
  private readonly anyPort = new Set<string>();
  private readonly suffixes: string[] = [];

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase().replace(/\.$/, '');
      if (!entry) continue;
      if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1));
      else if (/:\d+$/.test(entry) && (!entry.includes('[') || entry.includes(']:')))
        this.exact.add(entry);
      else this.anyPort.add(entry);
    }
  }

  allows(url: URL): boolean {
    const host = url.hostname.toLowerCase().replace(/\.$/, '');
    if (this.anyPort.has(host) || this.exact.has(hostAndPort(url))) return true;
    return this.suffixes.some((suffix) => host.endsWith(suffix) && host.length > suffix.length);
  }
}
