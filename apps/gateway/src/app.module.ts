import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AUTH_ENTITIES, AuthModule } from '@junction/auth';
import { derive } from '@junction/common';
import { REGISTRY_ENTITIES, RegistryModule } from '@junction/registry';
import { MIGRATIONS } from '../../../migrations';
import { CoreModule } from './core/core.module';
import { JunctionErrorFilter } from './core/error.filter';
import { HealthController } from './health/health.controller';
import { IngestController } from './ingest/ingest.controller';
import { IngestService } from './ingest/ingest.service';

export interface AppSettings {
  databaseUrl: string;
  masterKey: Buffer;
  tokenTtlSeconds: number;
  loginAttemptsPerMinute: number;
  expressionTimeoutMs: number;
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
          entities: [...REGISTRY_ENTITIES, ...AUTH_ENTITIES],
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
        AuthModule.forRoot({
          tokenKey: derive(settings.masterKey, 'junction/session-token'),
          tokenTtlSeconds: settings.tokenTtlSeconds,
          loginAttemptsPerMinute: settings.loginAttemptsPerMinute,
        }),
        RegistryModule,
      ],
      controllers: [HealthController, IngestController],
      providers: [IngestService, { provide: APP_FILTER, useClass: JunctionErrorFilter }],
    };
  }
}
