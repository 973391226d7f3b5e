import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What `junction login` keeps: where the gateway is and how to authenticate. */
export interface StoredLogin {
  url: string;
  /** A session token from POST /auth/login (expires). */
  token?: string;
  expiresAt?: string;
  /** An API key (does not expire until revoked). */
  apiKey?: string;
  /** Who the gateway said we are, for `junction login --status`. */
  user?: string;
}

/** The gateway and the credentials a command uses: environment first, then the login file. */
export interface Connection {
  url: string;
  credentials: { token: string } | { apiKey: string };
  /** Where the settings came from, for error messages. */
  from: string;
}

export class NotLoggedIn extends Error {}

/** `$XDG_CONFIG_HOME/junction/config.json`, else `~/.config/junction/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/')
      ? env.XDG_CONFIG_HOME
      : join(env.HOME || homedir(), '.config');
  return join(base, 'junction', 'config.json');
}

export function readLogin(env: NodeJS.ProcessEnv = process.env): StoredLogin | undefined {
  let text: string;
  try {
    text = readFileSync(configPath(env), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as StoredLogin;
  return typeof parsed?.url === 'string' ? parsed : undefined;
}

/**
 * Writes the login file readable by its owner only (0600, folder 0700): it holds a bearer
 * credential. The mode is set on an existing file too, in case it was created looser.
 */
export function writeLogin(login: StoredLogin, env: NodeJS.ProcessEnv = process.env): string {
  const path = configPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export function removeLogin(env: NodeJS.ProcessEnv = process.env): boolean {
  const path = configPath(env);
  try {
    rmSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** A URL as messages show it: without the user and password a careless one may hold. */
function shown(raw: string): string {
  return raw.replace(/\/\/[^/?#]*@/, '//');
}

/**
 * Strips a trailing slash and checks the scheme, so `${url}/api/v1` is always right. A user or
 * password in the URL is refused (never shown): the CLI signs in with `login`, an API key or a
 * token, and would only have printed it.
 */
export function normalizeUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new NotLoggedIn(`'${shown(raw)}' is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new NotLoggedIn(`'${shown(raw)}' must be an http:// or https:// URL`);
  if (url.username || url.password)
    throw new NotLoggedIn(
      `'${shown(raw)}' holds a user or password: give the gateway's URL alone, and sign in with \`junction login\`, JUNCTION_API_KEY or JUNCTION_TOKEN`,
    );
  return url.toString().replace(/\/+$/, '');
}

/**
 * JUNCTION_URL with JUNCTION_API_KEY or JUNCTION_TOKEN (CI), else the login file. An
 * environment credential without JUNCTION_URL uses the file's URL.
 */
export function resolveConnection(env: NodeJS.ProcessEnv = process.env): Connection {
  const stored = readLogin(env);
  const url = env.JUNCTION_URL || stored?.url;
  if (!url)
    throw new NotLoggedIn(
      'no gateway configured: run `junction login <url> ...` or set JUNCTION_URL and JUNCTION_API_KEY',
    );
  if (env.JUNCTION_API_KEY)
    return { url: normalizeUrl(url), credentials: { apiKey: env.JUNCTION_API_KEY }, from: 'env' };
  if (env.JUNCTION_TOKEN)
    return {
      url: normalizeUrl(url),
      credentials: { token: env.JUNCTION_TOKEN },
      from: 'env',
    };
  const from = configPath(env);
  // The stored credential belongs to the stored URL only: never send it to another gateway.
  if (stored && normalizeUrl(stored.url) === normalizeUrl(url)) {
    if (stored.apiKey)
      return { url: normalizeUrl(url), credentials: { apiKey: stored.apiKey }, from };
    if (stored.token) return { url: normalizeUrl(url), credentials: { token: stored.token }, from };
  }
  const gateway = normalizeUrl(url);
  throw new NotLoggedIn(
    `no credentials for ${gateway}: run \`junction login ${gateway} ...\` or set JUNCTION_API_KEY or JUNCTION_TOKEN`,
  );
}
