import { isIP } from 'node:net';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import { usernameSkeleton } from './account-policy';
import {
  AUTH_EVENT_SINK,
  AUTH_OPTIONS,
  AuthEventSink,
  AuthOptions,
  LoginThrottleSettings,
} from './auth.options';
import { LoginThrottleRepository } from './login-throttle.repository';

/** The defaults the gateway's configuration starts from (README, "Accounts, sign-in and credentials"). */
export const DEFAULT_LOGIN_THROTTLE: LoginThrottleSettings = {
  windowSeconds: 600,
  sourceFailures: 20,
  accountFailures: 5,
  lockoutSeconds: 60,
  maxLockoutSeconds: 3600,
};

const PRUNE_EVERY_MS = 60_000;

/**
 * Sign-in limits that hold across gateway processes (the counters are rows in Postgres):
 *
 * - per source address (an IPv6 address's whole /64, see sourceOf): at most `sourceFailures`
 *   failed sign-ins in a `windowSeconds` window, whatever the user names (password spraying),
 *   then 429 until the window ends;
 * - per account (provider and user name's look-alike skeleton, so `Admin` and `аdmin` count
 *   against `admin`): `accountFailures` failures in a row lock it for `lockoutSeconds`, doubled at
 *   each further lockout up to `maxLockoutSeconds`; a success clears it.
 *
 * A refusal is a RATE_LIMITED error with Retry-After. Every attempt is charged to its source
 * before the password is checked, and given back when it succeeds, so that a burst of parallel
 * guesses cannot slip past the count.
 */
@Injectable()
export class LoginThrottleService {
  private readonly log = new Logger('LoginThrottle');
  private readonly settings: LoginThrottleSettings;
  private readonly now: () => number;
  private lastPrune = 0;

  constructor(
    private readonly counters: LoginThrottleRepository,
    @Inject(AUTH_OPTIONS) options: AuthOptions,
    @Inject(AUTH_EVENT_SINK) private readonly events: AuthEventSink,
  ) {
    this.settings = options.loginThrottle ?? DEFAULT_LOGIN_THROTTLE;
    this.now = options.clock ?? Date.now;
  }

  /** Before a sign-in is tried: throws RATE_LIMITED when the account or the source is held back. */
  async admit(
    ip: string | undefined,
    provider: string,
    username: string | undefined,
  ): Promise<void> {
    const now = this.now();
    if (username) await this.admitAccount(provider, username);
    const { count, windowStart } = await this.counters.charge(
      sourceKey(ip),
      new Date(now),
      this.windowMs,
    );
    if (count > this.settings.sourceFailures) {
      const until = windowStart.getTime() + this.windowMs;
      // One event per address and window, as it is first held back (not per refused attempt):
      // the auditor sees that it went on, and that whoever signs in from there is refused.
      // The refusal stands whether or not its event could be written (a 429, not a 500).
      if (count === this.settings.sourceFailures + 1) {
        try {
          await this.events.record({
            type: 'login.throttled',
            actor: '(anonymous)',
            provider,
            ip,
            until: new Date(until).toISOString(),
            failures: this.settings.sourceFailures,
          });
        } catch (err) {
          this.log.warn(`could not record login.throttled: ${(err as Error).message}`);
        }
      }
      throw limited('too many failed sign-ins from this address; try again later', until - now);
    }
  }

  /** Throws RATE_LIMITED when the account is locked (the source is not charged). */
  async admitAccount(provider: string, username: string): Promise<void> {
    const now = this.now();
    const account = await this.counters.read(accountKey(provider, username));
    if (account?.lockedUntil && account.lockedUntil.getTime() > now)
      throw limited(
        'too many failed sign-ins for this account; try again later',
        account.lockedUntil.getTime() - now,
      );
  }

  /** A refused sign-in (or current password): counts toward the account's lockout. */
  async failed(provider: string, username: string | undefined, ip?: string): Promise<void> {
    const now = this.now();
    if (username) {
      const lockedUntil = await this.counters.fail(accountKey(provider, username), new Date(now), {
        limit: this.settings.accountFailures,
        memoryMs: this.windowMs,
        baseMs: this.settings.lockoutSeconds * 1000,
        maxMs: this.settings.maxLockoutSeconds * 1000,
      });
      // One event per lockout (not per refused attempt): the auditor sees when and until when.
      if (lockedUntil)
        await this.events.record({
          type: 'account.locked',
          actor: username,
          provider,
          ip,
          until: lockedUntil.toISOString(),
        });
    }
    await this.pruneNow(now);
  }

  /** A sign-in that worked: its attempt is given back to the source and the account is cleared. */
  async succeeded(ip: string | undefined, provider: string, username: string): Promise<void> {
    await this.counters.refund(sourceKey(ip), new Date(this.now()), this.windowMs);
    await this.counters.clear(accountKey(provider, username));
  }

  private get windowMs(): number {
    return this.settings.windowSeconds * 1000;
  }

  private async pruneNow(now: number): Promise<void> {
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    // Longer than anything a row remembers (a window, the doubling of lockouts).
    const idle = Math.max(this.windowMs, this.settings.maxLockoutSeconds * 2000) * 2;
    await this.counters
      .prune(new Date(now - idle), new Date(now))
      .catch((err: unknown) => this.log.warn(`could not prune sign-in counters: ${String(err)}`));
  }
}

function sourceKey(ip: string | undefined): string {
  return `ip:${ip === undefined ? 'unknown' : sourceOf(ip)}`;
}

/**
 * What one source of sign-ins is: an IPv4 address, or an IPv6 address's /64 network. One host,
 * home or customer is given a whole /64 (2^64 addresses, RFC 6177), and can take any of them:
 * counted per address, it could spray passwords without end. An IPv4-mapped IPv6 address is its
 * IPv4 address.
 */
export function sourceOf(ip: string): string {
  const address = ip.split('%')[0].toLowerCase();
  if (isIP(address) !== 6) return ip;
  const groups = ipv6Groups(address);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail split). */
function ipv6Groups(address: string): number[] {
  const parts = (text: string): number[] =>
    text === ''
      ? []
      : text.split(':').flatMap((part) => {
          if (!part.includes('.')) return [parseInt(part, 16)];
          const [a, b, c, d] = part.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = address.indexOf('::');
  if (gap < 0) return parts(address);
  const head = parts(address.slice(0, gap));
  const tail = parts(address.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function accountKey(provider: string, username: string): string {
  // A directory compares names with insignificant spaces (RFC 4518): ' bob', 'bob ', 'bob\u00a0'
  // and 'bob  ' all sign in as bob there, so they count against one account here too. RFC 4518
  // also maps controls and invisible characters (soft hyphen, zero-width space, word joiner) to
  // nothing; a directory that follows it would sign 'b\u200bob' in as bob: so they go too.
  const name = username
    .normalize('NFKC')
    .replace(/[\p{Cc}\p{Default_Ignorable_Code_Point}]/gu, (c) => (/\s/u.test(c) ? ' ' : ''))
    .replace(/\s+/gu, ' ')
    .trim();
  // JSON-escaped: a typed name may hold anything (NUL, lone surrogates), which Postgres text cannot.
  return `account:${provider}:${JSON.stringify(usernameSkeleton(name)).slice(1, -1)}`;
}

function limited(message: string, waitMs: number): JunctionError {
  return new JunctionError('RATE_LIMITED', message, undefined, {
    retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
  });
}
