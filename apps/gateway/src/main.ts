import 'reflect-metadata';
import { Logger, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsersService } from '@junction/auth';
import { AuditTrail } from '@junction/audit';
import { ConfigError, packageInfo, parse } from '@junction/common';
import { EmbeddedPostgresServer } from '@junction/database';
import {
  ROUTE_SOURCE_TEXT,
  RoutesService,
  RouteSourceText,
  takesRouteSource,
  YAML_CONTENT_TYPES,
} from '@junction/registry';
import { AppModule } from './app.module';
import { GatewayConfig, loadGatewayConfig } from './config';
import { serveConsole } from './console/console-static';
import { DEMO_ROUTE } from './demo-route';
import { buildOpenApi, serveOpenApi } from './openapi/openapi';

export interface RunningGateway {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

const log = new Logger('Junction');

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
 * Ingest keeps the payload's bytes as sent (the audit hashes the original, and a payload that is
 * not JSON must reach the route to be dead-lettered, not be refused by the HTTP layer); every
 * other endpoint parses JSON as Fastify does by default.
 */
function rawIngestBodies(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (request.url.startsWith('/ingest/')) return done(null, body);
    const text = (body as Buffer).toString('utf8');
    // A route document keeps the text it was sent as (stored with its version).
    if (takesRouteSource(request.method, request.url))
      (request as unknown as Record<symbol, string>)[ROUTE_SOURCE_TEXT] = text;
    parseJson(request, text, done);
  });
  // Route documents may come as YAML: kept as text here, parsed (with limits) by the registry.
  fastify.addContentTypeParser(YAML_CONTENT_TYPES, { parseAs: 'buffer' }, (request, body, done) => {
    if (request.url.startsWith('/ingest/')) return done(null, body);
    if (takesRouteSource(request.method, request.url))
      return done(null, new RouteSourceText((body as Buffer).toString('utf8')));
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
          `unsupported content type ${request.headers['content-type'] ?? '(none)'}; send application/json`,
        ),
        { statusCode: 415 },
      ),
      undefined,
    );
  });
}

/** Builds the app on a database (tests call this with their own database). */
export async function createGateway(
  config: GatewayConfig,
  databaseUrl: string,
  key: Buffer,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({
      databaseUrl,
      masterKey: key,
      tokenTtlSeconds: config.JUNCTION_TOKEN_TTL_SECONDS,
      cookieSecure: config.JUNCTION_COOKIE_SECURE,
      loginAttemptsPerMinute: config.JUNCTION_LOGIN_ATTEMPTS_PER_MINUTE,
      expressionTimeoutMs: config.JUNCTION_EXPRESSION_TIMEOUT_MS,
      authProviders: config.auth,
      httpAllowHosts: config.JUNCTION_HTTP_ALLOW_HOSTS,
      httpAllowConnectionHosts: config.JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS,
      maxInFlight: config.JUNCTION_ROUTE_MAX_IN_FLIGHT,
      auditRetentionDays: config.JUNCTION_AUDIT_RETENTION_DAYS,
    }),
    new FastifyAdapter({ bodyLimit: config.JUNCTION_BODY_LIMIT_BYTES, trustProxy: false }),
    // Body parsers are ours (rawIngestBodies): Nest's own would parse ingest payloads too.
    {
      logger: process.env.JUNCTION_LOG === 'silent' ? false : ['log', 'warn', 'error'],
      bodyParser: false,
    },
  );
  rawIngestBodies(app);
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
    }),
  );
  serveOpenApi(app, buildOpenApi(app, packageInfo().version));
  serveConsole(app, { name: config.JUNCTION_ENV_NAME, color: config.JUNCTION_ENV_COLOR });
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
 * First start: an admin (password from the environment, else generated and printed once) and the
 * demo route; or, with `resetAdminPassword`, a new password for the admin. Returns the password
 * to print, and the audit record to write once it is printed (so that an audit outage cannot
 * make a password that is never shown).
 */
async function firstStart(
  app: NestFastifyApplication,
  config: GatewayConfig,
  options: StartOptions,
): Promise<{ password?: string; audit?: () => Promise<void> }> {
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
  if (options.resetAdminPassword) {
    const { id, created } = await users.resetAdmin(username, password);
    log.warn(`the password of ${username} was reset at start-up; its sessions have ended`);
    return {
      password: shown,
      audit: audit(created ? 'user.created' : 'user.password-reset', id, {
        roles: ['admin'],
        reason: '--reset-admin-password at start-up',
      }),
    };
  }
  const id = await users.ensureAdmin(username, password);
  if (!id) return {};
  const record = audit('user.created', id, { roles: ['admin'], reason: 'first start' });
  if (config.JUNCTION_SEED_DEMO) {
    try {
      await app.get(RoutesService).create(DEMO_ROUTE, 'system', 'demo route seeded on first start');
    } catch (err) {
      log.warn(`could not seed the demo route: ${(err as Error).message}`);
    }
  }
  return { password: shown, audit: record };
}

export async function bootstrap(
  env: NodeJS.ProcessEnv = process.env,
  options: StartOptions = {},
): Promise<RunningGateway> {
  const config = loadGatewayConfig(env);
  let embedded: EmbeddedPostgresServer | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    // The embedded server runs as an unprivileged user when we are root: it must be able to enter the folder.
    mkdirSync(resolve(config.JUNCTION_DATA_DIR), { recursive: true, mode: 0o755 });
    embedded = await EmbeddedPostgresServer.start({
      dataDir: join(resolve(config.JUNCTION_DATA_DIR), 'postgres'),
      port: config.JUNCTION_EMBEDDED_PG_PORT,
      log: (line) => log.debug(line),
    });
    databaseUrl = embedded.url;
    log.log(
      `embedded PostgreSQL in ${join(resolve(config.JUNCTION_DATA_DIR), 'postgres')} on 127.0.0.1:${config.JUNCTION_EMBEDDED_PG_PORT}`,
    );
  }
  let app: NestFastifyApplication | undefined;
  try {
    app = await createGateway(config, databaseUrl, masterKey(config, embedded !== undefined));
    await app.listen(config.PORT, config.HOST);
    // Only once the server is up: a generated password must never be made and then lost in a failed start.
    const { password: adminPassword, audit } = await firstStart(app, config, options);
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    const url = `http://${config.HOST}:${port}`;
    // The console first: it is where a newcomer goes, with the admin's password beside it.
    const lines = [`Junction gateway listening on ${url}`, `  console:   ${url}/console`];
    if (adminPassword) lines.push(`  admin:     ${config.JUNCTION_ADMIN_USER} / ${adminPassword}`);
    lines.push(`  API docs:  ${url}/docs`);
    if (adminPassword) {
      if (config.JUNCTION_SEED_DEMO) {
        lines.push(
          `  demo:      curl -s -X POST ${url}/ingest/demo/orders -H 'content-type: application/json' -d @examples/messages/order-de.json`,
        );
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
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
    return { app, url, close };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
}

export async function main(options: StartOptions = {}): Promise<void> {
  let gateway: RunningGateway;
  try {
    gateway = await bootstrap(process.env, options);
  } catch (err) {
    const message =
      err instanceof ConfigError
        ? err.message
        : `Junction gateway failed to start: ${(err as Error).message}`;
    process.stderr.write(`${message}\n`);
    process.exit(1);
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.log(`${signal}: shutting down`);
      gateway
        .close()
        .then(() => process.exit(0))
        .catch((err: unknown) => {
          process.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
          process.exit(1);
        });
    });
  }
}

if (require.main === module) void main();
