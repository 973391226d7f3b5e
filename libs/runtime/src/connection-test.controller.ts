import { Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@junction/auth';
import { listKafkaTopics, probeConnection, SecretScrubber } from '@junction/connectors';
import { redactPanText } from '@junction/pipeline';
import {
  ConnectionNamesDto,
  ConnectionsService,
  ConnectionTestResultDto,
  sortedNames,
} from '@junction/registry';
import { RUNTIME_OPTIONS, type RuntimeOptions } from './runtime-options';

/** How long a connection test may take: a broker that does not answer in this is reported down. */
const PROBE_TIMEOUT_MS = 5_000;
/** How long the name list waits for a Kafka cluster's topics before it answers with stored names. */
const TOPICS_TIMEOUT_MS = 3_000;

/**
 * Replaces every secret value found in a message, in any escaped form (SecretScrubber): a driver
 * may quote what it was given.
 */
function withoutSecrets(message: string, secrets: Record<string, string>): string {
  // In any letter case: a driver's error names a host lower-cased.
  const out = new SecretScrubber(Object.values(secrets)).textAnyCase(message);
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

  @Get(':name/names')
  @RequirePermission('connections.read')
  @ApiOperation({
    summary: 'Queue, exchange and topic names to complete in the route editor',
    description:
      'The names the stored routes (active and latest version of every route) use with this connection in ' +
      'sources, destinations and dead letters; for a Kafka connection also the topics the cluster lists ' +
      `(asked with the stored settings and the egress allowlist, within ${TOPICS_TIMEOUT_MS / 1000} s; when it ` +
      'does not answer, only the stored names). RabbitMQ cannot list its queues or exchanges over AMQP 0-9-1, ' +
      'so for an AMQP connection the names are the stored ones only. Each list sorted, distinct, at most 500.',
  })
  @ApiOkResponse({ type: ConnectionNamesDto })
  async names(@Param('name') name: string): Promise<ConnectionNamesDto> {
    const stored = await this.connections.namesInUse(name);
    const connection = await this.connections.resolve(name);
    if (connection.type !== 'kafka') return stored;
    try {
      const live = await listKafkaTopics(connection, {
        timeoutMs: TOPICS_TIMEOUT_MS,
        egress: this.options.egress,
      });
      return { ...stored, topics: sortedNames([...stored.topics, ...live]) };
    } catch {
      // A cluster that does not answer leaves the stored names: completion is a help, not a check.
      return stored;
    }
  }

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
