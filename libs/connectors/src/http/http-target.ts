/**
 * Where an HTTP destination sends: the target URL built from a connection's base URL and a route's
 * path. Whether that host may be called is the egress policy's to say (egress/egress-policy.ts).
 */

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
