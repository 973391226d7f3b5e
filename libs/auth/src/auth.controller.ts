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
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiCreatedResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { JunctionError } from '@junction/common';
import { ApiKeysService } from './api-keys.service';
import { CurrentPrincipal, Public, RequirePermission } from './auth.decorators';
import {
  ApiKeyDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  CreateUserDto,
  LoginDto,
  LoginResponseDto,
  PrincipalDto,
  UpdateUserDto,
  UserDto,
} from './auth.dto';
import { AuthService } from './auth.service';
import { LoginThrottleGuard } from './login-throttle.guard';
import { Principal } from './roles';
import { UsersService } from './users.service';

function publicPrincipal(p: Principal): PrincipalDto {
  return { kind: p.kind, id: p.id, name: p.name, provider: p.provider, roles: p.roles };
}

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('login')
  @Public()
  @UseGuards(LoginThrottleGuard)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in; returns a session token',
    description: 'Rate limited per address and user name.',
  })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiTooManyRequestsResponse({ description: 'Too many attempts; try again later.' })
  async login(@Body() body: LoginDto, @Req() request: FastifyRequest): Promise<LoginResponseDto> {
    if ((body.provider ?? 'local') !== 'local') {
      throw new JunctionError(
        'BAD_REQUEST',
        `sign-in provider '${body.provider}' is not configured`,
      );
    }
    const result = await this.auth.loginLocal(body.username, body.password, {
      ip: request.ip,
      userAgent: request.headers['user-agent'],
    });
    return {
      token: result.token,
      expiresAt: result.expiresAt.toISOString(),
      user: publicPrincipal(result.principal),
    };
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
