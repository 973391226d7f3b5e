import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import { AUTH_OPTIONS, AuthOptions } from './auth.options';
import { AuthService, LoginResult, rolesOf } from './auth.service';
import { LdapDirectory, LdapUnavailableError } from './ldap/ldap-directory';
import { LoginThrottleService } from './login-throttle.service';
import { isLoopbackUrl } from './loopback';
import { everyProviderCheck } from './provider-check';
import { UsersRepository } from './users.repository';

/**
 * `POST /auth/login` with `provider: ldap`: the directory decides, the role mapping grants. And
 * every few minutes (PROVIDER_CHECK_MS), the directory check: a user removed from the directory or from a
 * mapped group never signs in again to lose its roles, while its sessions and API keys would act
 * with them; the check withdraws them.
 */
@Injectable()
export class LdapSignInService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('LdapSignIn');
  private readonly directory?: LdapDirectory;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly auth: AuthService,
    private readonly users: UsersRepository,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly throttle: LoginThrottleService,
  ) {
    if (!options.ldap) return;
    this.directory = new LdapDirectory(options.ldap);
    const { url, startTls } = options.ldap;
    if (!url.toLowerCase().startsWith('ldaps:') && !startTls && !isLoopbackUrl(url))
      this.log.warn(
        'JUNCTION_LDAP_URL is ldap:// without JUNCTION_LDAP_STARTTLS: passwords cross the network in clear',
      );
  }

  get enabled(): boolean {
    return this.directory !== undefined;
  }

  onModuleInit(): void {
    if (!this.directory) return;
    this.timer = everyProviderCheck(this.log, 'directory', () => this.checkDirectory());
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * Asks the directory about every enabled LDAP user holding a role, and withdraws the roles it
   * no longer grants (all of them from a user it no longer has). Changes nothing when the
   * directory cannot be asked (throws). Returns how many users lost roles.
   */
  async checkDirectory(): Promise<number> {
    if (!this.directory || !this.options.ldap) return 0;
    const holders = (await this.users.list()).filter(
      (u) => u.provider === 'ldap' && !u.disabled && rolesOf(u).length > 0,
    );
    const now = await this.directory.lookup(holders.map((u) => u.username));
    let changed = 0;
    for (const user of holders) {
      const entry = now.get(user.username) ?? null;
      const roles = entry ? this.options.ldap.groupRoles.rolesFor(entry.groups) : [];
      if (rolesOf(user).every((role) => roles.includes(role))) continue;
      const withdrawn = await this.auth.withdrawExternal(
        user,
        roles,
        entry ? 'left the mapped groups in the directory' : 'gone from the directory',
      );
      if (withdrawn) changed += 1;
    }
    return changed;
  }

  async login(
    username: string,
    password: string,
    meta: { ip?: string; userAgent?: string },
  ): Promise<LoginResult> {
    if (!this.directory || !this.options.ldap)
      throw new JunctionError('BAD_REQUEST', `sign-in provider 'ldap' is not configured`);
    if (!username || !password)
      return this.auth.refuse(username, 'ldap', 'empty user name or password', meta.ip);
    let result: Awaited<ReturnType<LdapDirectory['authenticate']>>;
    // A user filter may match several spellings of one user (uid or mail, say): each would have
    // its own lockout budget, so a user the directory found is held to the budget of its own
    // name, whatever spelling found it. Every path reads one budget and charges one, so that the
    // work done does not tell a known name from an unknown one.
    try {
      result = await this.directory.authenticate(username, password, (account) =>
        this.throttle.admitAccount('ldap', account ?? username),
      );
    } catch (err) {
      if (!(err instanceof LdapUnavailableError)) throw err;
      this.log.warn(err.message);
      await this.auth
        .refuse(username, 'ldap', 'directory unavailable', meta.ip)
        .catch(() => undefined);
      throw new JunctionError(
        'UNAVAILABLE',
        'the directory cannot be reached; try again later',
        undefined,
        {
          cause: err,
        },
      );
    }
    if (!result.ok)
      return this.auth.refuse(username, 'ldap', result.reason, meta.ip, result.account);
    const { user } = result;
    const roles = this.options.ldap.groupRoles.rolesFor(user.groups);
    return this.auth.signInExternal(
      'ldap',
      { username: user.username, displayName: user.displayName, email: user.email },
      roles,
      meta,
    );
  }
}
