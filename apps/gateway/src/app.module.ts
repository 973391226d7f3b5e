import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AnchorOptions, AuditModule } from '@junction/audit';
import {
  AUTH_ENTITIES,
  AuthModule,
  type AuthOptions,
  type LoginThrottleSettings,
} from '@junction/auth';
import { derive } from '@junction/common';
import { guardPoolConnections } from '@junction/database';
import { EgressPolicy } from '@junction/connectors';
import { REGISTRY_ENTITIES, RegistryModule } from '@junction/registry';
import { MessageTracing, ReplayClock, RUNTIME_ENTITIES, RuntimeModule } from '@junction/runtime';
import { MIGRATIONS } from '../../../migrations';
import { CoreModule } from './core/core.module';
import { JunctionErrorFilter } from './core/error.filter';
import { HealthController } from './health/health.controller';
import { Readiness } from './health/readiness';
import { IngestController } from './ingest/ingest.controller';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsModule } from './metrics/metrics.module';
import { IngestService } from './ingest/ingest.service';

export interface AppSettings {
  databaseUrl: string;
  masterKey: Buffer;
  tokenTtlSeconds: number;
  maxSessionsPerUser?: number;
  /** Sign-in limits per address and per account. */
  loginThrottle: LoginThrottleSettings;
  /** Anonymous 401s are audited as one event per address and this many ms. */
  auditDenialWindowMs?: number;
  /** A signed-in caller's denials written one by one per window; the rest counted. */
  auditDenialsPerCaller?: number;
  /** Console cookies always Secure (else only over TLS). */
  cookieSecure?: boolean;
  expressionTimeoutMs: number;
  /** LDAP and OIDC sign-in; each is off unless configured. */
  authProviders?: Pick<AuthOptions, 'ldap' | 'oidc'>;
  /** Where AMQP, Kafka and HTTP connections may go; checked at save time and at connect time. */
  egress?: EgressPolicy;
  /** Most messages one HTTP-fed route handles at once. */
  maxInFlight?: number;
  /** Kafka consumers: how long the brokers wait for a heartbeat before they move the partitions. */
  kafkaSessionTimeoutMs?: number;
  /** Routes of Junction a message may pass through before it is dead-lettered. */
  maxHops?: number;
  /** This process's stable name (MQTT client ids); default the host name. */
  nodeName?: string;
  /** Whole days of audit trail kept (older days are dropped); unset keeps everything. */
  auditRetentionDays?: number;
  /** False: audit exports answer 403 (default true). */
  auditExportEnabled?: boolean;
  /** False when the schema owner has run them already (the runtime role may not). Default true. */
  migrationsRun?: boolean;
  /** Signed anchors of the audit chain heads; unset: none. */
  auditAnchors?: AnchorOptions;
  /** The random part of retry backoffs; only tests set it (to know how long a retry waits). */
  retryJitter?: () => number;
  /** Dead-letter replay jobs: lease and poll (ms). */
  replayJobs?: { leaseMs: number; pollMs: number };
  /** The clock replay jobs' rate limit waits on; only tests set it. */
  replayClock?: ReplayClock;
  /** Message traces (default: trace context passed on, no spans). */
  tracing?: MessageTracing;
}

@Module({})
export class AppModule {
  static forRoot(settings: AppSettings): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            type: 'postgres',
            url: settings.databaseUrl,
            entities: [...REGISTRY_ENTITIES, ...AUTH_ENTITIES, ...RUNTIME_ENTITIES],
            migrations: MIGRATIONS,
            migrationsRun: settings.migrationsRun ?? true,
            migrationsTransactionMode: 'each',
            synchronize: false,
            // Off: a failed query's log line carries its parameters (hashes, documents). Our error filter logs what matters.
            logging: false,
            // One attempt: start-up has probed the database already (one clear line if it cannot).
            retryAttempts: 1,
            retryDelay: 1000,
            extra: { max: 10, application_name: 'junction' },
          }),
          // A backend terminated as its connection is handed out must not end the process.
          dataSourceFactory: async (options) =>
            guardPoolConnections(await new DataSource(options!).initialize()),
        }),
        CoreModule.forRoot({
          egress: settings.egress ?? EgressPolicy.permissive(),
          masterKey: settings.masterKey,
          expressionTimeoutMs: settings.expressionTimeoutMs,
        }),
        AuthModule.forRoot(
          {
            tokenKey: derive(settings.masterKey, 'junction/session-token'),
            tokenTtlSeconds: settings.tokenTtlSeconds,
            maxSessionsPerUser: settings.maxSessionsPerUser,
            loginThrottle: settings.loginThrottle,
            cookieSecure: settings.cookieSecure,
            ...settings.authProviders,
          },
          // Sign-ins, failed sign-ins and denied requests go to the audit trail.
          AuditModule.authEventSink(),
        ),
        // Global: MESSAGE_AUDIT_SINK for the runtime, and the admin-change interceptor.
        AuditModule.forRoot({
          databaseUrl: settings.databaseUrl,
          retentionDays: settings.auditRetentionDays,
          exportEnabled: settings.auditExportEnabled ?? true,
          anchors: settings.auditAnchors,
          denialWindowMs: settings.auditDenialWindowMs,
          denialsPerCaller: settings.auditDenialsPerCaller,
        }),
        RegistryModule,
        MetricsModule,
        RuntimeModule.forRoot({
          egress: settings.egress ?? EgressPolicy.permissive(),
          maxInFlight: settings.maxInFlight ?? 256,
          maxHops: settings.maxHops,
          kafkaSessionTimeoutMs: settings.kafkaSessionTimeoutMs,
          nodeName: settings.nodeName,
          mqttClientIdKey: derive(settings.masterKey, 'junction/mqtt-client-id'),
          jitter: settings.retryJitter,
          replayJobs: { ...settings.replayJobs, clock: settings.replayClock },
          tracing: settings.tracing,
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        IngestService,
        IngestController,
        Readiness,
        { provide: APP_FILTER, useClass: JunctionErrorFilter },
      ],
    };
  }
}
