import { Inject, Injectable, Logger } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import { AUTH_OPTIONS, AuthOptions } from './auth.options';
import { AuthService, LoginResult } from './auth.service';
import { LdapDirectory, LdapUnavailableError } from './ldap/ldap-directory';
import { isLoopbackUrl } from './loopback';

/** `POST /auth/login` with `provider: ldap`: the directory decides, the role mapping grants. */
@Injectable()
export class LdapSignInService {
  private readonly log = new Logger('LdapSignIn');
  private readonly directory?: LdapDirectory;

  constructor(
    private readonly auth: AuthService,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
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
    try {
      result = await this.directory.authenticate(username, password);
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
    if (!result.ok) return this.auth.refuse(username, 'ldap', result.reason, meta.ip);
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
