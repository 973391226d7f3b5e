import { HostAllowlist, hostAndPort, targetUrl } from './http-target';

describe('targetUrl', () => {
  it('joins the base URL and the path', () => {
    expect(targetUrl('https://erp.example.com', '/orders').href).toBe(
      'https://erp.example.com/orders',
    );
    expect(targetUrl('https://erp.example.com/api/', '/orders?x=1').href).toBe(
      'https://erp.example.com/api/orders?x=1',
    );
    expect(targetUrl('https://erp.example.com/api', 'orders').href).toBe(
      'https://erp.example.com/api/orders',
    );
  });

  it.each(['//evil.example/x', '@evil.example/x', 'http://evil.example/x', '/..//evil.example'])(
    'keeps %s on the base host',
    (path) => {
      expect(targetUrl('https://erp.example.com', path).host).toBe('erp.example.com');
    },
  );

  it('drops the user info of the base URL', () => {
    const url = targetUrl('https://shop:pw@erp.example.com', '/orders');
    expect(url.username).toBe('');
    expect(url.password).toBe('');
  });

  it.each([
    ['ftp://erp.example.com', '/x'],
    ['https://erp.example.com', '/a b'],
    ['https://erp.example.com', '\\\\evil.example\\x'],
    ['not a url', '/x'],
  ])('refuses %s + %s', (base, path) => {
    expect(() => targetUrl(base, path)).toThrow();
  });
});

describe('HostAllowlist', () => {
  const list = new HostAllowlist([
    'ERP.example.com',
    'api.example.com:8443',
    '*.partners.example',
    '[::1]',
    ' ',
  ]);

  it.each([
    ['https://erp.example.com/x', true],
    ['http://erp.example.com:8080/x', true],
    ['https://api.example.com:8443/x', true],
    ['https://api.example.com/x', false],
    ['https://shop.partners.example/x', true],
    ['https://a.b.partners.example/x', true],
    ['https://partners.example/x', false],
    ['https://evilpartners.example/x', false],
    ['http://[::1]:3000/x', true],
    ['https://example.com/x', false],
    ['http://127.0.0.1/x', false],
  ])('%s -> %s', (url, allowed) => {
    expect(list.allows(new URL(url))).toBe(allowed);
  });

  it('allows nothing when empty', () => {
    expect(new HostAllowlist([]).allows(new URL('https://erp.example.com'))).toBe(false);
  });

  it('makes the default port explicit', () => {
    expect(hostAndPort(new URL('https://ERP.example.com/x'))).toBe('erp.example.com:443');
    expect(hostAndPort(new URL('http://erp.example.com:8080'))).toBe('erp.example.com:8080');
  });
});
