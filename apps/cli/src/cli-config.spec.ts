import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  configPath,
  NotLoggedIn,
  normalizeUrl,
  readLogin,
  resolveConnection,
  writeLogin,
} from './cli-config';

describe('junction login file', () => {
  let home: string;
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'junction-cfg-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('lives in $XDG_CONFIG_HOME/junction, else ~/.config/junction (a relative XDG path is ignored)', () => {
    expect(configPath({ XDG_CONFIG_HOME: '/x/cfg', HOME: home })).toBe(
      '/x/cfg/junction/config.json',
    );
    expect(configPath({ HOME: home })).toBe(join(home, '.config', 'junction', 'config.json'));
    expect(configPath({ XDG_CONFIG_HOME: 'rel', HOME: home })).toBe(
      join(home, '.config', 'junction', 'config.json'),
    );
  });

  it('is written 0600 in a 0700 folder, also over a looser file that was there', () => {
    const env = { HOME: home };
    const path = configPath(env);
    mkdirSync(join(home, '.config', 'junction'), { recursive: true });
    writeFileSync(path, '{}');
    chmodSync(path, 0o644);
    writeLogin({ url: 'http://127.0.0.1:8080', token: 't' }, env);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readLogin(env)).toEqual({ url: 'http://127.0.0.1:8080', token: 't' });
    const fresh = { HOME: join(home, 'b') };
    writeLogin({ url: 'http://h:1', apiKey: 'k' }, fresh);
    expect(statSync(join(home, 'b', '.config', 'junction')).mode & 0o777).toBe(0o700);
  });

  it('environment credentials win over the file: API key, then token', () => {
    const env: NodeJS.ProcessEnv = { HOME: home };
    writeLogin({ url: 'http://127.0.0.1:8080/', token: 'stored' }, env);
    expect(resolveConnection(env)).toMatchObject({
      url: 'http://127.0.0.1:8080',
      credentials: { token: 'stored' },
    });
    expect(resolveConnection({ ...env, JUNCTION_TOKEN: 'tok' }).credentials).toEqual({
      token: 'tok',
    });
    expect(
      resolveConnection({ ...env, JUNCTION_TOKEN: 'tok', JUNCTION_API_KEY: 'key' }).credentials,
    ).toEqual({
      apiKey: 'key',
    });
    expect(
      resolveConnection({
        HOME: join(home, 'none'),
        JUNCTION_URL: 'https://gw.example',
        JUNCTION_API_KEY: 'k',
      }),
    ).toMatchObject({ url: 'https://gw.example', credentials: { apiKey: 'k' } });
  });

  it('never sends the stored credential to another gateway named by JUNCTION_URL', () => {
    const env: NodeJS.ProcessEnv = { HOME: home };
    writeLogin({ url: 'http://127.0.0.1:8080', apiKey: 'secret' }, env);
    for (const other of ['http://127.0.0.1:9090', 'https://127.0.0.1:8080', 'http://evil.example'])
      expect(() => resolveConnection({ ...env, JUNCTION_URL: other })).toThrow(NotLoggedIn);
    expect(
      resolveConnection({ ...env, JUNCTION_URL: 'http://127.0.0.1:8080/' }).credentials,
    ).toEqual({
      apiKey: 'secret',
    });
  });

  it('without any gateway it says how to log in', () => {
    expect(() => resolveConnection({ HOME: home })).toThrow(/junction login/);
  });

  it('refuses a gateway URL holding a user or password, and never shows it', () => {
    for (const url of [
      'http://user:SEKRET@127.0.0.1:1',
      'https://:SEKRET@gw.example/base',
      'http://SEKRET@gw.example',
      'http://user:SEKRET@[bad',
    ]) {
      expect(() => normalizeUrl(url)).toThrow(NotLoggedIn);
      expect(() => normalizeUrl(url)).not.toThrow(/SEKRET/);
      const env = { JUNCTION_URL: url, XDG_CONFIG_HOME: home };
      expect(() => resolveConnection(env)).toThrow(NotLoggedIn);
      expect(() => resolveConnection(env)).not.toThrow(/SEKRET/);
      expect(() => resolveConnection({ ...env, JUNCTION_API_KEY: 'k' })).not.toThrow(/SEKRET/);
    }
  });

  it('accepts only http(s) URLs', () => {
    expect(normalizeUrl('http://127.0.0.1:8080///')).toBe('http://127.0.0.1:8080');
    expect(normalizeUrl('https://gw.example/base/')).toBe('https://gw.example/base');
    for (const bad of ['ftp://x', 'file:///etc/passwd', '127.0.0.1:8080', 'not a url', ''])
      expect(() => normalizeUrl(bad)).toThrow(NotLoggedIn);
  });
});
