import type { FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { consoleReturnPath } from './auth.controller';
import { CSRF_COOKIE, SESSION_COOKIE, SessionCookies } from './session-cookies';

const request = (headers: Record<string, string>, protocol = 'http') =>
  ({ headers, protocol }) as unknown as FastifyRequest;

describe('SessionCookies', () => {
  const cookies = new SessionCookies(randomBytes(32), false);
  const sid = '6b1f0c1e-0000-4000-8000-000000000001';
  const issued = cookies.issue(request({}), 'tok.en.sig', sid, new Date(Date.now() + 3600_000));
  const csrf = issued[1].split(';')[0].slice(CSRF_COOKIE.length + 1);

  it('issues an HttpOnly session cookie and a readable CSRF cookie, Secure over TLS only', () => {
    expect(issued[0]).toMatch(
      /^junction_session=tok\.en\.sig; Path=\/; Max-Age=3[56]\d\d; HttpOnly; SameSite=Strict$/,
    );
    expect(issued[1]).toMatch(/^junction_csrf=[\w-]{43}; Path=\/; Max-Age=\d+; SameSite=Strict$/);
    const tls = cookies.issue(request({}, 'https'), 't', sid, new Date(Date.now() + 1000));
    expect(tls.every((c) => c.endsWith('; Secure'))).toBe(true);
    expect(new SessionCookies(randomBytes(32), true).clear(request({}))[0]).toMatch(
      /Max-Age=0.*; Secure$/,
    );
  });

  it('accepts the CSRF token only in both header and cookie, and only for its own session', () => {
    const ok = request({
      cookie: `${SESSION_COOKIE}=x; ${CSRF_COOKIE}=${csrf}`,
      'x-csrf-token': csrf,
    });
    expect(cookies.csrfValid(ok, sid)).toBe(true);
    expect(cookies.csrfValid(ok, '6b1f0c1e-0000-4000-8000-000000000002')).toBe(false);
    expect(cookies.csrfValid(ok, undefined)).toBe(false);
    // Every one-character change, a missing part, or another key's token is refused.
    for (let i = 0; i < csrf.length; i++) {
      const c = csrf[i] === 'A' ? 'B' : 'A';
      const bad = csrf.slice(0, i) + c + csrf.slice(i + 1);
      expect(
        cookies.csrfValid(request({ cookie: `${CSRF_COOKIE}=${bad}`, 'x-csrf-token': bad }), sid),
      ).toBe(false);
    }
    expect(cookies.csrfValid(request({ cookie: `${CSRF_COOKIE}=${csrf}` }), sid)).toBe(false);
    expect(cookies.csrfValid(request({ 'x-csrf-token': csrf }), sid)).toBe(false);
    const other = new SessionCookies(randomBytes(32), false);
    const foreign = other
      .issue(request({}), 't', sid, new Date(Date.now() + 1000))[1]
      .split(';')[0]
      .slice(CSRF_COOKIE.length + 1);
    expect(
      cookies.csrfValid(
        request({ cookie: `${CSRF_COOKIE}=${foreign}`, 'x-csrf-token': foreign }),
        sid,
      ),
    ).toBe(false);
  });
});

describe('consoleReturnPath', () => {
  it('keeps paths of this origin under /console', () => {
    for (const p of [
      '/console',
      '/console/',
      '/console/routes/a-b',
      '/console?x=1',
      '/console#top',
      '/console/routes?tab=v&x=%2F',
      '/console/routes/%2e%2eswap',
      '/console/routes/x/%2e%2e/y',
      '/console/routes/caf%C3%A9',
      '/console/routes/café',
    ])
      expect(consoleReturnPath(p)).toBe(p);
  });

  it('ignores everything else', () => {
    const bad = [
      undefined,
      42,
      '',
      'console',
      '/consoles',
      '/api/v1/users',
      'https://evil.example/console',
      '//evil.example/console',
      '/console//evil.example',
      '/console\\\\evil',
      '/console/../api',
      '/console/./x',
      // Dot segments as a browser reads them: '%2e' is a dot.
      '/console/%2e%2e/evil',
      '/console/%2E%2E',
      '/console/.%2e/api/v1/users',
      '/console/%2e./%2e%2e/x',
      '/console/x/%2e%2e/%2e%2e/api',
      // An encoded slash or backslash.
      '/console/%2f%2fevil.example',
      '/console/..%2fapi',
      '/console/%5c%5cevil',
      '/console/\u0000',
      '/console/\n',
      `/console/${'a'.repeat(3000)}`,
      'javascript:alert(1)',
    ];
    for (const p of bad) expect({ p, out: consoleReturnPath(p) }).toEqual({ p, out: undefined });
    // Generated: any scheme or host in front of /console is refused.
    for (const scheme of ['http:', 'https:', 'ftp:', 'data:', '']) {
      for (const host of ['evil.example', '127.0.0.1', 'a@b']) {
        expect(consoleReturnPath(`${scheme}//${host}/console`)).toBeUndefined();
      }
    }
  });
});
