import {
  BeforeApplicationShutdown,
  DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SecretBox } from '@junction/common';
import { PgListener } from '@junction/database';
import { ConnectorPool, EgressPolicy, IngestSources } from '@junction/connectors';
import { RouteResources } from '@junction/pipeline';
import {
  ConnectionsService,
  RegistryModule,
  ROUTE_CHANNEL,
  ROUTE_RESOURCES,
  ROUTE_RUNTIME_STATUS,
  RouteEventBus,
  RouteRuntimeStatus,
  RoutesService,
  SECRET_BOX,
} from '@junction/registry';
import { DeadLetterPreviewService } from './dead-letter-preview.service';
import { ConnectionTestController } from './connection-test.controller';
import { DeadLettersController } from './dead-letters.controller';
import { RUNTIME_OPTIONS, type RuntimeOptions } from './runtime-options';
import { DeadLettersRepository } from './dead-letters.repository';
import { DeadLettersService } from './dead-letters.service';
import { LogDestination } from './log.destination';
import {
  EVENT_AUDIT_SINK,
  EventAuditSink,
  MESSAGE_AUDIT_SINK,
  MESSAGE_OBSERVER,
  MessageAuditSink,
  MessageObserver,
  NO_AUDIT,
  observedSink,
} from './message-audit';
import { ReplayJobsController } from './replay-jobs.controller';
import { ReplayJobsRepository } from './replay-jobs.repository';
import { ReplayJobsService, SYSTEM_CLOCK } from './replay-jobs.service';
import { RouteStore } from './route-supervisor';
import { RouteSupervisor } from './route-supervisor';
import { SqlRouteStore } from './route-store';

export { RUNTIME_OPTIONS, type RuntimeOptions };

/** How long an API call waits for this process's runtime to apply its change (a broker may be slow to answer). */
export const APPLY_WAIT_MS = 3000;

/**
 * Applies the registry's route changes in this process: each refreshes its routes, and the
 * emitter (the API request) waits for that at most `waitMs`; a route whose broker is slow to
 * answer keeps starting in the background. Returns the function that stops following.
 */
export function followRouteEvents(
  events: RouteEventBus,
  supervisor: Pick<RouteSupervisor, 'refresh'>,
  waitMs = APPLY_WAIT_MS,
): () => void {
  const applied = async (id: string): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      supervisor.refresh(id),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
  };
  const offs = [
    events.on('route.changed', ({ routeId }) => applied(routeId), 'runtime'),
    events.on(
      'connection.changed',
      async ({ routeIds }) => void (await Promise.all(routeIds.map(applied))),
      'runtime',
    ),
  ];
  return () => offs.forEach((off) => off());
}

/** This process's live state of a route, as the registry's route views show it. */
function runtimeStatus(supervisor: RouteSupervisor): RouteRuntimeStatus {
  return {
    status: (id) => {
      const s = supervisor.status(id);
      return (
        s && {
          state: s.state,
          inFlight: s.inFlight,
          processed: s.processed,
          failed: s.failed,
          lastError: s.lastError,
          lastErrorSummary: s.lastErrorSummary ?? null,
          reason: s.reason ?? null,
          since: s.since ?? null,
        }
      );
    },
  };
}

/** Starts every route at boot, follows changes from every process, drains at shutdown. */
@Injectable()
export class RuntimeLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Runtime');
  private listener?: PgListener;
  private unfollow?: () => void;

  constructor(
    private readonly supervisor: RouteSupervisor,
    private readonly events: RouteEventBus,
    private readonly db: DataSource,
    private readonly replayJobs: ReplayJobsService,
    @Inject(RUNTIME_OPTIONS) private readonly options: RuntimeOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Route changes made through this process's API apply here before the API answers.
    this.unfollow = followRouteEvents(this.events, this.supervisor);
    const url = (this.db.options as { url?: string }).url!;
    this.listener = new PgListener(
      url,
      ROUTE_CHANNEL,
      (id) => {
        if (id) void this.supervisor.refresh(id);
      },
      () => this.supervisor.resync(),
      this.log,
    );
    await this.listener.start();
    await this.supervisor.start();
    this.replayJobs.start();
  }

  /** Stop intake, drain what is in flight, then close the broker clients (audit is flushed after). */
  async beforeApplicationShutdown(): Promise<void> {
    // A replay job in progress gives its lease back first: another process resumes it.
    await this.replayJobs.stop();
    this.unfollow?.();
    await this.listener?.stop();
    await this.supervisor.stop();
    // The spans of the messages just drained go out before the process ends.
    await this.options.tracing?.shutdown();
  }
}

@Module({})
export class RuntimeModule {
  static forRoot(options: RuntimeOptions): DynamicModule {
    return {
      module: RuntimeModule,
      // Global for ROUTE_RUNTIME_STATUS: the registry's route views read live state through it.
      global: true,
      imports: [RegistryModule],
      // Replay jobs first: their static paths must not be read as a dead letter's id.
      controllers: [ReplayJobsController, DeadLettersController, ConnectionTestController],
      providers: [
        { provide: RUNTIME_OPTIONS, useValue: options },
        // The ingest paths HTTP sources claim: the pool's http sources register, ingest looks up.
        { provide: IngestSources, useValue: new IngestSources() },
        {
          provide: DeadLettersRepository,
          inject: [DataSource, SECRET_BOX],
          useFactory: (db: DataSource, box: SecretBox) => new DeadLettersRepository(db, box),
        },
        {
          provide: RouteSupervisor,
          inject: [
            DataSource,
            ConnectionsService,
            ROUTE_RESOURCES,
            DeadLettersRepository,
            RUNTIME_OPTIONS,
            { token: MESSAGE_AUDIT_SINK, optional: true },
            { token: MESSAGE_OBSERVER, optional: true },
            IngestSources,
          ],
          useFactory: (
            db: DataSource,
            connections: ConnectionsService,
            resources: RouteResources,
            deadLetters: DeadLettersRepository,
            opts: RuntimeOptions,
            audit: MessageAuditSink | undefined,
            observer: MessageObserver | undefined,
            ingest: IngestSources,
          ) =>
            createSupervisor(
              new SqlRouteStore(db),
              connections,
              resources,
              deadLetters,
              opts,
              observer ? observedSink(audit ?? NO_AUDIT, observer) : (audit ?? NO_AUDIT),
              ingest,
            ),
        },
        {
          provide: DeadLettersService,
          inject: [DeadLettersRepository, RouteSupervisor],
          useFactory: (store: DeadLettersRepository, supervisor: RouteSupervisor) =>
            new DeadLettersService(store, supervisor),
        },
        {
          provide: DeadLetterPreviewService,
          inject: [DeadLettersRepository, RoutesService],
          useFactory: (store: DeadLettersRepository, routes: RoutesService) =>
            new DeadLetterPreviewService(store, routes),
        },
        {
          provide: ReplayJobsService,
          inject: [
            DataSource,
            DeadLettersService,
            RouteSupervisor,
            RUNTIME_OPTIONS,
            RoutesService,
            { token: EVENT_AUDIT_SINK, optional: true },
          ],
          useFactory: (
            db: DataSource,
            deadLetters: DeadLettersService,
            supervisor: RouteSupervisor,
            opts: RuntimeOptions,
            routes: RoutesService,
            audit: EventAuditSink | undefined,
          ) => {
            const log = new Logger('ReplayJobs');
            return new ReplayJobsService(
              new ReplayJobsRepository(db),
              deadLetters,
              supervisor,
              audit ?? { event: () => Promise.resolve() },
              {
                leaseMs: opts.replayJobs?.leaseMs ?? 30_000,
                pollMs: opts.replayJobs?.pollMs ?? 2_000,
                clock: opts.replayJobs?.clock ?? SYSTEM_CLOCK,
                guardVersion: (routeId, version) => routes.guardStoredVersion(routeId, version),
                activeVersion: (routeId) => routes.activeVersionAndActivations(routeId),
              },
              { warn: (m) => log.warn(m) },
            );
          },
        },
        {
          provide: ROUTE_RUNTIME_STATUS,
          inject: [RouteSupervisor],
          useFactory: runtimeStatus,
        },
        RuntimeLifecycle,
      ],
      exports: [RouteSupervisor, IngestSources, ROUTE_RUNTIME_STATUS, DeadLettersRepository],
    };
  }
}

function createSupervisor(
  store: RouteStore,
  connections: ConnectionsService,
  resources: RouteResources,
  deadLetters: DeadLettersRepository,
  options: RuntimeOptions,
  audit: MessageAuditSink,
  ingest: IngestSources,
): RouteSupervisor {
  const log = new Logger('Runtime');
  const connectorLog = new Logger('Connectors');
  const pool = new ConnectorPool({
    egress: options.egress ?? EgressPolicy.permissive(),
    http: { ingest, maxInFlight: options.maxInFlight },
    mqtt: { nodeName: options.nodeName, clientIdKey: options.mqttClientIdKey },
    ...(options.kafkaSessionTimeoutMs === undefined
      ? {}
      : { kafka: { sessionTimeout: options.kafkaSessionTimeoutMs } }),
    logger: {
      debug: (m: string) => connectorLog.debug(m),
      info: (m: string) => connectorLog.log(m),
      warn: (m: string) => connectorLog.warn(m),
      error: (m: string) => connectorLog.error(m),
    },
  });
  const logLine = new Logger('LogDestination');
  return new RouteSupervisor(store, {
    connectors: {
      source: (spec, connection, opts) => pool.source(spec, connection, opts),
      destination: (spec, connection, opts) => {
        if (spec.type === 'log')
          return new LogDestination(opts.routeId, spec.level ?? 'info', (level, line) =>
            level === 'debug' ? logLine.debug(line) : logLine.log(line),
          );
        if (!connection) throw new Error(`destination of type ${spec.type} has no connection`);
        return pool.destination(spec, connection);
      },
    },
    connection: async (name: string) => {
      const c = await connections.resolve(name);
      return { name: c.name, config: c.config, secrets: c.secrets };
    },
    resources,
    deadLetters,
    audit,
    log,
    connectionState: (name: string) =>
      // The newest client of that name (an edited connection's old one is being drained).
      pool
        .connectionStates()
        .filter((c) => c.connection === name)
        .pop(),
    connectionStates: () => pool.connectionStates(),
    jitter: options.jitter,
    tracing: options.tracing,
    maxHops: options.maxHops,
    closeConnectors: () => pool.close(),
    closingConnectors: () => pool.stillClosing(),
  });
}
