import { DynamicModule, Logger, Module, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { ApiKeyCache } from './api-key-cache';
import { ApiKeyChanges } from './api-key-changes';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import {
  ApiKeysController,
  AuthController,
  OidcController,
  SessionsController,
  UsersController,
} from './auth.controller';
import { JunctionAuthGuard } from './auth.guard';
import { AUTH_EVENT_SINK, AUTH_OPTIONS, AuthEventSink, AuthOptions } from './auth.options';
import { AuthService } from './auth.service';
import { LdapSignInService } from './ldap-sign-in.service';
import { LoginThrottleGuard } from './login-throttle.guard';
import { LoginThrottleRepository } from './login-throttle.repository';
import { LoginThrottleService } from './login-throttle.service';
import { OidcSignInService } from './oidc-sign-in.service';
import { SessionsRepository } from './sessions.repository';
import { SessionsService } from './sessions.service';
import { SessionCookies } from './session-cookies';
import {
  ApiKeyStrategy,
  JwtStrategy,
  OidcBearerStrategy,
  SessionCookieStrategy,
} from './strategies';
import { derive } from '@junction/common';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

/** Until the audit trail is wired in, auth events go to the log (without secrets). */
class LogEventSink implements AuthEventSink {
  private readonly log = new Logger('AuthEvents');
  record(event: Parameters<AuthEventSink['record']>[0]): void {
    this.log.log(JSON.stringify(event));
  }
}

@Module({})
export class AuthModule {
  static forRoot(options: AuthOptions, eventSink?: Provider): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      imports: [
        PassportModule,
        JwtModule.register({
          secret: options.tokenKey,
          signOptions: { algorithm: 'HS256' },
          verifyOptions: { algorithms: ['HS256'] },
        }),
      ],
      controllers: [
        AuthController,
        OidcController,
        UsersController,
        ApiKeysController,
        SessionsController,
      ],
      providers: [
        { provide: AUTH_OPTIONS, useValue: options },
        { provide: ApiKeyCache, useValue: new ApiKeyCache() },
        ApiKeyChanges,
        eventSink ?? { provide: AUTH_EVENT_SINK, useClass: LogEventSink },
        UsersRepository,
        SessionsRepository,
        ApiKeysRepository,
        AuthService,
        UsersService,
        ApiKeysService,
        SessionsService,
        LdapSignInService,
        OidcSignInService,
        JwtStrategy,
        OidcBearerStrategy,
        ApiKeyStrategy,
        LoginThrottleRepository,
        LoginThrottleService,
        SessionCookieStrategy,
        {
          provide: SessionCookies,
          useValue: new SessionCookies(
            derive(options.tokenKey, 'junction/csrf'),
            options.cookieSecure ?? false,
          ),
        },
        LoginThrottleGuard,
        { provide: APP_GUARD, useClass: JunctionAuthGuard },
      ],
      exports: [AuthService, UsersService, ApiKeysService, AUTH_EVENT_SINK],
    };
  }
}
