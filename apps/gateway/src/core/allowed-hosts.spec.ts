import { checkAllowedHost, hostName, HostPolicy } from './allowed-hosts';

describe('HostPolicy', () => {
  it('answers on a loopback listener to this machine, its addresses and named hosts only', () => {
    const policy = HostPolicy.forListener('127.0.0.1', undefined, ['sso-callback.example.com']);
    const allowed = [
      'localhost',
      'localhost:8080',
      'LOCALHOST.',
      'console.localhost:8080',
      '127.0.0.1:8080',
      '127.9.9.9',
      '[::1]:8080',
      '10.0.0.5',
      'sso-callback.example.com',
      undefined,
    ];
    const refused = [
      'rebind.attacker.example',
      'rebind.attacker.example:8080',
      '127.0.0.1.nip.io',
      'localhost.attacker.example',
      'example.com',
      'sso-callback.example.com.attacker.example',
      '2130706433x',
      '',
      ' ',
      'local host',
      'localhost:80:80',
      'localhost:abc',
      '[::1',
      '[::1]x',
    ];
    expect(allowed.filter((h) => !policy.allows(h))).toEqual([]);
    expect(refused.filter((h) => policy.allows(h))).toEqual([]);
  });

  it('answers to any name on another listener, unless told which', () => {
    expect(HostPolicy.forListener('0.0.0.0', undefined).allows('gateway.example')).toBe(true);
    expect(HostPolicy.forListener('::', undefined).allows('anything.example')).toBe(true);
    const told = HostPolicy.forListener('0.0.0.0', ['gateway.example', '*.corp.example']);
    expect(told.allows('gateway.example:443')).toBe(true);
    expect(told.allows('a.b.corp.example')).toBe(true);
    expect(told.allows('corp.example')).toBe(false);
    expect(told.allows('localhost')).toBe(false);
    expect(told.allows('10.0.0.5')).toBe(true);
    expect(HostPolicy.forListener('127.0.0.1', ['*']).allows('rebind.example')).toBe(true);
    // The OIDC redirect URI's host stays allowed with a list: the provider sends browsers there.
    const withSso = HostPolicy.forListener('0.0.0.0', ['gateway.corp'], ['sso-cb.corp']);
    expect(withSso.allows('sso-cb.corp')).toBe(true);
    expect(withSso.allows('other.corp')).toBe(false);
  });

  it('reads the host of a Host header', () => {
    expect(hostName('Example.COM:8080')).toBe('example.com');
    expect(hostName('[::1]:8080')).toBe('::1');
    expect(hostName('a:b:c')).toBeNull();
  });

  it('takes names, *.domain and * only in JUNCTION_ALLOWED_HOSTS', () => {
    for (const good of ['gateway.example', '*.example.com', '*', 'localhost'])
      expect(checkAllowedHost(good)).toBeNull();
    for (const bad of ['https://gateway.example', 'gateway.example:8080', 'a/b', '*example', '*.'])
      expect(checkAllowedHost(bad)).not.toBeNull();
  });
});
