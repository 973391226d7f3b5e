import { Inject, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { JunctionError } from '@junction/common';
import { containsPan, redactPanText } from '@junction/pipeline';
import { ApiKeyCache } from './api-key-cache';
import { ApiKeysRepository } from './api-keys.repository';
import { AUTH_EVENT_SINK, AUTH_OPTIONS, AuthEventSink, AuthOptions } from './auth.options';
import { IdentityProvider, UserEntity } from './entities/user.entity';
import { decoyHash, verifyPassword } from './password';
import { covers, Principal, Role } from './roles';
import { LoginThrottleService } from './login-throttle.service';
import { SessionsRepository } from './sessions.repository';
import { UsersRepository } from './users.repository';

export interface TokenClaims {
  sub: string;
  sid: string;
  prv: IdentityProvider;
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  principal: Principal;
}

const INVALID_LOGIN = 'invalid user name or password';

/**
 * Live sessions one user keeps by default: a sign-in beyond them ends the oldest. Enough for a
 * script that signs in on every run (the README's curl) within a session's 8 hours without
 * ending its user's console session; few enough that sign-ins cannot fill the table.
 */
export const MAX_LIVE_SESSIONS = 200;

/** Characters of a sign-in's User-Agent kept with its session (shown on the sessions screen). */
export const MAX_USER_AGENT_LENGTH = 512;

export function rolesOf(user: UserEntity): Role[] {
  return (user.grants ?? []).map((g) => g.role).sort();
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** `jk_<prefix>_<secret>`: the prefix finds the row, the whole key is checked against its hash. */
export function newApiKey(): { key: string; prefix: string } {
  const prefix = randomBytes(6).toString('hex');
  return { key: `jk_${prefix}_${randomBytes(24).toString('base64url')}`, prefix };
}

/**
 * What a directory or an identity provider says of a user is kept and shown back as it is (the
 * users and sessions screens, GET /auth/me, the audit trail). A local user's name, display name
 * or address holding a card number is refused when it is entered; these are not entered here and
 * cannot be refused, so a display name or address holding one is not kept (null), and a user
 * name holding one signs nobody in.
 */
function withoutCardNumbers<T extends { displayName: string | null; email: string | null }>(
  identity: T,
): T {
  return {
    ...identity,
    displayName: containsPan(identity.displayName) ? null : identity.displayName,
    email: containsPan(identity.email) ? null : identity.email,
  };
}

@Injectable()
export class AuthService {
  private readonly log = new Logger('Auth');

  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly apiKeys: ApiKeysRepository,
    private readonly keyCache: ApiKeyCache,
    private readonly jwt: JwtService,
    private readonly throttle: LoginThrottleService,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    @Inject(AUTH_EVENT_SINK) private readonly events: AuthEventSink,
  ) {}

  /** Local sign-in. Every failure looks the same to the caller, and takes as long. */
  async loginLocal(
    username: string,
    password: string,
    meta: { ip?: string; userAgent?: string },
  ): Promise<LoginResult> {
    if (!username || !password)
      return this.refuse(username, 'local', 'empty user name or password', meta.ip);
    // A NUL cannot be in Postgres text (so in no user name): an unknown user, not a failed query.
    const user =
      username.includes('\u0000') || /\p{Cs}/u.test(username)
        ? null
        : await this.users.findForLogin('local', username);
    const ok = await verifyPassword(user?.passwordHash ?? (await decoyHash()), password);
    if (!user || !ok)
      return this.refuse(username, 'local', user ? 'wrong password' : 'unknown user', meta.ip);
    if (user.disabled) return this.refuse(username, 'local', 'user disabled', meta.ip);
    return this.startSession(user, meta);
  }

  /**
   * Signs in a user that a directory or identity provider has authenticated: the user is
   * created or refreshed as that provider's, its role grants replaced by `roles` (so a group
   * change takes effect at the next sign-in), then a session starts. Refused alike (401, the
   * same message as any failed sign-in) when the user is disabled here or holds no role: a user
   * with no mapped group gets no account, and the gateway does not confirm to a caller that a
   * directory password was right. A known user who left its last group has its grants cleared
   * and its sessions ended at that attempt.
   */
  async signInExternal(
    provider: 'ldap' | 'oidc',
    identity: { username: string; displayName: string | null; email: string | null },
    roles: Role[],
    meta: { ip?: string; userAgent?: string },
  ): Promise<LoginResult> {
    if (containsPan(identity.username))
      return this.refuse(
        redactPanText(identity.username),
        provider,
        'the user name holds a card number',
        meta.ip,
      );
    identity = withoutCardNumbers(identity);
    if (roles.length === 0) {
      const known = await this.users.findForLogin(provider, identity.username);
      if (known && !known.disabled) {
        await this.users.upsertExternal(provider, identity.username, identity, []);
        await this.sessions.revokeAllOf(known.id);
      }
      return this.refuse(identity.username, provider, 'no group that maps to a role', meta.ip);
    }
    const user = await this.users.upsertExternal(provider, identity.username, identity, roles);
    if (user.disabled) return this.refuse(identity.username, provider, 'user disabled', meta.ip);
    return this.startSession(user, meta);
  }

  /**
   * Takes from a directory or provider user the roles it no longer grants, outside a sign-in (the
   * directory and provider checks): the user may never sign in again to have them refreshed, and
   * its sessions and API keys act with its grants. The roles it holds now are narrowed (a user
   * deleted or disabled meanwhile is left alone). A user left with none has its sessions ended
   * too, and the end of its credentials is audited. Roles the provider added wait for the next
   * sign-in. True when roles were withdrawn.
   */
  async withdrawExternal(user: UserEntity, roles: Role[], reason: string): Promise<boolean> {
    const narrowed = await this.users.narrowRoles(user.id, roles, user.provider);
    if (!narrowed || narrowed.after.length === narrowed.before.length) return false;
    if (narrowed.after.length > 0) return true;
    await this.sessions.revokeAllOf(user.id);
    await this.events.record({
      type: 'credentials.revoked',
      actor: 'system',
      user: user.username,
      userId: user.id,
      provider: user.provider,
      reason,
    });
    return true;
  }

  /**
   * The principal of a provider's bearer access token (no session): the user is created or its
   * roles refreshed only when they changed, so that a stream of API calls does not write.
   * Null when the user is disabled here or holds no role.
   */
  async principalFromProvider(
    provider: 'oidc',
    identity: { username: string; displayName: string | null; email: string | null },
    roles: Role[],
  ): Promise<Principal | null> {
    if (roles.length === 0 || containsPan(identity.username)) return null;
    identity = withoutCardNumbers(identity);
    let user = await this.users.findForLogin(provider, identity.username);
    const same = user && rolesOf(user).join(',') === [...new Set(roles)].sort().join(',');
    if (!user || (!same && !user.disabled))
      user = await this.users.upsertExternal(provider, identity.username, identity, roles);
    if (user.disabled) return null;
    return {
      kind: 'user',
      id: user.id,
      name: user.username,
      provider,
      roles: rolesOf(user),
    };
  }

  /** Opens a session for a user a provider has already authenticated (local, LDAP or OIDC). */
  async startSession(
    user: UserEntity,
    meta: { ip?: string; userAgent?: string },
  ): Promise<LoginResult> {
    const expiresAt = new Date(Date.now() + this.options.tokenTtlSeconds * 1000);
    const session = await this.sessions.create(
      {
        userId: user.id,
        provider: user.provider,
        expiresAt,
        ip: meta.ip,
        // Whoever signs in writes it, and GET /sessions shows it to admins: no card number, and
        // not the 16 KB a header may hold (redacted first, so a cut cannot hide a number's start).
        userAgent:
          meta.userAgent === undefined
            ? undefined
            : [...redactPanText(meta.userAgent)].slice(0, MAX_USER_AGENT_LENGTH).join(''),
      },
      this.options.maxSessionsPerUser ?? MAX_LIVE_SESSIONS,
    );
    await this.users.touchLogin(user.id);
    await this.throttle.succeeded(meta.ip, user.provider, user.username);
    const claims: TokenClaims = { sub: user.id, sid: session.id, prv: user.provider };
    const token = await this.jwt.signAsync(claims, { expiresIn: this.options.tokenTtlSeconds });
    await this.events.record({
      type: 'login.succeeded',
      actor: user.username,
      provider: user.provider,
      ip: meta.ip,
    });
    return { token, expiresAt, principal: this.principalOf(user, session.id, expiresAt) };
  }

  /** Called with a token's verified claims: the session must be live and the user enabled. */
  async principalFromClaims(claims: TokenClaims): Promise<Principal | null> {
    const session = await this.sessions.findLive(claims.sid);
    if (!session || session.userId !== claims.sub || session.expiresAt.getTime() <= Date.now())
      return null;
    const user = await this.users.findById(claims.sub);
    if (!user || user.disabled) return null;
    return this.principalOf(user, session.id, session.expiresAt);
  }

  /**
   * A key acts for its owner: it is refused once the owner is deleted or disabled (both also
   * revoke it), and it keeps only the roles its owner still covers, so a user whose roles are
   * reduced loses the same power in every key of theirs (and gets it back if they are restored).
   * A verified key is cached (ApiKeyCache): any such change clears it, in every gateway process
   * once the change commits (ApiKeyChanges); API_KEY_CACHE_TTL_MS bounds it while a process is
   * not listening.
   */
  async principalFromApiKey(key: string): Promise<Principal | null> {
    const match = /^jk_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$/.exec(key);
    if (!match) return null;
    const keyHash = hashApiKey(key);
    const cached = this.keyCache.get(keyHash);
    if (cached) return cached;
    const generation = this.keyCache.generation;
    const found = await this.apiKeys.findForUse(match[1]);
    if (!found) return null;
    const { key: row, owner } = found;
    if (row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) return null;
    const presented = Buffer.from(keyHash, 'hex');
    const stored = Buffer.from(row.keyHash, 'hex');
    if (presented.length !== stored.length || !timingSafeEqual(presented, stored)) return null;
    if (!owner || owner.disabled) return null;
    // Once per check against the database, so lastUsedAt is as fresh as the cache's bound.
    void this.apiKeys
      .touch(row.id)
      .catch((err: unknown) => this.log.warn(`could not record key use: ${String(err)}`));
    const principal: Principal = {
      kind: 'apiKey',
      id: row.id,
      name: row.name,
      provider: 'apiKey',
      roles: row.roles.filter((role) => covers(owner.roles, role)).sort(),
      ownerId: owner.id,
      ingestRoutes: row.ingestRoutes,
      ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}),
    };
    this.keyCache.set(keyHash, principal, generation);
    return principal;
  }

  async logout(principal: Principal): Promise<void> {
    if (principal.sessionId) await this.sessions.revoke(principal.sessionId);
  }

  /** Ends every live session of the caller's user; how many ended. */
  async logoutEverywhere(principal: Principal): Promise<number> {
    if (principal.kind !== 'user')
      throw new JunctionError(
        'FORBIDDEN',
        'an API key has no sessions to end: revoke the key instead (DELETE /api-keys/{id})',
      );
    return this.sessions.revokeAllOf(principal.id);
  }

  private principalOf(user: UserEntity, sessionId: string, expiresAt: Date): Principal {
    return {
      kind: 'user',
      id: user.id,
      name: user.username,
      provider: user.provider,
      roles: rolesOf(user),
      sessionId,
      expiresAt,
    };
  }

  /**
   * Records a refused sign-in and throws the one message every refusal has. `account`: whose
   * lockout budget the failure counts against, when not the name typed.
   */
  async refuse(
    actor: string,
    provider: string,
    reason: string,
    ip?: string,
    account: string = actor,
  ): Promise<never> {
    // An unreachable provider says nothing about the password: it does not count toward a lockout.
    if (!/unavailable/.test(reason))
      await this.throttle.failed(
        provider,
        account && !account.startsWith('(') ? account : undefined,
        ip,
      );
    await this.events.record({
      type: 'login.failed',
      actor: actor || '(empty)',
      provider,
      ip,
      reason,
    });
    throw new JunctionError('UNAUTHENTICATED', INVALID_LOGIN);
  }
}
