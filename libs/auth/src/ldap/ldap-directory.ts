import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, InvalidCredentialsError, ResultCodeError, type Entry } from 'ldapts';
import { escapeFilterValue, renderFilter } from './ldap-filter';

/** How the gateway reaches and searches the directory (from validated configuration). */
export interface LdapSettings {
  /** `ldap://host:port` or `ldaps://host:port`. */
  url: string;
  /** Service account that searches for users (and groups). */
  bindDn: string;
  bindPassword: string;
  /** Where users are searched (subtree). */
  userBase: string;
  /** Filter with `{username}`, e.g. `(uid={username})`; the value is RFC 4515-escaped. */
  userFilter: string;
  /** Attribute whose value becomes the gateway's user name (the directory's spelling). */
  usernameAttribute: string;
  /** `memberOf`: read the user's memberOf attribute; `search`: search groups. */
  groupMembership: 'memberOf' | 'search';
  /** For `search`: where groups are searched (subtree). */
  groupBase?: string;
  /** For `search`: filter with `{dn}` and/or `{username}`, e.g. `(member={dn})`. */
  groupFilter: string;
  /** PEM CA certificate(s) to trust for ldaps/StartTLS (else the system's). */
  ca?: Buffer;
  /** Upgrade an `ldap://` connection with StartTLS before any bind. */
  startTls: boolean;
  /** Time limit for connecting and for each operation. */
  timeoutMs: number;
}

export interface DirectoryUser {
  dn: string;
  username: string;
  displayName: string | null;
  email: string | null;
  /** Group DNs as the directory spells them. */
  groups: string[];
}

export type LdapAuthResult =
  | { ok: true; user: DirectoryUser }
  | {
      ok: false;
      reason: 'unknown user' | 'ambiguous user' | 'wrong password';
      /** The directory's own name of the user the password was tried for, when one was found. */
      account?: string;
    };

/** The directory could not be asked (down, TLS refused, service account refused). */
export class LdapUnavailableError extends Error {
  override readonly name = 'LdapUnavailableError';
}

function first(entry: Entry, attribute: string): string | null {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const value = key ? entry[key] : undefined;
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return null;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

function all(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const value = key ? entry[key] : undefined;
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((v) =>
    Buffer.isBuffer(v) ? v.toString('utf8') : String(v),
  );
}

/**
 * Password sign-in against an LDAP directory, in plain TypeScript over `ldapts`: bind as the
 * service account, find exactly one user with an escaped filter, bind as that user's DN with
 * the password, and read the user's groups. One connection per sign-in, closed at the end.
 */
export class LdapDirectory {
  constructor(private readonly settings: LdapSettings) {}

  /**
   * `beforeBind` is told the directory's own name of the user found (a filter may match several
   * spellings of one user: uid and mail, say), or undefined when none was, before the password is
   * tried, and may throw to stop there. It is called on every path, so that its cost does not tell
   * a known name from an unknown one.
   */
  async authenticate(
    username: string,
    password: string,
    beforeBind?: (account: string | undefined) => Promise<void>,
  ): Promise<LdapAuthResult> {
    // An empty password is an "unauthenticated bind" (RFC 4513), which some servers accept as
    // anonymous: never send one. The caller refuses it too; this is the last line.
    if (!username || !password) return { ok: false, reason: 'wrong password' };
    const client = await this.connect();
    try {
      await this.bindService(client);
      const found = await this.findUsers(
        client,
        renderFilter(this.settings.userFilter, { username }),
      );
      if (found.length !== 1) {
        // Same work as a real attempt, so that timing does not tell unknown users apart.
        await beforeBind?.(undefined);
        await this.bindUser(
          client,
          `cn=${randomBytes(12).toString('hex')},${this.settings.userBase}`,
          password,
        );
        return { ok: false, reason: found.length === 0 ? 'unknown user' : 'ambiguous user' };
      }
      const entry = found[0];
      const account = first(entry, this.settings.usernameAttribute) ?? username;
      await beforeBind?.(account);
      if (!(await this.bindUser(client, entry.dn, password)))
        return { ok: false, reason: 'wrong password', account };
      // Users may not be allowed to read groups: search them as the service account again.
      if (this.settings.groupMembership === 'search') await this.bindService(client);
      return { ok: true, user: await this.userOf(client, entry, username) };
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  /**
   * The users of these gateway user names (the directory's spelling, as sign-in stored them) as
   * the directory has them now, read as the service account on one connection: null for a name
   * the directory no longer has (or has twice), or whose entry no longer meets the user filter's
   * other conditions (a disabled account, say: the filter with `*` for the name, asked of the
   * entry itself). Throws LdapUnavailableError when it cannot tell.
   */
  async lookup(usernames: readonly string[]): Promise<Map<string, DirectoryUser | null>> {
    const result = new Map<string, DirectoryUser | null>();
    if (usernames.length === 0) return result;
    const client = await this.connect();
    try {
      await this.bindService(client);
      for (const username of usernames) {
        // By the attribute the name was read from: the sign-in filter may match another one.
        const found = await this.findUsers(
          client,
          `(${this.settings.usernameAttribute}=${escapeFilterValue(username)})`,
        );
        const still =
          found.length === 1 &&
          (
            await this.search(client, found[0].dn, {
              scope: 'base',
              filter: this.settings.userFilter.replace(/\{username\}/g, '*'),
              attributes: ['1.1'],
            })
          ).length === 1;
        result.set(username, still ? await this.userOf(client, found[0], username) : null);
      }
      return result;
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  private findUsers(client: Client, filter: string): Promise<Entry[]> {
    return this.search(client, this.settings.userBase, {
      filter,
      attributes: [
        this.settings.usernameAttribute,
        'cn',
        'displayName',
        'mail',
        ...(this.settings.groupMembership === 'memberOf' ? ['memberOf'] : []),
      ],
      sizeLimit: 2,
    });
  }

  /** A found entry as a user, with its groups (bound as the service account for `search`). */
  private async userOf(client: Client, entry: Entry, username: string): Promise<DirectoryUser> {
    const name = first(entry, this.settings.usernameAttribute) ?? username;
    let groups: string[];
    if (this.settings.groupMembership === 'memberOf') {
      groups = all(entry, 'memberOf');
    } else {
      const found = await this.search(client, this.settings.groupBase!, {
        filter: renderFilter(this.settings.groupFilter, { dn: entry.dn, username: name }),
        attributes: ['1.1'],
      });
      groups = found.map((g) => g.dn);
    }
    return {
      dn: entry.dn,
      username: name,
      displayName: first(entry, 'displayName') ?? first(entry, 'cn'),
      email: first(entry, 'mail'),
      groups,
    };
  }

  /** Connects (and upgrades with StartTLS when configured); throws LdapUnavailableError. */
  private async connect(): Promise<Client> {
    const { url, ca, startTls, timeoutMs } = this.settings;
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const tls: ConnectionOptions = {
      ...(ca ? { ca: [ca] } : {}),
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      host,
      // SNI carries host names only (RFC 6066); the certificate is still checked against `host`.
      ...(isIP(host) ? {} : { servername: host }),
    };
    const secure = url.toLowerCase().startsWith('ldaps:');
    // ldapts opens TLS right away whenever tlsOptions are given: only for ldaps.
    const client = new Client({
      url,
      timeout: timeoutMs,
      connectTimeout: timeoutMs,
      ...(secure ? { tlsOptions: tls } : {}),
    });
    if (startTls) {
      try {
        await client.startTLS(tls);
      } catch (err) {
        await client.unbind().catch(() => undefined);
        throw new LdapUnavailableError(`StartTLS with ${url} failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    return client;
  }

  private async bindService(client: Client): Promise<void> {
    try {
      await client.bind(this.settings.bindDn, this.settings.bindPassword);
    } catch (err) {
      // Never the password; the DN is configuration, not a secret.
      throw new LdapUnavailableError(
        `the service account ${this.settings.bindDn} could not bind to ${this.settings.url}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** True when the directory accepted the password; false when it refused the credentials. */
  private async bindUser(client: Client, dn: string, password: string): Promise<boolean> {
    try {
      await client.bind(dn, password);
      return true;
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return false;
      // Any other refusal of a user's bind (unwilling, locked, bad DN syntax) is still a refusal.
      if (err instanceof ResultCodeError) return false;
      throw new LdapUnavailableError(
        `binding a user at ${this.settings.url} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  private async search(
    client: Client,
    base: string,
    options: { filter: string; attributes: string[]; sizeLimit?: number; scope?: 'base' | 'sub' },
  ): Promise<Entry[]> {
    try {
      const result = await client.search(base, { scope: 'sub', derefAliases: 'never', ...options });
      return result.searchEntries;
    } catch (err) {
      // More than sizeLimit matches: the filter is ambiguous for this name.
      if (err instanceof ResultCodeError && err.code === 4) return [{ dn: '' }, { dn: '' }];
      throw new LdapUnavailableError(
        `searching ${base} at ${this.settings.url} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
}
