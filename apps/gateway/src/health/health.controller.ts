import { Controller, Get, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { Public } from '@junction/auth';
import { CONNECTOR_KINDS } from '@junction/connectors';
import { RouteSupervisor } from '@junction/runtime';
import { Readiness } from './readiness';

/** How long readiness waits for the database's answer. */
const DATABASE_CHECK_MS = 2_000;

interface ReadyBody {
  status: 'ok' | 'unavailable';
  checks: {
    startup: 'ok' | 'pending';
    database: 'ok' | string;
    connections: Array<{
      connection: string;
      type: string;
      up: boolean;
      since: string;
    }>;
  };
  statusCode?: number;
  error?: string;
  message?: string;
}

const READY_SCHEMA = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    checks: {
      type: 'object',
      properties: {
        startup: { type: 'string', enum: ['ok', 'pending'] },
        database: { type: 'string', enum: ['ok', 'does not answer'] },
        connections: {
          type: 'array',
          description: 'Broker connections the running routes use.',
          items: {
            type: 'object',
            properties: {
              connection: { type: 'string' },
              type: { type: 'string', enum: CONNECTOR_KINDS },
              up: { type: 'boolean' },
              since: { type: 'string', format: 'date-time' },
            },
          },
        },
      },
    },
    message: { type: 'string', description: 'With 503: what is not ready.' },
  },
};

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly db: DataSource,
    private readonly readiness: Readiness,
    private readonly supervisor: RouteSupervisor,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({
    schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } },
  })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary:
      'The process can serve: started (migrations, first admin, stored routes), its database answers, and the brokers its routes use are connected',
  })
  @ApiOkResponse({ schema: READY_SCHEMA })
  @ApiServiceUnavailableResponse({ description: 'What is not ready, named.', schema: READY_SCHEMA })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<ReadyBody> {
    const notReady: string[] = [];
    const startup = this.readiness.pending().length === 0 ? 'ok' : 'pending';
    if (startup !== 'ok') notReady.push('start-up is not finished');
    const database = await this.database();
    if (database !== 'ok') notReady.push(`database: ${database}`);
    // Anyone who reaches the port may ask (a load balancer does, unauthenticated): what is down
    // is named, never why in the broker's or the driver's words, which name internal hosts and
    // addresses. Signed-in operators read why in GET /api/v1/routes (runtime.reason) and the log.
    const connections = this.supervisor.connections().map((c) => ({
      connection: c.connection,
      type: c.type,
      up: c.up,
      since: c.since.toISOString(),
    }));
    for (const c of this.supervisor.connections())
      if (!c.up)
        notReady.push(
          `${c.type} connection ${c.connection}: ${c.error ? 'refused or out of reach' : 'connecting'}`,
        );
    const checks = { startup, database, connections } as const;
    if (notReady.length === 0) return { status: 'ok', checks };
    void reply.status(503);
    return {
      statusCode: 503,
      error: 'Service Unavailable',
      message: `not ready: ${notReady.join('; ')}`,
      status: 'unavailable',
      checks,
    };
  }

  private async database(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.db.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${DATABASE_CHECK_MS} ms`)),
            DATABASE_CHECK_MS,
          );
        }),
      ]);
      return 'ok';
    } catch {
      return 'does not answer';
    } finally {
      clearTimeout(timer);
    }
  }
}
