import 'reflect-metadata';
import { Logger, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import { isUtf8 } from 'node:buffer';
import { generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { join, resolve } from 'node:path';
import { UsersService } from '@junction/auth';
import { AnchorOptions, AuditTrail, loadSigningKey } from '@junction/audit';
import { ConfigError, JunctionError, packageInfo, parse } from '@junction/common';
import { EmbeddedPostgresServer, setUpEmbeddedRoles } from '@junction/database';
import {
  changedNumber,
  changedNumberText,
  invalidUtf8At,
  maxDepthExceeded,
  redactPanText,
} from '@junction/pipeline';
import {
  PROCESS_NAME,
  ROUTE_SOURCE_TEXT,
  RoutesService,
  RouteSourceText,
  takesRouteSource,
  YAML_CONTENT_TYPES,
} from '@junction/registry';
import { createMessageTracing, RouteSupervisor } from '@junction/runtime';
import { AppModule, type AppSettings } from './app.module';
import { GatewayConfig, loadGatewayConfig } from './config';
import { serveConsole } from './console/console-static';
import { prepareDatabase, urlRole } from './database-roles';
import { DEMO_ROUTE } from './demo-route';
import {
  createPinoLogger,
  logSettings,
  PinoLoggerService,
  requestIdFrom,
  runInRequestContext,
  setTraceId,
  type LogSettings,
} from './core/logging';
import { probeDatabase } from './database-probe';
import { forwardedFor } from './core/forwarded-for';
import { securityHeaders } from './core/security-headers';
import { allowedHosts } from './core/allowed-hosts';
import { Readiness } from './health/readiness';
import { IngestController } from './ingest/ingest.controller';
import { buildOpenApi, serveOpenApi } from './openapi/openapi';
import { stopOnSignals } from './shutdown';

export interface RunningGateway {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
  /** Longest a stop on SIGTERM or SIGINT may take (JUNCTION_SHUTDOWN_TIMEOUT_MS). */
  shutdownTimeoutMs: number;
}

const log = new Logger('Junction');

let logging: { settings: LogSettings; service: PinoLoggerService } | undefined;

/**
 * The process's logger (pino, see core/logging), made once from LOG_LEVEL (or JUNCTION_LOG),
 * LOG_FORMAT and NO_COLOR, and made Nest's: every `new Logger(...)` of every module writes
 * through it, redacted.
 */
export function setUpLogging(
  env: NodeJS.ProcessEnv = process.env,
  /** Where the lines go instead of stdout (tests that read what the gateway logs). */
  stream?: DestinationStream,
): {
  settings: LogSettings;
  service: PinoLoggerService;
} {
  if (!logging) {
    const settings = logSettings(env, process.stdout.isTTY === true);
    const service = new PinoLoggerService(createPinoLogger(settings, stream));
    Logger.overrideLogger(service);
    logging = { settings, service };
  }
  return logging;
}

/** The master key: from the environment, else (embedded default only) from the data folder, made on first start. */
function masterKey(config: GatewayConfig, embedded: boolean): Buffer {
  if (config.JUNCTION_MASTER_KEY) return config.JUNCTION_MASTER_KEY;
  if (!embedded) {
    throw new ConfigError([
      'JUNCTION_MASTER_KEY is required with DATABASE_URL (32 bytes as hex or base64; e.g. `openssl rand -hex 32`)',
    ]);
  }
  const file = join(resolve(config.JUNCTION_DATA_DIR), 'master.key');
  if (existsSync(file)) return parse.key32(readFileSync(file, 'utf8').trim());
  const key = randomBytes(32);
  mkdirSync(resolve(config.JUNCTION_DATA_DIR), { recursive: true });
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  log.log(
    `generated a master key in ${file}; back it up: secrets at rest cannot be read without it`,
  );
  return key;
}

/**
 * The key that signs the audit anchors: from the environment, else (embedded default only) from
 * the data folder, made on first start with its public half beside it for `junction audit verify`.
 */
function auditSigningKey(config: GatewayConfig, embedded: boolean): KeyObject | undefined {
  if (config.JUNCTION_AUDIT_SIGNING_KEY) return config.JUNCTION_AUDIT_SIGNING_KEY;
  if (!embedded) return undefined;
  const dir = resolve(config.JUNCTION_DATA_DIR);
  const file = join(dir, 'audit-signing.key');
  if (existsSync(file)) return loadSigningKey(file);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  chmodSync(file, 0o600);
  writeFileSync(join(dir, 'audit-signing.pub'), publicKey.export({ format: 'pem', type: 'spki' }), {
    mode: 0o644,
  });
  log.log(
    `generated the audit signing key in ${file} (public key: audit-signing.pub); keep a copy of the public key away from this host`,
  );
  return privateKey;
}

/** Said on stderr whatever the log level: these weaken what the audit trail proves. */
function warnLoudly(message: string): void {
  process.stderr.write(`WARNING: ${message}\n`);
}

/**
 * Deepest nesting of objects and arrays an API body may have. Class-transformer, class-validator,
 * ajv and the diff of route versions all recurse; 10,000 levels overflow the stack of each (a 500
 * and a lost request). Twice the 64 levels a message body may have (libs/pipeline), so that a
 * dry run of any message a route would take still fits, with room for a deep JSON Schema in a
 * route's validate stage.
 */
export const API_MAX_JSON_DEPTH = 128;

/**
 * A 400 for a request body that is not UTF-8 (JSON and YAML must be): read as text, each bad byte
 * would become U+FFFD and be stored so (a route's text, a sample).
 */
function notUtf8(body: Buffer): Error | undefined {
  if (isUtf8(body)) return undefined;
  return Object.assign(
    new Error(
      `the request body is not valid UTF-8 (byte ${invalidUtf8At(body).toString()}); send it as UTF-8`,
    ),
    { statusCode: 400 },
  );
}

/**
 * Ingest keeps the payload's bytes as sent (the audit hashes the original, and a payload that is
 * not JSON must reach the route to be dead-lettered, not be refused by the HTTP layer); every
 * other endpoint parses JSON as Fastify does by default.
 */
function rawIngestBodies(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  // Fastify's own text/plain parser would hand the API a string body (and ingest a re-encoded
  // copy of the bytes): text/plain goes to the catch-all below like any other type.
  fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (request.url.startsWith('/ingest/')) return done(null, body);
    // No body at all, labelled JSON (clients that send the header on every call, a DELETE from
    // curl -H): no body, as without the label. An endpoint that needs one says so.
    if ((body as Buffer).length === 0) return done(null, undefined);
    const notText = notUtf8(body as Buffer);
    if (notText) return done(notText, undefined);
    const text = (body as Buffer).toString('utf8');
    // A route document keeps the text it was sent as (stored with its version).
    if (takesRouteSource(request.method, request.url))
      (request as unknown as Record<symbol, string>)[ROUTE_SOURCE_TEXT] = text;
    parseJson(request, text, (err, value) => {
      // V8's message quotes a piece of the body, which may be part of a card number: say where.
      if (err) {
        const at = /at position (\d+)/.exec(err.message)?.[1];
        return done(
          Object.assign(
            new Error(`the request body is not valid JSON${at ? ` (at character ${at})` : ''}`),
            { statusCode: 400 },
          ),
          undefined,
        );
      }
      // Checked here, once, before any pipe or validator walks the body (iteratively: no stack).
      if (maxDepthExceeded(value, API_MAX_JSON_DEPTH)) {
        return done(
          Object.assign(
            new Error(`request body is nested deeper than ${API_MAX_JSON_DEPTH} levels`),
            { statusCode: 400 },
          ),
          undefined,
        );
      }
      // A number the parse changed (a 20-digit id, 1e400): refused as a message with it would
      // be, rather than stored, dry-run or compared changed.
      const changed = changedNumber(text);
      if (changed) {
        return done(
          Object.assign(new Error(changedNumberText('the request body', changed)), {
            statusCode: 400,
          }),
          undefined,
        );
      }
      done(null, value);
    });
  });
  // Route documents may come as YAML: kept as text here, parsed (with limits) by the registry.
  fastify.addContentTypeParser(YAML_CONTENT_TYPES, { parseAs: 'buffer' }, (request, body, done) => {
    if (request.url.startsWith('/ingest/')) return done(null, body);
    if (takesRouteSource(request.method, request.url)) {
      const notText = notUtf8(body as Buffer);
      if (notText) return done(notText, undefined);
      return done(null, new RouteSourceText((body as Buffer).toString('utf8')));
    }
    done(
      Object.assign(new Error('this endpoint takes application/json, not YAML'), {
        statusCode: 415,
      }),
      undefined,
    );
  });
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    if (request.url.startsWith('/ingest/')) return done(null, body);
    done(
      Object.assign(
        new Error(
          `unsupported content type ${redactPanText(request.headers['content-type'] ?? '(none)')}; send application/json`,
        ),
        { statusCode: 415 },
      ),
      undefined,
    );
  });
}

/** Longest path parameter the router takes (its default, 100, is shorter than a message id may be). */
const MAX_PARAM_LENGTH = 1024;

/**
 * Errors the router answers before any handler (a malformed %-escape, an over-long parameter),
 * in the API's error shape, and without quoting the URL back (it may hold anything).
 */
function routerError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const statusCode = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`
      : error.code === 'FST_ERR_BAD_URL'
        ? 'the URL is not valid (a malformed %-escape, or not UTF-8)'
        : 'the request cannot be routed';
  void reply
    .status(statusCode)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ statusCode, error: statusCode === 414 ? 'URI Too Long' : 'Bad Request', message });
}

/**
 * Every request gets an id (the caller's `X-Request-Id` when it is a plain token), answered in
 * `X-Request-Id` and carried by every log line written while it is handled (`reqId`).
 */
function requestIds(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const requests = new Logger('Http');
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    runInRequestContext({ requestId: request.id }, done);
  });
  const { pino } = setUpLogging().service;
  fastify.addHook('onResponse', (request, reply, done) => {
    // The line is built only when it is written: this runs for every request.
    if (pino.isLevelEnabled('debug'))
      requests.debug({
        msg: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} ${reply.statusCode}`,
        method: request.method,
        path: request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        reqId: request.id,
      });
    done();
  });
}

/** Builds the app on a database (tests call this with their own database). */
export async function createGateway(
  config: GatewayConfig,
  databaseUrl: string,
  key: Buffer,
  extras: { migrationsRun?: boolean; anchors?: AnchorOptions } & Pick<
    AppSettings,
    'retryJitter' | 'replayClock'
  > = {},
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({
      databaseUrl,
      masterKey: key,
      tokenTtlSeconds: config.JUNCTION_TOKEN_TTL_SECONDS,
      maxSessionsPerUser: config.JUNCTION_MAX_SESSIONS_PER_USER,
      loginThrottle: {
        windowSeconds: config.JUNCTION_LOGIN_WINDOW_SECONDS,
        sourceFailures: config.JUNCTION_LOGIN_SOURCE_FAILURES,
        accountFailures: config.JUNCTION_LOGIN_ACCOUNT_FAILURES,
        lockoutSeconds: config.JUNCTION_LOGIN_LOCKOUT_SECONDS,
        maxLockoutSeconds: config.JUNCTION_LOGIN_LOCKOUT_MAX_SECONDS,
      },
      auditDenialWindowMs: config.JUNCTION_AUDIT_DENIAL_WINDOW_SECONDS * 1000,
      auditDenialsPerCaller: config.JUNCTION_AUDIT_DENIALS_PER_CALLER,
      cookieSecure: config.JUNCTION_COOKIE_SECURE,
      expressionTimeoutMs: config.JUNCTION_EXPRESSION_TIMEOUT_MS,
      authProviders: config.auth,
      egress: config.egress,
      maxInFlight: config.JUNCTION_ROUTE_MAX_IN_FLIGHT,
      maxHops: config.JUNCTION_MAX_HOPS,
      kafkaSessionTimeoutMs: config.JUNCTION_KAFKA_SESSION_TIMEOUT_MS,
      nodeName: config.JUNCTION_NODE_NAME,
      auditRetentionDays: config.JUNCTION_AUDIT_RETENTION_DAYS,
      auditExportEnabled: config.JUNCTION_AUDIT_EXPORT_ENABLED,
      migrationsRun: extras.migrationsRun ?? true,
      auditAnchors: extras.anchors,
      retryJitter: extras.retryJitter,
      replayJobs: {
        leaseMs: config.JUNCTION_REPLAY_JOB_LEASE_MS,
        pollMs: config.JUNCTION_REPLAY_JOB_POLL_MS,
      },
      replayClock: extras.replayClock,
      tracing: await createMessageTracing({
        env: process.env,
        processName: PROCESS_NAME,
        onTraceId: setTraceId,
        log: new Logger('Tracing'),
      }),
    }),
    new FastifyAdapter({
      bodyLimit: config.JUNCTION_BODY_LIMIT_BYTES,
      // Fastify's default is no limit: a client sending a body a byte a minute, on many
      // connections, held each one and what it had sent for ever. Given to the server as it is
      // made, too: Node 20 applies a limit set later (as Fastify does) to the headers only.
      // Node checks every `connectionsCheckingInterval` (30 s by default): a quarter of it here.
      requestTimeout: config.JUNCTION_REQUEST_TIMEOUT_MS,
      http: {
        requestTimeout: config.JUNCTION_REQUEST_TIMEOUT_MS,
        connectionsCheckingInterval: Math.min(
          30_000,
          Math.max(250, Math.floor(config.JUNCTION_REQUEST_TIMEOUT_MS / 4)),
        ),
      },
      // X-Forwarded-For and -Proto only from the proxies named (the client's address is what the
      // sign-in limits count): by default nobody's, since any caller can send them.
      trustProxy: config.JUNCTION_TRUSTED_PROXIES ?? false,
      // A message id (an Idempotency-Key, up to 200 characters) must fit in GET /audit/messages/{id}.
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      frameworkErrors: routerError,
      genReqId: (request: { headers: IncomingHttpHeaders }) =>
        requestIdFrom(request.headers['x-request-id']),
    }),
    // Body parsers are ours (rawIngestBodies): Nest's own would parse ingest payloads too.
    { logger: setUpLogging().service, bodyParser: false },
  );
  requestIds(app);
  if (config.JUNCTION_TRUSTED_PROXIES) forwardedFor(app.getHttpAdapter().getInstance());
  securityHeaders(app.getHttpAdapter().getInstance(), config.JUNCTION_HSTS_MAX_AGE);
  allowedHosts(app.getHttpAdapter().getInstance(), config.hosts);
  rawIngestBodies(app);
  app.get(IngestController).mount(app.getHttpAdapter().getInstance());
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
    }),
  );
  serveOpenApi(app, buildOpenApi(app, packageInfo().version));
  serveConsole(app, {
    name: config.JUNCTION_ENV_NAME,
    color: config.JUNCTION_ENV_COLOR,
    auditExport: config.JUNCTION_AUDIT_EXPORT_ENABLED,
  });
  return app;
}

export interface StartOptions {
  /**
   * A lost admin password (`--reset-admin-password`, a command-line flag and not a setting, so
   * that it cannot be left on): the admin gets a new password at this start.
   */
  resetAdminPassword?: boolean;
}

/**
 * First start: an admin (password from the environment, else generated and printed once) and,
 * on the embedded database only, the demo route; or, with `resetAdminPassword`, a new password
 * for the admin. Returns the password to print, what became of the demo route, and the audit
 * record to write once the password is printed (so that an audit outage cannot make a password
 * that is never shown).
 */
async function firstStart(
  app: NestFastifyApplication,
  config: GatewayConfig,
  options: StartOptions,
  embedded: boolean,
): Promise<{ password?: string; demo?: 'seeded' | 'not-embedded'; audit?: () => Promise<void> }> {
  const password = config.JUNCTION_ADMIN_PASSWORD ?? randomBytes(12).toString('base64url');
  const shown = config.JUNCTION_ADMIN_PASSWORD ? '(from JUNCTION_ADMIN_PASSWORD)' : password;
  const users = app.get(UsersService);
  const username = config.JUNCTION_ADMIN_USER;
  const audit = (type: string, id: string, details: Record<string, unknown>) => () =>
    app.get(AuditTrail).recordEvent({
      type,
      outcome: 'success',
      actor: 'system',
      actorKind: 'system',
      target: { type: 'user', id },
      details: { username, ...details },
    });
  // Only a password of the environment can be weak; it is checked where it is used (a first
  // start, a reset), so a value left set after the first start does not stop later ones. So is
  // the name (JUNCTION_ADMIN_USER) of an admin made then.
  const named = <T>(made: Promise<T>): Promise<T> =>
    made.catch((err: unknown) => {
      if (err instanceof JunctionError && err.code === 'BAD_REQUEST')
        throw new ConfigError([
          err.message.startsWith('JUNCTION_ADMIN_USER: ')
            ? err.message
            : `JUNCTION_ADMIN_PASSWORD: ${err.message}`,
        ]);
      throw err;
    });
  if (options.resetAdminPassword) {
    const { id, created } = await named(users.resetAdmin(username, password));
    log.warn(`the password of ${username} was reset at start-up; its sessions have ended`);
    return {
      password: shown,
      audit: audit(created ? 'user.created' : 'user.password-reset', id, {
        roles: ['admin'],
        reason: '--reset-admin-password at start-up',
      }),
    };
  }
  const id = await named(users.ensureAdmin(username, password));
  if (!id) return {};
  const record = audit('user.created', id, { roles: ['admin'], reason: 'first start' });
  if (!config.JUNCTION_SEED_DEMO) return { password: shown, audit: record };
  // The demo route takes anyone's POST (auth: none): a try-out on a laptop, never a surprise on a
  // shared database.
  if (!embedded) return { password: shown, demo: 'not-embedded', audit: record };
  try {
    await app.get(RoutesService).create(DEMO_ROUTE, 'system', 'demo route seeded on first start');
  } catch (err) {
    log.warn(`could not seed the demo route: ${(err as Error).message}`);
    return { password: shown, audit: record };
  }
  return { password: shown, demo: 'seeded', audit: record };
}

export async function bootstrap(
  env: NodeJS.ProcessEnv = process.env,
  options: StartOptions = {},
): Promise<RunningGateway> {
  const config = loadGatewayConfig(env);
  let embedded: EmbeddedPostgresServer | undefined;
  let databaseUrl = config.DATABASE_URL;
  let ownerUrl: string | undefined = config.JUNCTION_MIGRATION_DATABASE_URL;
  if (!databaseUrl) {
    // The embedded server runs as an unprivileged user when we are root: it must be able to enter the folder.
    mkdirSync(resolve(config.JUNCTION_DATA_DIR), { recursive: true, mode: 0o755 });
    embedded = await EmbeddedPostgresServer.start({
      dataDir: join(resolve(config.JUNCTION_DATA_DIR), 'postgres'),
      port: config.JUNCTION_EMBEDDED_PG_PORT,
      log: (line) => log.debug(line),
    });
    try {
      const roles = await setUpEmbeddedRoles(embedded.url);
      databaseUrl = roles.runtimeUrl;
      ownerUrl = roles.ownerUrl;
    } catch (err) {
      await embedded.stop().catch(() => undefined);
      throw err;
    }
    log.log(
      `embedded PostgreSQL in ${join(resolve(config.JUNCTION_DATA_DIR), 'postgres')} on 127.0.0.1:${config.JUNCTION_EMBEDDED_PG_PORT}`,
    );
  }
  const signingKey = auditSigningKey(config, embedded !== undefined);
  const anchors: AnchorOptions | undefined = signingKey
    ? {
        dir: resolve(
          config.JUNCTION_AUDIT_ANCHOR_DIR ?? join(config.JUNCTION_DATA_DIR, 'audit-anchors'),
        ),
        signingKey,
        intervalMs: config.JUNCTION_AUDIT_ANCHOR_INTERVAL_MS,
        amqp: config.JUNCTION_AUDIT_ANCHOR_AMQP_URL
          ? {
              url: config.JUNCTION_AUDIT_ANCHOR_AMQP_URL,
              queue: config.JUNCTION_AUDIT_ANCHOR_AMQP_QUEUE,
            }
          : undefined,
      }
    : undefined;
  if (!embedded) {
    // One clear line, within seconds, when the database cannot be reached or refuses the login,
    // rather than a driver's stack trace after its retries.
    if (ownerUrl) await probeDatabase(ownerUrl, 'JUNCTION_MIGRATION_DATABASE_URL');
    await probeDatabase(databaseUrl, 'DATABASE_URL');
  }
  if (ownerUrl && !urlRole(databaseUrl)) {
    await embedded?.stop().catch(() => undefined);
    throw new ConfigError([
      'DATABASE_URL must name its user when JUNCTION_MIGRATION_DATABASE_URL is set (the runtime role is granted by name)',
    ]);
  }
  if (ownerUrl && urlRole(ownerUrl) !== urlRole(databaseUrl)) {
    try {
      const roles = await prepareDatabase(
        ownerUrl,
        databaseUrl,
        config.JUNCTION_AUDIT_RETENTION_DAYS,
      );
      if (roles.runtimeIsSuperuser)
        warnLoudly(
          `the runtime role ${roles.runtime} is a superuser: it can rewrite the audit trail; the trail's integrity rests on the signed anchors alone`,
        );
    } catch (err) {
      await embedded?.stop().catch(() => undefined);
      throw err;
    }
  } else {
    warnLoudly(
      `${ownerUrl ? 'JUNCTION_MIGRATION_DATABASE_URL names the same role as DATABASE_URL' : 'JUNCTION_MIGRATION_DATABASE_URL is not set'}: the runtime role owns the schema, so it can disable the audit trail's triggers and rewrite it; the trail's integrity rests on the signed anchors alone`,
    );
    ownerUrl = undefined;
  }
  if (!anchors)
    warnLoudly(
      'JUNCTION_AUDIT_SIGNING_KEY is not set: no signed anchors are published, and nothing outside the database proves the audit trail',
    );
  let app: NestFastifyApplication | undefined;
  try {
    app = await createGateway(config, databaseUrl, masterKey(config, embedded !== undefined), {
      migrationsRun: ownerUrl === undefined,
      anchors,
    });
    // Not ready (503 on /health/ready) until the first admin exists and the stored routes had
    // their first start: a sign-in right after a 200 must work.
    const readiness = app.get(Readiness);
    readiness.hold('startup');
    await app.listen(config.PORT, config.HOST);
    // Only once the server is up: a generated password must never be made and then lost in a failed start.
    const {
      password: adminPassword,
      demo,
      audit,
    } = await firstStart(app, config, options, embedded !== undefined);
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    const url = `http://${config.HOST}:${port}`;
    // The banner comes last: whatever the routes say while they first start is said before it.
    const supervisor = app.get(RouteSupervisor);
    await supervisor.firstStarts(FIRST_STARTS_WAIT_MS);
    // Ready once every stored route has had its first start, however long that takes (seconds
    // for 10,000 routes): a load balancer that sends traffic on a 200 must find every ingest
    // path claimed. A route whose broker does not answer keeps it 503 anyway (its connection).
    void supervisor.firstStarts().then(() => readiness.release('startup'));
    printBanner({
      url,
      admin: adminPassword
        ? { user: config.JUNCTION_ADMIN_USER, password: adminPassword }
        : undefined,
      demo,
    });
    await audit?.().catch((err: unknown) =>
      log.error(`could not audit the admin's new password: ${(err as Error).message}`),
    );
    const running = app;
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        await running.close();
        await embedded?.stop();
      })());
    return { app, url, close, shutdownTimeoutMs: config.JUNCTION_SHUTDOWN_TIMEOUT_MS };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
}

/** How long the banner waits for the stored routes' first starts (a broker may be slow or away). */
const FIRST_STARTS_WAIT_MS = 5_000;

/**
 * The start-up banner, printed whatever the log level (it may hold the one-time admin password):
 * text lines on a terminal, one JSON line (`msg`, `url`, `console`, `docs`, `admin`, `demo`) in the
 * JSON format.
 */
function printBanner(banner: {
  url: string;
  admin?: { user: string; password: string };
  demo?: 'seeded' | 'not-embedded';
}): void {
  const { url, admin, demo } = banner;
  const demoLine =
    demo === 'seeded'
      ? `curl -s -X POST ${url}/ingest/demo/orders -H 'content-type: application/json' -d @examples/messages/order-de.json   # route demo-orders, no auth: seeded on the embedded database only`
      : demo === 'not-embedded'
        ? 'not seeded: the demo route (no auth) is seeded on the embedded database only, not with DATABASE_URL'
        : undefined;
  const { settings } = setUpLogging();
  if (settings.format === 'json') {
    createPinoLogger({ ...settings, level: 'info' }).info(
      {
        url,
        console: `${url}/console`,
        docs: `${url}/docs`,
        ...(admin ? { admin } : {}),
        ...(demoLine ? { demo: demoLine } : {}),
      },
      `Junction gateway listening on ${url}`,
    );
    return;
  }
  // The console first: it is where a newcomer goes, with the admin's password beside it.
  const lines = [`Junction gateway listening on ${url}`, `  console:   ${url}/console`];
  if (admin) lines.push(`  admin:     ${admin.user} / ${admin.password}`);
  lines.push(`  API docs:  ${url}/docs`);
  if (admin && demoLine) lines.push(`  demo:      ${demoLine}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A start-up failure: one line per problem (JSON lines in the JSON format), then exit 1. */
function startFailed(problems: string[]): never {
  const settings = logging?.settings;
  for (const problem of problems) {
    if (settings && settings.level !== 'silent')
      logging!.service.pino.fatal({ context: 'Junction' }, problem.replace(/\s*\n\s*/g, ' '));
    else process.stderr.write(`${problem}\n`);
  }
  process.exit(1);
}

export async function main(options: StartOptions = {}): Promise<void> {
  let gateway: RunningGateway;
  try {
    setUpLogging(process.env);
  } catch (err) {
    startFailed(
      err instanceof ConfigError
        ? err.problems.map((p) => `invalid configuration: ${p}`)
        : [(err as Error).message],
    );
  }
  try {
    gateway = await bootstrap(process.env, options);
  } catch (err) {
    startFailed(
      err instanceof ConfigError
        ? err.problems.map((p) => `invalid configuration: ${p}`)
        : [`Junction gateway failed to start: ${(err as Error).message}`],
    );
  }
  stopOnSignals({
    close: () => gateway.close(),
    pending: () => gateway.app.get(RouteSupervisor).stillStopping(),
    timeoutMs: gateway.shutdownTimeoutMs,
    log: (message) => log.log(message),
    error: (message) => log.error(message),
    exit: (code) => process.exit(code),
  });
}

if (require.main === module) void main();
