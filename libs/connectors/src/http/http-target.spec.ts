import { targetUrl } from './http-target';

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
