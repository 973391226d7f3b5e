import {
  DynamicModule,
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Provider,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ApiKeysService, AUTH_EVENT_SINK, UsersService } from '@junction/auth';
import { ConnectionsService, RegistryModule, RoutesService } from '@junction/registry';
import {
  DeadLettersRepository,
  EVENT_AUDIT_SINK,
  EventAuditSink,
  MESSAGE_AUDIT_SINK,
} from '@junction/runtime';
import { AdminAuditInterceptor, ServiceStateReader } from './admin-audit.interceptor';
import { AuditAuthEventSink } from './audit-auth-event.sink';
import { AuditTrail, AuditTrailOptions } from './audit-trail';
import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { SavedSearchesController } from './saved-searches.controller';
import { SavedSearchesRepository } from './saved-searches.repository';
import { SavedSearchesService } from './saved-searches.service';
import { StatsController } from './stats.controller';
import { ChainStatusController } from './chain-status.controller';
import { ChainStatusRepository } from './chain-status.repository';
import { ChainStatusService } from './chain-status.service';
import { StatsRepository } from './stats.repository';
import { StatsService } from './stats.service';
import { DenialAggregator } from './denial-aggregator';
import { PartitionMaintenance } from './partition-maintenance';
import { AnchorSigner } from './anchor-signer';
import { AnchorDirectory } from './anchors';
import { AmqpAnchorPublisher } from './anchor-publishers';
import { createPublicKey, KeyObject } from 'node:crypto';

/** Signed anchors of the chain heads: where they go, the key, how often. */
export interface AnchorOptions {
  dir: string;
  signingKey: KeyObject;
  /** How often the heads are signed (when they moved). */
  intervalMs: number;
  /** Also publish each anchor to this RabbitMQ queue (durable, persistent, confirmed). */
  amqp?: { url: string; queue: string };
}

export interface AuditModuleOptions extends Omit<AuditTrailOptions, 'databaseUrl' | 'log'> {
  /** Where the writer connects (as the gateway's database user, then SET ROLE). */
  databaseUrl: string;
  /** Days of partitions made ahead (default 7). */
  partitionsAheadDays?: number;
  /** Whole days kept; older day partitions are dropped. Unset: keep everything. */
  retentionDays?: number;
  /** How often partitions are made ahead and retention runs (default hourly). */
  maintenanceIntervalMs?: number;
  /** Sign and publish the chain heads; unset: no anchors (old rows are then proven by nothing outside the database). */
  anchors?: AnchorOptions;
  /** Anonymous 401s are written as one event per source address and window this long (default 10 s). */
  denialWindowMs?: number;
  /** A signed-in caller's denials written one by one per window (default 20); the rest counted. */
  denialsPerCaller?: number;
  /** False: GET /audit/export answers 403 (default true). */
  exportEnabled?: boolean;
}

import { AUDIT_OPTIONS } from './audit.options';
export { AUDIT_OPTIONS };

/**
 * Makes partitions ahead at start and then hourly (with retention), and flushes the writer at
 * shutdown: in onApplicationShutdown, which Nest calls after every beforeApplicationShutdown
 * hook, so after the route runtime has stopped intake and drained what was in flight.
 */
@Injectable()
export class AuditLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Audit');
  private timer?: NodeJS.Timeout;
  private anchorTimer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private readonly signer?: AnchorSigner;

  constructor(
    private readonly trail: AuditTrail,
    private readonly maintenance: PartitionMaintenance,
    private readonly denials: DenialAggregator,
    @Inject(AUDIT_OPTIONS) private readonly options: AuditModuleOptions,
    repo: AuditRepository,
  ) {
    this.signer = this.signerOn(repo);
  }

  private signerOn(repo: AuditRepository): AnchorSigner | undefined {
    const anchors = this.options.anchors;
    if (!anchors) return undefined;
    return new AnchorSigner(
      repo,
      new AnchorDirectory(anchors.dir),
      anchors.signingKey,
      this.log,
      undefined,
      anchors.amqp ? [new AmqpAnchorPublisher(anchors.amqp.url, anchors.amqp.queue)] : [],
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    this.denials.start();
    await this.maintain();
    this.timer = setInterval(
      () => void this.maintain(),
      this.options.maintenanceIntervalMs ?? 3_600_000,
    );
    this.timer.unref();
    if (this.signer && this.options.anchors) {
      this.anchorTimer = setInterval(() => void this.anchor(), this.options.anchors.intervalMs);
      this.anchorTimer.unref();
    }
  }

  /** Signs the heads now (errors are logged: a refusal names the changed record). */
  async anchor(): Promise<void> {
    await this.signer
      ?.anchorNow()
      .catch((err: unknown) => this.log.error(`audit anchor failed: ${(err as Error).message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.anchorTimer);
    await this.running?.catch(() => undefined);
    // The open windows' counts, before the writer closes.
    await this.denials.stop();
    const pending = this.trail.stats();
    if (pending.messages.pending + pending.events.pending > 0) {
      this.log.log(
        `flushing ${pending.messages.pending} message and ${pending.events.pending} event record(s)`,
      );
    }
    await this.trail.close();
    await this.anchorTail();
  }

  /**
   * Signs the records written since the last anchor, the drain's and the shutdown's own among
   * them, so that a stopped gateway's tail is not left unanchored until it starts again (or
   * forever). The application's DataSource is closed by now (global modules shut down first), so
   * a signer on a connection of its own goes on from where the anchor folder says.
   */
  private async anchorTail(): Promise<void> {
    if (!this.signer) return;
    // A periodic anchor still running writes its file first: the new signer goes on from it.
    await this.signer.settled();
    const db = new DataSource({
      type: 'postgres',
      url: this.options.databaseUrl,
      applicationName: 'junction-audit-anchor',
    });
    try {
      await db.initialize();
      await this.signerOn(new AuditRepository(db))?.anchorNow();
    } catch (err) {
      this.log.error(`audit anchor at shutdown failed: ${(err as Error).message}`);
    } finally {
      if (db.isInitialized) await db.destroy().catch(() => undefined);
    }
  }

  private async maintain(): Promise<void> {
    if (this.running) return;
    this.running = this.maintenance
      .run()
      .catch((err: unknown) =>
        this.log.warn(`partition maintenance failed (will try again): ${(err as Error).message}`),
      )
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
  }
}

/**
 * The audit trail in the gateway: the message sink the runtime records into (global, as
 * MESSAGE_AUDIT_SINK), the admin-change interceptor, the auditor API, partitions and retention.
 * Pass {@link AuditModule.authEventSink} to `AuthModule.forRoot` for sign-ins and denials.
 */
@Global()
@Module({})
export class AuditModule {
  static forRoot(options: AuditModuleOptions): DynamicModule {
    return {
      module: AuditModule,
      // The admin audit reads route and connection states through the registry's services.
      imports: [RegistryModule],
      controllers: [
        AuditController,
        StatsController,
        SavedSearchesController,
        ChainStatusController,
      ],
      providers: [
        { provide: AUDIT_OPTIONS, useValue: options },
        {
          provide: AuditTrail,
          useFactory: () => new AuditTrail({ ...options, log: new Logger('Audit') }),
        },
        {
          provide: DenialAggregator,
          inject: [AuditTrail],
          useFactory: (t: AuditTrail) => {
            const log = new Logger('Audit');
            return new DenialAggregator((event) => t.recordEvent(event), {
              windowMs: options.denialWindowMs ?? 10_000,
              individualPerWindow: options.denialsPerCaller,
              onError: (err) =>
                log.warn(`could not record denied requests yet: ${(err as Error).message}`),
            });
          },
        },
        {
          provide: MESSAGE_AUDIT_SINK,
          inject: [AuditTrail],
          useFactory: (t: AuditTrail) => t.messages,
        },
        {
          provide: EVENT_AUDIT_SINK,
          inject: [AuditTrail],
          useFactory: (t: AuditTrail): EventAuditSink => ({ event: (e) => t.recordEvent(e) }),
        },
        {
          provide: AuditRepository,
          inject: [DataSource],
          useFactory: (db: DataSource) => new AuditRepository(db),
        },
        {
          provide: AuditService,
          inject: [AuditRepository, { token: DeadLettersRepository, optional: true }],
          useFactory: (r: AuditRepository, deadLetters: DeadLettersRepository | undefined) =>
            new AuditService(
              r,
              options.anchors
                ? {
                    directory: new AnchorDirectory(options.anchors.dir),
                    publicKey: createPublicKey(options.anchors.signingKey),
                  }
                : undefined,
              deadLetters,
            ),
        },
        {
          provide: PartitionMaintenance,
          inject: [AuditTrail, AuditRepository],
          useFactory: (t: AuditTrail, r: AuditRepository) =>
            new PartitionMaintenance(
              t,
              r,
              { aheadDays: options.partitionsAheadDays ?? 7, retentionDays: options.retentionDays },
              new Logger('Audit'),
            ),
        },
        {
          provide: SavedSearchesService,
          inject: [DataSource],
          useFactory: (db: DataSource) => new SavedSearchesService(new SavedSearchesRepository(db)),
        },
        {
          provide: StatsService,
          inject: [DataSource],
          useFactory: (db: DataSource) =>
            new StatsService(new StatsRepository(db), new Logger('Stats')),
        },
        {
          provide: ChainStatusService,
          inject: [DataSource],
          useFactory: (db: DataSource) =>
            new ChainStatusService(
              new ChainStatusRepository(db),
              options.anchors && {
                dir: options.anchors.dir,
                publicKey: createPublicKey(options.anchors.signingKey),
                intervalMs: options.anchors.intervalMs,
              },
            ),
        },
        {
          provide: ServiceStateReader,
          inject: [
            RoutesService,
            ConnectionsService,
            { token: UsersService, optional: true },
            { token: ApiKeysService, optional: true },
          ],
          useFactory: (
            routes: RoutesService,
            connections: ConnectionsService,
            users: UsersService | undefined,
            apiKeys: ApiKeysService | undefined,
          ) => new ServiceStateReader({ routes, connections, users, apiKeys }),
        },
        AdminAuditInterceptor,
        { provide: APP_INTERCEPTOR, useExisting: AdminAuditInterceptor },
        AuditLifecycle,
      ],
      exports: [AuditTrail, MESSAGE_AUDIT_SINK, EVENT_AUDIT_SINK, AuditService, DenialAggregator],
    };
  }

  /** For `AuthModule.forRoot(options, AuditModule.authEventSink())`. */
  static authEventSink(): Provider {
    return {
      provide: AUTH_EVENT_SINK,
      inject: [AuditTrail, DenialAggregator],
      useFactory: (trail: AuditTrail, denials: DenialAggregator) =>
        new AuditAuthEventSink(trail, denials),
    };
  }
}
