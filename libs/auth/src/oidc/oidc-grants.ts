import { Logger } from '@nestjs/common';
import { SecretBox } from '@junction/common';
import type { AuthService } from '../auth.service';
import { rolesOf } from '../auth.service';
import type { OidcAuthOptions } from '../auth.options';
import type { UserEntity } from '../entities/user.entity';
import { PROVIDER_CHECK_MS } from '../provider-check';
import type { Role } from '../roles';
import type { UsersRepository } from '../users.repository';
import {
  Claims,
  claimAt,
  rolesFromClaims,
  OidcGrantEndedError,
  OidcRefusedError,
  OidcRelyingParty,
  OidcUnavailableError,
} from './oidc-relying-party';

/** What is kept, sealed, of a user's grant at the provider. */
interface KeptGrant {
  /** The refresh token. */
  t: string;
  /** The subject it was issued for. */
  sub: string;
  /** It was (or is being) sent to the provider without a known answer: it may be spent. */
  doubt?: boolean;
}

/** What one user's check found out, when it found anything. */
interface Verdict {
  user: UserEntity;
  /** The roles the provider grants now ([] when it ended the grant). */
  roles: Role[];
  reason: string;
  /** The sealed grant as stored after the check. */
  sealed: string;
  ended: boolean;
}

/**
 * Above this share of the users asked in one run, withdrawals are held back: a provider's policy
 * (a sign-in frequency rule, a maximum offline session, a removed client role) or a changed group
 * claim ends or changes every grant at once, and would strip every OIDC user, admins included.
 */
const MASS_SHARE = 0.2;

const ENDED = 'the identity provider ended the grant (user removed or disabled, grant revoked)';

/**
 * The OIDC provider check (with `offline_access`): the refresh token of each sign-in is kept,
 * sealed and bound to its user; every PROVIDER_CHECK_MS the provider is asked with it whether the
 * grant still stands, and the roles it no longer grants are withdrawn.
 *
 * A rotated refresh token is spent once sent, so: one process asks about a user at a time (a
 * claim on the row, no lock held meanwhile); the kept token is marked in doubt before it is sent
 * and the new one kept before anything else is asked; and a token in doubt that the provider
 * refuses is dropped, withdrawing nothing. A provider that cannot be reached ends the run; any
 * other error changes nothing; a refreshed answer without the roles claim is no answer; and when
 * a run would withdraw roles from more than one user and over MASS_SHARE of those it asked, it
 * withdraws none and says so.
 */
export class OidcGrants {
  private readonly log = new Logger('OidcSignIn');
  private running?: Promise<number>;

  constructor(
    private readonly party: OidcRelyingParty,
    private readonly box: SecretBox,
    private readonly users: UsersRepository,
    private readonly auth: AuthService,
    private readonly options: OidcAuthOptions,
  ) {}

  /** At a sign-in: keeps its refresh token (none: forgets the last one). */
  async keep(userId: string, refreshToken: string | undefined, sub: unknown): Promise<void> {
    const sealed =
      refreshToken && typeof sub === 'string' ? this.seal(userId, { t: refreshToken, sub }) : null;
    await this.users.setProviderToken(userId, sealed);
  }

  /** One run of the check; none while the last one goes on. Returns how many users lost roles. */
  check(): Promise<number> {
    if (this.running) return Promise.resolve(0);
    this.running = this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Waits for a run in progress (at shutdown: its tokens must be kept). */
  async settled(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<number> {
    const holders = (await this.users.list()).filter(
      (u) => u.provider === 'oidc' && !u.disabled && rolesOf(u).length > 0,
    );
    const verdicts: Verdict[] = [];
    let asked = 0;
    for (const user of holders) {
      const sealed = await this.users.claimProviderCheck(user.id, PROVIDER_CHECK_MS);
      if (!sealed) continue;
      asked += 1;
      const verdict = await this.ask(user, sealed);
      if (verdict === 'unavailable') break;
      if (verdict) verdicts.push(verdict);
    }
    const losing = verdicts.filter((v) => !rolesOf(v.user).every((r) => v.roles.includes(r)));
    if (losing.length > 1 && losing.length > asked * MASS_SHARE) {
      this.log.warn(
        `the identity provider check would withdraw roles from ${losing.length} of the ${asked} users it asked at once (${verdicts.filter((v) => v.ended).length} grants ended): it withdrew none. A policy of the provider (sign-in frequency, a maximum offline session, the client's offline access) or a changed groups claim does this; disable leavers here by hand until it is mended`,
      );
      return 0;
    }
    let changed = 0;
    for (const v of losing) {
      // A sign-in since the check kept a newer grant: it has the last word.
      if (v.ended && !(await this.users.swapProviderToken(v.user.id, v.sealed, null))) continue;
      if (await this.auth.withdrawExternal(v.user, v.roles, v.ended ? ENDED : v.reason)) changed++;
    }
    return changed;
  }

  private async ask(
    user: UserEntity,
    sealed: string,
  ): Promise<Verdict | 'unavailable' | undefined> {
    let kept: KeptGrant;
    try {
      kept = this.box.openJson<KeptGrant>(sealed, this.context(user.id));
    } catch {
      this.log.warn('a kept refresh token did not open (master key changed?): it is dropped');
      await this.users.swapProviderToken(user.id, sealed, null);
      return undefined;
    }
    // In doubt from here until the provider's answer is kept.
    const doubtful = kept.doubt ? sealed : this.seal(user.id, { ...kept, doubt: true });
    if (doubtful !== sealed && !(await this.users.swapProviderToken(user.id, sealed, doubtful)))
      return undefined;
    let grant: Awaited<ReturnType<OidcRelyingParty['refreshGrant']>>;
    try {
      grant = await this.party.refreshGrant(kept.t);
    } catch (err) {
      if (err instanceof OidcGrantEndedError) {
        if (!kept.doubt) return { user, roles: [], reason: ENDED, sealed: doubtful, ended: true };
        this.log.warn(
          'the identity provider refused a refresh token whose last use had no known answer: it is dropped and no role withdrawn; the next sign-in keeps a new one',
        );
        await this.users.swapProviderToken(user.id, doubtful, null);
        return undefined;
      }
      if (err instanceof OidcUnavailableError) {
        this.log.warn(`the identity provider check stops until its next run: ${err.message}`);
        return 'unavailable';
      }
      if (err instanceof OidcRefusedError) {
        // Refused unspent (the client's login, say): as it was.
        if (doubtful !== sealed) await this.users.swapProviderToken(user.id, doubtful, sealed);
        this.log.warn(`the identity provider check of one user was refused: ${err.message}`);
        return undefined;
      }
      throw err;
    }
    const next = this.seal(user.id, { t: grant.refreshToken, sub: kept.sub });
    if (!(await this.users.swapProviderToken(user.id, doubtful, next))) return undefined;
    let claims: Claims;
    try {
      claims = await this.party.claimsWithRoles(grant.idClaims, grant.accessToken, kept.sub);
    } catch (err) {
      if (err instanceof OidcUnavailableError || err instanceof OidcRefusedError) {
        this.log.warn(`the identity provider check of one user got no claims: ${err.message}`);
        return undefined;
      }
      throw err;
    }
    if (typeof claims.sub === 'string' && claims.sub !== kept.sub) {
      this.log.warn(
        'the identity provider answered a refresh for another subject: the token is dropped and no role withdrawn',
      );
      await this.users.swapProviderToken(user.id, next, null);
      return undefined;
    }
    if (claimAt(claims, this.options.rolesClaim) === undefined) return undefined;
    const roles = rolesFromClaims(this.options, claims);
    return {
      user,
      roles,
      reason: 'left the mapped groups at the identity provider',
      sealed: next,
      ended: false,
    };
  }

  private seal(userId: string, grant: KeptGrant): string {
    return this.box.sealJson(grant, this.context(userId));
  }

  private context(userId: string): string {
    return `oidc-refresh:${userId}`;
  }
}
