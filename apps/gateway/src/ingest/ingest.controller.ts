import { All, Controller, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService, Public } from '@junction/auth';
import { JunctionError } from '@junction/common';
import { IngestService } from './ingest.service';

function flatHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (name === 'authorization' || name === 'x-api-key' || name === 'cookie') continue; // credentials never travel on
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The raw body as bytes: the route, not the HTTP layer, decides what a bad payload means. */
function rawBody(request: FastifyRequest): Buffer {
  const body = request.body;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.from(body === undefined ? '' : JSON.stringify(body));
}

@ApiTags('ingest')
@Controller('ingest')
export class IngestController {
  constructor(
    private readonly ingest: IngestService,
    private readonly auth: AuthService,
  ) {}

  /**
   * POST /ingest/{path}. Authentication is per route (its `source.auth`), so the global guard
   * lets ingest through. async: 202 once delivered or dead-lettered; sync: 200 with the result.
   * A message the route rejects is dead-lettered and answered 422 with the reason.
   */
  @All('*')
  @Public()
  @ApiExcludeEndpoint()
  async receive(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (request.method !== 'POST') throw new JunctionError('BAD_REQUEST', 'ingest takes POST only');
    const path = (request.params as Record<string, string>)['*'] ?? '';
    const { worker, source } = this.ingest.resolve(path);
    const auth = source.auth ?? 'apiKey';
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
    const result = await this.ingest.ingest(worker, {
      path,
      payload: rawBody(request),
      headers: flatHeaders(request),
    });
    const sync = source.mode === 'sync';
    const head = { id: result.id, routeId: worker.routeId, version: worker.version };
    switch (result.outcome) {
      case 'delivered':
      case 'replayed':
        if (sync)
          void reply
            .status(200)
            .header('x-junction-id', result.id)
            .send(result.body ?? null);
        else void reply.status(202).send({ ...head, status: 'delivered' });
        return;
      case 'filtered':
      case 'unroutable':
        void reply.status(sync ? 200 : 202).send({ ...head, status: result.outcome });
        return;
      case 'dead-lettered': {
        const { error, deadLetterId } = result;
        if (error?.code === 'DELIVERY_FAILED') {
          // Parked safely: an operator replays it once the destination is back.
          if (sync)
            throw new JunctionError(
              'BAD_GATEWAY',
              `message ${result.id} could not be delivered and was dead-lettered`,
              { ...head, deadLetterId },
            );
          void reply.status(202).send({ ...head, status: 'dead-lettered', deadLetterId });
          return;
        }
        throw new JunctionError(
          'UNPROCESSABLE',
          `message ${result.id} was rejected at ${error?.where ?? 'input'}: ${error?.message}`,
          { ...head, code: error?.code, deadLetterId },
        );
      }
    }
  }
}
