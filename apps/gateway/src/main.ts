import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';

export async function bootstrap(): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule,
    new FastifyAdapter({ bodyLimit: 1024 * 1024 }),
  );
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? '127.0.0.1';
  await app.listen(port, host);
  process.stdout.write(`Junction gateway listening on http://${host}:${port}\n`);
  return app;
}

if (require.main === module) {
  bootstrap().catch((err: unknown) => {
    process.stderr.write(`Junction gateway failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
