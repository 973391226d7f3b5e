import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
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
import { ApiKeysService } from './api-keys.service';
import { CurrentPrincipal, Public, RequirePermission } from './auth.decorators';
import {
  ApiKeyDto,
  ChangePasswordDto,
  PasswordChangedDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  CreateUserDto,
  LoginDto,
  LoginResponseDto,
  PrincipalDto,
  SessionDto,
  UpdateUserDto,
  UserDto,
} from './auth.dto';
import { AuthService, LoginResult } from './auth.service';
import { LdapSignInService } from './ldap-sign-in.service';
import { LoginThrottleGuard } from './login-throttle.guard';
import { OidcSignInService } from './oidc-sign-in.service';
import { Principal } from './roles';
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
      'too many failed sign-ins in the window, or the account is locked after failures in a row (the lock doubles each time).',
  })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiTooManyRequestsResponse({ description: 'Too many attempts; try again later.' })
  async login(@Body() body: LoginDto, @Req() request: FastifyRequest): Promise<LoginResponseDto> {
    const meta = requestMeta(request);
    const result =
      body.provider === 'ldap'
        ? await this.ldap.login(body.username, body.password, meta)
        : await this.auth.loginLocal(body.username, body.password, meta);
    return loginResponse(result);
  }

  @Post('logout')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({ summary: 'End this session' })
  @ApiNoContentResponse()
  async logout(@CurrentPrincipal() principal: Principal): Promise<void> {
    await this.auth.logout(principal);
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
  @ApiOperation({ summary: 'Who is calling, through which provider, with which roles' })
  @ApiOkResponse({ type: PrincipalDto })
  me(@CurrentPrincipal() principal: Principal): PrincipalDto {
    return publicPrincipal(principal);
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
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API key' })
  @ApiNoContentResponse()
  async revoke(@Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.keys.revoke(id);
  }
}

@ApiTags('auth')
@Controller('api/v1/auth/oidc')
export class OidcController {
  constructor(private readonly oidc: OidcSignInService) {}

  @Get('login')
  @Public()
  @ApiOperation({
    summary: 'Start OpenID Connect sign-in: redirects to the provider',
    description:
      'Authorization code flow with PKCE (S256), state and nonce. State, nonce and verifier travel in an ' +
      'encrypted, httpOnly, 10-minute cookie limited to /api/v1/auth/oidc. 404 when OIDC is not configured.',
  })
  @ApiFoundResponse({ description: "Redirect (302) to the provider's authorization endpoint." })
  async login(@Res() reply: FastifyReply): Promise<void> {
    const { url, cookie } = await this.oidc.begin();
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
      'values to roles. Every refusal is a 401 with the same message.',
  })
  @ApiQuery({ name: 'code', required: false, type: String })
  @ApiQuery({ name: 'state', required: false, type: String })
  @ApiQuery({ name: 'iss', required: false, type: String })
  @ApiQuery({ name: 'error', required: false, type: String })
  @ApiOkResponse({ type: LoginResponseDto })
  async callback(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LoginResponseDto> {
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    // One attempt per cookie, whatever its outcome.
    if (this.oidc.cookie) void reply.header('set-cookie', this.oidc.cookie.clear());
    void reply.header('cache-control', 'no-store');
    return loginResponse(
      await this.oidc.complete(query, request.headers.cookie, requestMeta(request)),
    );
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
  @ApiOperation({ summary: 'Live sign-in sessions of every provider, newest first' })
  @ApiOkResponse({ type: SessionDto, isArray: true })
  list(): Promise<SessionDto[]> {
    return this.sessions.listLive();
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
