import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { packageInfo } from '@junction/common';
import { AppModule } from '../app.module';
import { loadGatewayConfig } from '../config';
import { buildOpenApi } from './openapi';

/**
 * Writes the gateway's OpenAPI document (the one it serves at /openapi.json) to a file, without a
 * database: Nest's preview mode resolves the module graph (controllers, DTOs, decorators) but
 * instantiates nothing, so no connection is opened. The console's API types are generated from
 * this file at build time, so a drift between the console and the gateway fails the build.
 */
export async function writeOpenApi(file: string): Promise<void> {
  // The defaults: the document does not depend on settings, but the modules need some.
  const config = loadGatewayConfig({});
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({
      databaseUrl: 'postgres://preview.invalid/none',
      masterKey: Buffer.alloc(32),
      tokenTtlSeconds: config.JUNCTION_TOKEN_TTL_SECONDS,
      loginThrottle: {
        windowSeconds: config.JUNCTION_LOGIN_WINDOW_SECONDS,
        sourceFailures: config.JUNCTION_LOGIN_SOURCE_FAILURES,
        accountFailures: config.JUNCTION_LOGIN_ACCOUNT_FAILURES,
        lockoutSeconds: config.JUNCTION_LOGIN_LOCKOUT_SECONDS,
        maxLockoutSeconds: config.JUNCTION_LOGIN_LOCKOUT_MAX_SECONDS,
      },
      expressionTimeoutMs: config.JUNCTION_EXPRESSION_TIMEOUT_MS,
      migrationsRun: false,
    }),
    new FastifyAdapter(),
    { preview: true, logger: false, abortOnError: false },
  );
  const document = buildOpenApi(app, packageInfo().version);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
}

if (require.main === module) {
  const file = resolve(process.argv[2] ?? 'openapi.json');
  writeOpenApi(file).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`could not write the OpenAPI document: ${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
}
