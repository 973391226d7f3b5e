import { Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@junction/auth';
import { probeConnection } from '@junction/connectors';
import { redactPanText } from '@junction/pipeline';
import { ConnectionsService, ConnectionTestResultDto } from '@junction/registry';
import { RUNTIME_OPTIONS, type RuntimeOptions } from './runtime-options';

/** How long a connection test may take: a broker that does not answer in this is reported down. */
const PROBE_TIMEOUT_MS = 5_000;

/**
 * Replaces every secret value (and its URL-encoded form) found in a message: a driver may quote
 * what it was given.
 */
function withoutSecrets(message: string, secrets: Record<string, string>): string {
  let out = message;
  for (const value of Object.values(secrets))
    if (value.length >= 3)
      for (const form of new Set([value, encodeURIComponent(value)]))
        out = out.split(form).join('***');
  return redactPanText(out.replace(/\/\/[^/@\s]*:[^/@\s]*@/g, '//***@'));
}

@ApiTags('connections')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/connections')
export class ConnectionTestController {
  constructor(
    private readonly connections: ConnectionsService,
    @Inject(RUNTIME_OPTIONS) private readonly options: RuntimeOptions,
  ) {}

  @Post(':name/test')
  @HttpCode(200)
  @RequirePermission('connections.write')
  @ApiOperation({
    summary: 'Try to connect with the stored settings and secrets (within 5 s)',
    description:
      'AMQP opens and closes a connection; Kafka reads the cluster metadata; HTTP sends a HEAD to the base URL ' +
      '(any HTTP answer counts; the egress allowlist applies). `error` never holds a secret. Nothing is sent to ' +
      'any queue, topic or endpoint.',
  })
  @ApiOkResponse({ type: ConnectionTestResultDto })
  async test(@Param('name') name: string): Promise<ConnectionTestResultDto> {
    const connection = await this.connections.resolve(name);
    const started = performance.now();
    const elapsedMs = () => Math.round(performance.now() - started);
    try {
      await probeConnection(connection.type, connection, {
        timeoutMs: PROBE_TIMEOUT_MS,
        egress: this.options.egress,
      });
      return { ok: true, elapsedMs: elapsedMs() };
    } catch (err) {
      return {
        ok: false,
        error: withoutSecrets((err as Error).message, connection.secrets),
        elapsedMs: elapsedMs(),
      };
    }
  }
}
