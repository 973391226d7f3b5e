import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiFoundResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiCreatedResponse,
  ApiOperation,
  ApiQuery,
  ApiSecurity,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { JunctionError } from '@junction/common';
import { ApiKeysService } from './api-keys.service';
import { CurrentPrincipal, Public, RequirePermission } from './auth.decorators';
import {
  ApiKeyDto,
  ChangePasswordDto,
  PasswordChangedDto,
  SessionsEndedDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  CreateUserDto,
  LoginDto,
  LoginResponseDto,
  MeDto,
  PrincipalDto,
  ProvidersDto,
  RevokedThroughDto,
  SessionDto,
  UpdateUserDto,
  UserDto,
} from './auth.dto';
import { AuthService, LoginResult } from './auth.service';
import { LdapSignInService } from './ldap-sign-in.service';
import { LoginThrottleGuard } from './login-throttle.guard';
import { OidcSignInService } from './oidc-sign-in.service';
import { AUTH_OPTIONS, AuthOptions } from './auth.options';
import { permissionsOf, Principal } from './roles';
import { SessionCookies } from './session-cookies';
import { SessionsService } from './sessions.service';
import { UsersService } from './users.service';

function publicPrincipal(p: Principal): PrincipalDto {
  return { kind: p.kind, id: p.id, name: p.name, provider: p.provider, roles: p.roles };
}

function loginResponse(result: LoginResult): LoginResponseDto {
  return {
    token: result.token,
    expiresAt: result.expiresAt.toISOString(),
    user: publicPrincipal(result.principal),
  };
}

/**
 * Where the console may send the browser after an OIDC sign-in: a path of this origin under
 * /console, nothing else (no scheme, no host, no `//`, no backslash or control character), so
 * that the sign-in cannot be made to redirect elsewhere. Anything else is ignored.
 */
export function consoleReturnPath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined;
  if (!/^\/console(?:[/?#]|$)/.test(value)) return undefined;
  if (value.includes('\\') || value.includes('//')) return undefined;
  if ([...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return undefined;
  const path = value.split(/[?#]/)[0];
  if (/(?:^|\/)\.\.?(?:[/?#]|$)/.test(path)) return undefined;
  // An encoded slash or backslash is no part of a console path, and a server may decode it.
  if (/%(?:2f|5c)/i.test(path)) return undefined;
  // Where a browser takes it: '%2e' is a dot there, so '/console/%2e%2e/api' leaves /console.
  const resolved = new URL(value, 'http://console.invalid');
  if (resolved.host !== 'console.invalid' || !/^\/console(?:\/|$)/.test(resolved.pathname))
    return undefined;
  return value;
}

function requestMeta(request: FastifyRequest): { ip?: string; userAgent?: string } {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly ldap: LdapSignInService,
    private readonly users: UsersService,
    private readonly cookies: SessionCookies,
    private readonly oidc: OidcSignInService,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
  ) {}

  @Post('login')
  @Public()
  @UseGuards(LoginThrottleGuard)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in; returns a session token',
    description:
      'With `provider: ldap` the directory checks the password and the mapped groups give the roles ' +
      '(refreshed at every sign-in). Every refusal has the same message. 429 with Retry-After when the address has ' +
      'too many failed sign-ins in the window, or the account is locked after failures in a row (the lock doubles each time). ' +
      'Besides the token, sets the browser session cookie `junction_session` (HttpOnly, SameSite=Strict, Path=/, ' +
      'Secure over TLS or with JUNCTION_COOKIE_SECURE) and the readable CSRF cookie `junction_csrf` (SameSite=Strict): ' +
      'a POST/PUT/PATCH/DELETE authenticated by the cookie must send its value in `X-CSRF-Token`.',
  })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiTooManyRequestsResponse({ description: 'Too many attempts; try again later.' })
  async login(
    @Body() body: LoginDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LoginResponseDto> {
    const meta = requestMeta(request);
    const result =
      body.provider === 'ldap'
        ? await this.ldap.login(body.username, body.password, meta)
        : await this.auth.loginLocal(body.username, body.password, meta);
    void reply.header('set-cookie', this.sessionCookies(request, result));
    void reply.header('cache-control', 'no-store');
    return loginResponse(result);
  }

  private sessionCookies(request: FastifyRequest, result: LoginResult): string[] {
    return this.cookies.issue(request, result.token, result.principal.sessionId!, result.expiresAt);
  }

  @Post('logout')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({
    summary: 'End this session',
    description: 'Its token and session cookie are refused from then on; both cookies are removed.',
  })
  @ApiNoContentResponse()
  async logout(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.auth.logout(principal);
    void reply.header('set-cookie', this.cookies.clear(request));
  }

  @Post('logout-everywhere')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'End every session of yours, this one included',
    description:
      'For a token or a device you no longer trust: every session of your user is refused from the next request on, ' +
      'whichever provider signed it in (local, LDAP or OIDC); both cookies are removed. Audited. 403 for API keys ' +
      '(they have no sessions: revoke the key).',
  })
  @ApiOkResponse({ type: SessionsEndedDto })
  async logoutEverywhere(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SessionsEndedDto> {
    const sessionsEnded = await this.auth.logoutEverywhere(principal);
    void reply.header('set-cookie', this.cookies.clear(request));
    return { sessionsEnded };
  }

  @Post('password')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Change your own password (local users)',
    description:
      'Needs the current password (a wrong one counts as a failed sign-in toward the lockout). The new one must ' +
      'pass the password policy. Every other session of yours ends; this one goes on. Audited. 400 for LDAP and OIDC users (their provider keeps the password), 403 for API keys.',
  })
  @ApiOkResponse({ type: PasswordChangedDto })
  @ApiTooManyRequestsResponse({ description: 'The account is locked after failed attempts.' })
  changePassword(
    @Body() body: ChangePasswordDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<PasswordChangedDto> {
    return this.users.changeOwnPassword(
      principal,
      body.currentPassword,
      body.newPassword,
      request.ip,
    );
  }

  @Get('me')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({
    summary: 'Who is calling, through which provider, with which roles and permissions',
    description:
      'The permissions are what the server allows this caller (from its roles), so that the console shows ' +
      'exactly that. 401 once the session has expired or ended.',
  })
  @ApiOkResponse({ type: MeDto })
  me(@CurrentPrincipal() principal: Principal): MeDto {
    return {
      ...publicPrincipal(principal),
      permissions: permissionsOf(principal.roles),
      ...(principal.expiresAt ? { expiresAt: principal.expiresAt.toISOString() } : {}),
    };
  }

  @Get('providers')
  @Public()
  @ApiOperation({ summary: 'Which sign-in providers are configured (for the sign-in screen)' })
  @ApiOkResponse({ type: ProvidersDto })
  providers(): ProvidersDto {
    return { local: true, ldap: this.options.ldap !== undefined, oidc: this.oidc.enabled };
  }
}

@ApiTags('users')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/users')
@RequirePermission('users.manage')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOperation({ summary: 'List users and their roles' })
  @ApiOkResponse({ type: UserDto, isArray: true })
  list(): Promise<UserDto[]> {
    return this.users.list();
  }

  @Post()
  @ApiOperation({ summary: 'Create a local user' })
  @ApiCreatedResponse({ type: UserDto })
  create(@Body() body: CreateUserDto, @CurrentPrincipal() actor: Principal): Promise<UserDto> {
    return this.users.create(body, actor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One user' })
  @ApiOkResponse({ type: UserDto })
  get(@Param('id', new ParseUUIDPipe()) id: string): Promise<UserDto> {
    return this.users.get(id);
  }

  @Patch(':id')
  @ApiOperation({
    summary:
      "Change roles, password or state; a new password or disabling ends the user's sessions",
  })
  @ApiOkResponse({ type: UserDto })
  update(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdateUserDto,
    @CurrentPrincipal() actor: Principal,
  ): Promise<UserDto> {
    // A call that changes nothing is a client's mistake (a body lost on the way), not a success.
    if (!body || Object.values(body).every((value) => value === undefined))
      throw new JunctionError(
        'BAD_REQUEST',
        'nothing to change: send one or more of password, roles, disabled, displayName, email',
      );
    return this.users.update(id, body, actor);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a user' })
  @ApiNoContentResponse()
  async remove(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() actor: Principal,
  ): Promise<void> {
    await this.users.delete(id, actor);
  }
}

@ApiTags('api-keys')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/api-keys')
@RequirePermission('apikeys.manage')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Get()
  @ApiOperation({ summary: 'List API keys (never the keys themselves)' })
  @ApiOkResponse({ type: ApiKeyDto, isArray: true })
  list(): Promise<ApiKeyDto[]> {
    return this.keys.list();
  }

  @Post()
  @ApiOperation({ summary: 'Create an API key; the key is in this answer only' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  create(
    @Body() body: CreateApiKeyDto,
    @CurrentPrincipal() actor: Principal,
  ): Promise<CreatedApiKeyDto> {
    return this.keys.create(body, actor);
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Revoke an API key',
    description:
      'With `cascade=true` (needs users.manage too), also revokes every key made through this one and disables every user made through it (ending their sessions and keys), and answers 200 with what it ended: for a key that leaked. Without it, 204.',
  })
  @ApiQuery({ name: 'cascade', required: false, enum: ['true', 'false'] })
  @ApiNoContentResponse()
  @ApiOkResponse({ type: RevokedThroughDto })
  async revoke(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query('cascade') cascade: string | undefined,
    @CurrentPrincipal() actor: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RevokedThroughDto | void> {
    if (cascade !== undefined && cascade !== 'true' && cascade !== 'false')
      throw new JunctionError('BAD_REQUEST', "cascade must be 'true' or 'false'");
    if (cascade === 'true') {
      reply.status(200);
      return this.keys.revokeWithAllMade(id, actor);
    }
    reply.status(204);
    await this.keys.revoke(id);
  }
}

@ApiTags('auth')
@Controller('api/v1/auth/oidc')
export class OidcController {
  constructor(
    private readonly oidc: OidcSignInService,
    private readonly cookies: SessionCookies,
  ) {}

  @Get('login')
  @Public()
  @ApiOperation({
    summary: 'Start OpenID Connect sign-in: redirects to the provider',
    description:
      'Authorization code flow with PKCE (S256), state and nonce. State, nonce and verifier travel in an ' +
      'encrypted, httpOnly, 10-minute cookie limited to /api/v1/auth/oidc. 404 when OIDC is not configured. ' +
      'With `returnTo` (a path of this origin under /console; anything else is ignored) the callback signs the ' +
      'browser in with the session cookies and redirects there.',
  })
  @ApiQuery({
    name: 'returnTo',
    required: false,
    type: String,
    example: '/console/routes',
    description: 'Where the browser goes after signing in; only paths under /console.',
  })
  @ApiFoundResponse({ description: "Redirect (302) to the provider's authorization endpoint." })
  async login(@Res() reply: FastifyReply, @Query('returnTo') returnTo?: string): Promise<void> {
    const { url, cookie } = await this.oidc.begin(consoleReturnPath(returnTo));
    await reply
      .status(302)
      .header('set-cookie', cookie)
      .header('cache-control', 'no-store')
      .header('location', url)
      .send();
  }

  @Get('callback')
  @Public()
  @UseGuards(LoginThrottleGuard)
  @ApiOperation({
    summary: 'Finish OpenID Connect sign-in; returns a session token',
    description:
      'Where the provider sends the browser back. Checks state, exchanges the code (with the PKCE verifier), ' +
      "verifies the ID token (signature and algorithm, issuer, audience, expiry, nonce) and maps the roles claim's " +
      'values to roles. Every refusal is a 401 with the same message. When the sign-in was started with ' +
      '`returnTo`, or the request accepts text/html (a browser), sets the session and CSRF cookies and redirects ' +
      '(302) to `returnTo` (default /console); API clients get the JSON answer.',
  })
  @ApiFoundResponse({ description: 'Browser sign-in: redirect (302) into the console.' })
  @ApiQuery({ name: 'code', required: false, type: String })
  @ApiQuery({ name: 'state', required: false, type: String })
  @ApiQuery({ name: 'iss', required: false, type: String })
  @ApiQuery({ name: 'error', required: false, type: String })
  @ApiOkResponse({ type: LoginResponseDto })
  async callback(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LoginResponseDto | undefined> {
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    // One attempt per cookie, whatever its outcome.
    const clear = this.oidc.cookie ? [this.oidc.cookie.clear()] : [];
    void reply.header('set-cookie', clear);
    void reply.header('cache-control', 'no-store');
    const result = await this.oidc.complete(query, request.headers.cookie, requestMeta(request));
    const browser = /\btext\/html\b/i.test(String(request.headers.accept ?? ''));
    const returnTo = consoleReturnPath(result.returnTo);
    if (returnTo !== undefined || browser) {
      void reply.header('set-cookie', [
        ...clear,
        ...this.cookies.issue(request, result.token, result.principal.sessionId!, result.expiresAt),
      ]);
      void reply.status(302).header('location', returnTo ?? '/console');
      return undefined;
    }
    return loginResponse(result);
  }
}

@ApiTags('sessions')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/sessions')
@RequirePermission('sessions.manage')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get()
  @ApiOperation({
    summary: 'Live sign-in sessions of every provider, newest first',
    description: "`current` marks the caller's own session (ending it signs the caller out).",
  })
  @ApiOkResponse({ type: SessionDto, isArray: true })
  async list(@CurrentPrincipal() principal: Principal): Promise<SessionDto[]> {
    return (await this.sessions.listLive()).map((s) => ({
      ...s,
      current: s.id === principal.sessionId,
    }));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'End a session: its token is refused from then on' })
  @ApiNoContentResponse()
  async revoke(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() actor: Principal,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    await this.sessions.revoke(id, actor, request.ip);
  }
}
