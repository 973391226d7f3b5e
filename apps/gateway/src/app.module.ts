import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '@junction/audit';
import { AUTH_ENTITIES, AuthModule, type AuthOptions } from '@junction/auth';
import { derive } from '@junction/common';
import { REGISTRY_ENTITIES, RegistryModule } from '@junction/registry';
import { RUNTIME_ENTITIES, RuntimeModule } from '@junction/runtime';
import { MIGRATIONS } from '../../../migrations';
import { CoreModule } from './core/core.module';
import { JunctionErrorFilter } from './core/error.filter';
import { HealthController } from './health/health.controller';
import { IngestController } from './ingest/ingest.controller';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsModule } from './metrics/metrics.module';
import { IngestService } from './ingest/ingest.service';

export interface AppSettings {
  databaseUrl: string;
  masterKey: Buffer;
  tokenTtlSeconds: number;
  /** Console cookies always Secure (else only over TLS). */
  cookieSecure?: boolean;
  loginAttemptsPerMinute: number;
  expressionTimeoutMs: number;
  /** LDAP and OIDC sign-in; each is off unless configured. */
  authProviders?: Pick<AuthOptions, 'ldap' | 'oidc'>;
  /** Hosts HTTP destinations may call besides their connection's own host. */
  httpAllowHosts?: string[];
  /** False: a connection's own host is not allowed unless listed too. */
  httpAllowConnectionHosts?: boolean;
  /** Most messages one HTTP-fed route handles at once. */
  maxInFlight?: number;
  /** Whole days of audit trail kept (older days are dropped); unset keeps everything. */
  auditRetentionDays?: number;
}

@Module({})
export class AppModule {
  static forRoot(settings: AppSettings): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: settings.databaseUrl,
          entities: [...REGISTRY_ENTITIES, ...AUTH_ENTITIES, ...RUNTIME_ENTITIES],
          migrations: MIGRATIONS,
          migrationsRun: true,
          migrationsTransactionMode: 'each',
          synchronize: false,
          // Off: a failed query's log line carries its parameters (hashes, documents). Our error filter logs what matters.
          logging: false,
          extra: { max: 10, application_name: 'junction' },
        }),
        CoreModule.forRoot({
          masterKey: settings.masterKey,
          expressionTimeoutMs: settings.expressionTimeoutMs,
        }),
        AuthModule.forRoot(
          {
            tokenKey: derive(settings.masterKey, 'junction/session-token'),
            tokenTtlSeconds: settings.tokenTtlSeconds,
            cookieSecure: settings.cookieSecure,
            loginAttemptsPerMinute: settings.loginAttemptsPerMinute,
            ...settings.authProviders,
          },
          // Sign-ins, failed sign-ins and denied requests go to the audit trail.
          AuditModule.authEventSink(),
        ),
        // Global: MESSAGE_AUDIT_SINK for the runtime, and the admin-change interceptor.
        AuditModule.forRoot({
          databaseUrl: settings.databaseUrl,
          retentionDays: settings.auditRetentionDays,
        }),
        RegistryModule,
        MetricsModule,
        RuntimeModule.forRoot({
          httpAllowHosts: settings.httpAllowHosts ?? [],
          httpAllowConnectionHosts: settings.httpAllowConnectionHosts ?? true,
          maxInFlight: settings.maxInFlight ?? 256,
        }),
      ],
      controllers: [HealthController, IngestController, MetricsController],
      providers: [IngestService, { provide: APP_FILTER, useClass: JunctionErrorFilter }],
    };
  }
}
