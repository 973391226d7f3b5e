import { All, Controller, HttpCode, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService, Public } from '@junction/auth';
import { JunctionError } from '@junction/common';
import { decodeBody, PipelineError } from '@junction/pipeline';
import { IngestService } from './ingest.service';

function flatHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (name === 'authorization' || name === 'x-api-key' || name === 'cookie') continue; // credentials never travel on
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

@ApiTags('ingest')
@Controller('ingest')
export class IngestController {
  constructor(
    private readonly ingest: IngestService,
    private readonly auth: AuthService,
  ) {}

  /** Authentication is per route (its `source.auth`), so the global guard lets ingest through. */
  @All('*')
  @Public()
  @HttpCode(202)
  @ApiExcludeEndpoint()
  async receive(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (request.method !== 'POST') throw new JunctionError('BAD_REQUEST', 'ingest takes POST only');
    const path = (request.params as Record<string, string>)['*'] ?? '';
    const route = await this.ingest.resolve(path);
    const auth = route.source.auth ?? 'apiKey';
    if (auth === 'apiKey') {
      const key = request.headers['x-api-key'];
      if (typeof key !== 'string' || !(await this.auth.principalFromApiKey(key))) {
        throw new JunctionError('UNAUTHENTICATED', 'this ingest path needs a valid X-API-Key');
      }
    } else if (auth === 'hmac') {
      throw new JunctionError(
        'UNAVAILABLE',
        'HMAC-signed ingest is not available in this build yet',
      );
    }
    let body: unknown;
    try {
      body = decodeBody(
        request.body === undefined
          ? ''
          : typeof request.body === 'string'
            ? request.body
            : JSON.stringify(request.body),
      );
    } catch (err) {
      if (err instanceof PipelineError) throw new JunctionError('BAD_REQUEST', err.message);
      throw err;
    }
    const { id, result, routeId, version } = await this.ingest.ingest(
      route,
      body,
      flatHeaders(request),
    );
    if (result.outcome === 'error') {
      throw new JunctionError(
        'BAD_REQUEST',
        `message ${id} failed at ${result.error.where ?? 'input'}: ${result.error.message}`,
        { id, code: result.error.code },
      );
    }
    const sync = route.source.mode === 'sync';
    if (result.outcome === 'drop') {
      void reply.status(sync ? 200 : 202).send({ id, routeId, version, status: result.reason });
      return;
    }
    if (sync) {
      void reply
        .status(200)
        .header('x-junction-id', id)
        .send(result.deliveries[0]?.envelope.body ?? null);
      return;
    }
    void reply
      .status(202)
      .send({ id, routeId, version, status: 'delivered', deliveries: result.deliveries.length });
  }
}
