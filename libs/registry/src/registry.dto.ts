import { ApiProperty, ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import { HoldsNoCardNumber } from '@junction/common';
import { CONNECTOR_KINDS, CONNECTORS, type ConnectorKind } from '@junction/connectors';
import { SOURCE_LIMITS } from '@junction/pipeline';
import {
  Allow,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

/** Name of the OpenAPI component holding the route document's JSON Schema (from the stage registry). */
export const ROUTE_DOCUMENT_SCHEMA = 'RouteDocument';
export const routeDocumentRef = { $ref: `#/components/schemas/${ROUTE_DOCUMENT_SCHEMA}` };

/** Any JSON value: a body or a patch value may be an object, an array, a string, a number, true/false or null. */
export const ANY_JSON: ApiPropertyOptions = {
  oneOf: [
    { type: 'object', additionalProperties: true },
    { type: 'array', items: {} },
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'null' },
  ],
} as ApiPropertyOptions;

export class ProblemDto {
  @ApiProperty({ example: '/pipeline/2/mask/0/with', description: 'JSON pointer of the field.' })
  pointer!: string;
  @ApiProperty({ example: 'must be one of redact, remove, pan, last4, hash, email' })
  message!: string;
  @ApiPropertyOptional({ description: 'Line in the source text (1-based), when it came as text.' })
  line?: number;
  @ApiPropertyOptional({ description: 'Column in the source text (1-based).' })
  column?: number;
  @ApiPropertyOptional({
    description:
      'A conflict with another live route (validate): its id. Its ingest path, or the place its source reads, is the one this document names.',
  })
  routeId?: string;
}

export class ErrorDto {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ example: 'Bad Request' }) error!: string;
  @ApiProperty({ example: 'route document has 1 problem' }) message!: string;
  @ApiPropertyOptional({
    description: 'Structured detail, e.g. `problems` with JSON pointers.',
    type: 'object',
    additionalProperties: true,
  })
  details?: unknown;
}

export class ValidationResultDto {
  @ApiProperty() valid!: boolean;
  @ApiProperty({ type: ProblemDto, isArray: true }) problems!: ProblemDto[];
}

export class RouteSummaryDto {
  @ApiProperty({ example: 'orders-eu' }) id!: string;
  @ApiProperty({
    example: 1,
    description:
      'Which life of this id: 1, then 2 once it was deleted and created again (versions count from 1 in each).',
  })
  incarnation!: number;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty({ enum: CONNECTOR_KINDS }) sourceType!: string;
  @ApiProperty({ nullable: true, type: Number, description: 'The version that runs.' })
  activeVersion!: number | null;
  @ApiProperty({ description: 'The newest stored version.' }) latestVersion!: number;
  @ApiProperty({ enum: ['running', 'stopped'] }) desiredState!: 'running' | 'stopped';
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

const RUN_STATES = [
  'running',
  'stopped',
  'starting',
  'connecting',
  'retrying',
  'failed',
  'degraded',
  'not-deployed',
];

export class RouteProcessStateDto {
  @ApiProperty({ example: 'gw-1:4242', description: 'Gateway process (host:pid).' })
  process!: string;
  @ApiProperty({ enum: RUN_STATES }) state!: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Since when (when known).' })
  since?: string;
  @ApiProperty({ nullable: true, type: String, description: 'Last error (card numbers redacted).' })
  lastError!: string | null;
}

export class RouteCountsDto {
  @ApiProperty() processed!: number;
  @ApiProperty() failed!: number;
  @ApiProperty() inFlight!: number;
}

export class RouteRuntimeDto {
  @ApiProperty({
    enum: RUN_STATES,
    description:
      "This process's worker of the route: connecting (waiting for its broker), retrying (the broker refused or is away; reason says why), failed (restarted after a delay), degraded (it runs, but messages wait in their source because the dead-letter destination refuses their dead letters for a reason that may pass; reason says why, and they are tried again).",
  })
  state!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description: "Why it is not running, in the broker's words (card numbers redacted).",
    example:
      'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN..."',
  })
  reason!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'In this state since.',
  })
  since!: string | null;
  @ApiProperty({
    description: 'The process this is of (host:pid): each process runs its own worker.',
  })
  process!: string;
}

export class RouteListItemDto extends RouteSummaryDto {
  @ApiProperty({ type: RouteProcessStateDto, isArray: true })
  processes!: RouteProcessStateDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Last error (card numbers redacted).' })
  lastError!: string | null;
  @ApiProperty({ type: RouteCountsDto }) counts!: RouteCountsDto;
  @ApiProperty({ type: RouteRuntimeDto }) runtime!: RouteRuntimeDto;
}

export class RouteViewDto extends RouteSummaryDto {
  @ApiProperty({
    description:
      'The version `document` is: the active one (after a rollback, the older version that runs); the latest while none is active.',
  })
  documentVersion!: number;
  @ApiProperty({ description: "`documentVersion`'s document.", allOf: [routeDocumentRef] })
  document!: object;
}

export class VersionSummaryDto {
  @ApiProperty({ description: "The route's incarnation this version belongs to." })
  incarnation!: number;
  @ApiProperty() version!: number;
  @ApiProperty() author!: string;
  @ApiProperty({ nullable: true, type: String }) comment!: string | null;
  @ApiProperty({ description: "SHA-256 of the document's canonical JSON." }) checksum!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty() active!: boolean;
}

export class JsonPatchOperationDto {
  @ApiProperty({ enum: ['add', 'remove', 'replace', 'move', 'copy', 'test'] }) op!: string;
  @ApiProperty({ example: '/pipeline/1/filter' }) path!: string;
  @ApiPropertyOptional({ description: 'New value (add, replace, test).', ...ANY_JSON })
  value?: unknown;
  @ApiPropertyOptional() from?: string;
}

export class VersionDiffDto {
  @ApiProperty() from!: number;
  @ApiProperty({
    type: JsonPatchOperationDto,
    isArray: true,
    description: 'RFC 6902 operations from `from` to this version.',
  })
  operations!: JsonPatchOperationDto[];
}

export class VersionViewDto extends VersionSummaryDto {
  @ApiProperty({ allOf: [routeDocumentRef] }) document!: object;
  @ApiProperty({
    description:
      'The text the version was written in, verbatim (YAML with its comments, or JSON). Versions stored before texts were kept show their document as JSON.',
  })
  source!: string;
  @ApiProperty({ enum: ['yaml', 'json'] }) sourceFormat!: 'yaml' | 'json';
  @ApiPropertyOptional({ type: VersionDiffDto }) diff?: VersionDiffDto;
}

export class RouteStatusDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['running', 'stopped'] }) desiredState!: string;
  @ApiProperty({ nullable: true, type: Number }) activeVersion!: number | null;
  @ApiProperty() latestVersion!: number;
  @ApiProperty({
    enum: RUN_STATES,
  })
  state!: string;
  @ApiProperty() inFlight!: number;
  @ApiProperty() processed!: number;
  @ApiProperty() failed!: number;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'Why it is not running (connecting, retrying, failed) or runs degraded, card numbers redacted.',
  })
  reason!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'In this state since, in this process.',
  })
  since!: string | null;
  @ApiProperty({ description: 'The process this status is of (host:pid).' }) process!: string;
}

export class DryRunMessageDto {
  @ApiProperty({
    description: 'The message body (any JSON).',
    example: { id: 'o1', total: 150 },
    ...ANY_JSON,
  })
  body!: unknown;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { 'x-channel': 'web' },
  })
  @IsOptional()
  @IsObject()
  headers?: Record<string, string>;

  @ApiPropertyOptional({
    description:
      "A Kafka source record's key: `$meta.key` in expressions (card numbers redacted), and the key a Kafka destination that names none sends on.",
    example: 'ORD-2026-000123',
    maxLength: 65536,
  })
  @IsOptional()
  @IsString()
  @MaxLength(65536)
  key?: string;
}

export class DryRunRequestDto {
  @ApiProperty({ type: DryRunMessageDto })
  @IsObject()
  message!: DryRunMessageDto;

  @ApiPropertyOptional({
    description: 'Version to run; default the active one (else the latest).',
    minimum: 1,
    maximum: 2147483647,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2147483647)
  version?: number;
}

export class UnsavedDryRunRequestDto {
  @ApiPropertyOptional({
    description: 'The route document to run (not saved). Either this or `source`.',
    allOf: [routeDocumentRef],
  })
  @IsOptional()
  @IsObject()
  document?: object;

  @ApiPropertyOptional({
    description: 'The route document as YAML or JSON text (not saved). Either this or `document`.',
    maxLength: SOURCE_LIMITS.maxLength,
  })
  @IsOptional()
  @IsString()
  @MaxLength(SOURCE_LIMITS.maxLength)
  source?: string;

  @ApiProperty({ type: DryRunMessageDto })
  @IsObject()
  message!: DryRunMessageDto;
}

export class StageTraceDto {
  @ApiProperty() index!: number;
  @ApiProperty({ example: 'transform' }) kind!: string;
  @ApiProperty({ description: 'Body before the stage (card numbers redacted).', ...ANY_JSON })
  input!: unknown;
  @ApiPropertyOptional({ description: 'Body after the stage.', ...ANY_JSON }) output?: unknown;
  @ApiProperty() dropped!: boolean;
  @ApiProperty({
    nullable: true,
    type: 'object',
    properties: { code: { type: 'string' }, message: { type: 'string' } },
  })
  error!: unknown;
  @ApiProperty() durationMs!: number;
  @ApiPropertyOptional({
    type: String,
    isArray: true,
    description: 'mask stages: JSON pointers of the fields the stage changed (or removed).',
    example: ['/card'],
  })
  changed?: string[];
}

export class DryRunDeliveryDto {
  @ApiProperty({ description: 'Index in `destinations`.' }) destination!: number;
  @ApiProperty({ enum: [...CONNECTOR_KINDS, 'log'] }) type!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) target!: object;
  @ApiProperty({ nullable: true, type: String }) routingKey!: string | null;
  @ApiProperty({ nullable: true, type: String }) key!: string | null;
  @ApiProperty({
    nullable: true,
    type: Number,
    description:
      "Message priority from the destination's `priority` expression (null: the broker's default).",
  })
  priority!: number | null;
  @ApiProperty({ description: 'What would be sent (card numbers redacted).', ...ANY_JSON })
  body!: unknown;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'Message headers that would travel with it (card numbers redacted).',
  })
  headers!: Record<string, string>;
}

export class DryRunResultDto {
  @ApiProperty() version!: number;
  @ApiProperty({ enum: ['deliver', 'drop', 'error'] }) outcome!: string;
  @ApiPropertyOptional({ enum: ['filtered', 'unroutable'] }) reason?: string;
  @ApiPropertyOptional({
    type: 'object',
    properties: {
      code: { type: 'string' },
      message: { type: 'string' },
      where: { type: 'string', nullable: true },
    },
  })
  error?: unknown;
  @ApiProperty({ type: StageTraceDto, isArray: true }) stages!: StageTraceDto[];
  @ApiProperty({ type: DryRunDeliveryDto, isArray: true }) deliveries!: DryRunDeliveryDto[];
  @ApiProperty({
    type: String,
    isArray: true,
    description:
      'JSON pointers into this answer (`/deliveries/<i>/body/...` or `/deliveries/<i>/headers/...`) where a card-number-like value would leave the gateway in a delivery. Empty when none would.',
    example: ['/deliveries/0/body/card'],
  })
  panWarnings!: string[];
}

/** Per type, from the connector plugins: `amqp {url, vhost, ...}; kafka {...}`. */
const CONFIG_FIELDS = CONNECTOR_KINDS.map(
  (kind) =>
    `${kind} {${Object.keys(
      (CONNECTORS[kind].connection.configSchema.properties ?? {}) as Record<string, unknown>,
    ).join(', ')}}`,
).join('; ');
const SECRET_KEYS = CONNECTOR_KINDS.map(
  (kind) => `${kind}: ${CONNECTORS[kind].connection.secretKeys.join(', ')}`,
).join('; ');
const TARGET_FIELDS = CONNECTOR_KINDS.map(
  (kind) => `${kind} ${CONNECTORS[kind].connection.targetFields.join(', ')}`,
).join('; ');

export class ConnectionInputDto {
  @ApiProperty({ enum: CONNECTOR_KINDS })
  @IsIn(CONNECTOR_KINDS)
  type!: ConnectorKind;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { url: 'amqp://guest@127.0.0.1:5672', vhost: '/' },
    description: `Per type: ${CONFIG_FIELDS}.`,
  })
  @IsObject()
  config!: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', nullable: true },
    writeOnly: true,
    description: `Write-only. ${SECRET_KEYS} (tlsKey, sslKey: PEM private keys of the client certificates in config; header:<name>: a credential header such as header:X-Api-Key). null removes one; absent ones are kept. A change of a field that decides where secrets go (${TARGET_FIELDS}) must re-enter or remove every stored secret in the same request (400, details.code SECRETS_NOT_REENTERED).`,
    example: { password: 's3cret' },
  })
  @IsOptional()
  @IsObject()
  secrets?: Record<string, string | null>;
}

export class CreateConnectionDto extends ConnectionInputDto {
  @ApiProperty({ example: 'rabbit', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' })
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    message:
      'name must be 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit',
  })
  @HoldsNoCardNumber()
  name!: string;
}

export class ConnectionDto {
  @ApiProperty({ example: 'rabbit' }) name!: string;
  @ApiProperty({ enum: CONNECTOR_KINDS }) type!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) config!: Record<string, unknown>;
  @ApiProperty({
    type: String,
    isArray: true,
    description: 'Names of the secrets that are set (never their values).',
    example: ['password'],
  })
  secrets!: string[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty() updatedBy!: string;
}

export class EvaluateRequestDto {
  @ApiProperty({ example: 'total > 100 ? "big" : "small"', maxLength: 20000 })
  @IsString()
  @MaxLength(20000)
  expression!: string;

  @ApiProperty({ description: 'The value `$` is bound to (any JSON).', ...ANY_JSON })
  @Allow()
  input!: unknown;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: '`$headers`.',
  })
  @IsOptional()
  @IsObject()
  headers?: Record<string, string>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: '`$meta` (routeId, routeVersion, source, receivedAt...).',
  })
  @IsOptional()
  @IsObject()
  meta?: Record<string, unknown>;
}

export class EvaluateErrorDto {
  @ApiProperty({ example: 'JSONata syntax error at position 7: ...' }) message!: string;
  @ApiProperty({
    example: 'S0202',
    description:
      "JSONata's error code when it has one, else EXPRESSION_LIMIT or EXPRESSION_UNSAFE.",
  })
  code!: string;
  @ApiPropertyOptional({ description: 'Character offset of the problem.' }) position?: number;
  @ApiPropertyOptional({ description: 'The token at the problem.' }) token?: string;
}

export class EvaluateResultDto {
  @ApiPropertyOptional({
    description: 'The value (card numbers redacted); absent when the expression gives nothing.',
    ...ANY_JSON,
  })
  result?: unknown;
  @ApiProperty({ enum: ['fast', 'jsonata'] }) engine!: 'fast' | 'jsonata';
  @ApiProperty({ description: 'Time the evaluation took, in ms.' }) elapsedMs!: number;
  @ApiProperty({ description: 'Time budget of one evaluation (JUNCTION_EXPRESSION_TIMEOUT_MS).' })
  budgetMs!: number;
  @ApiPropertyOptional({ type: EvaluateErrorDto }) error?: EvaluateErrorDto;
}

export class SampleInputDto {
  @ApiProperty({ description: 'The sample message body (any JSON).', ...ANY_JSON })
  @Allow()
  body!: unknown;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  headers?: Record<string, string>;
}

export class SampleDto {
  @ApiProperty({ example: 'order-with-card' }) name!: string;
  @ApiProperty({ description: 'The body, card numbers redacted.', ...ANY_JSON }) body!: unknown;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  headers?: Record<string, string>;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty() updatedBy!: string;
}

export class ActivateOverrideDto {
  @ApiProperty({
    minLength: 1,
    maxLength: 1000,
    example: 'test card numbers only; masked downstream',
  })
  reason!: string;
}

export class ActivateRequestDto {
  @ApiPropertyOptional({
    type: ActivateOverrideDto,
    description: 'Admins only: activate although a sample leaks a card number (audited).',
  })
  override?: ActivateOverrideDto;
}

export class ImpactedRouteDto {
  @ApiProperty({ example: 'orders-eu' }) id!: string;
  @ApiProperty({ description: 'The active version, which names the connection.' })
  activeVersion!: number;
  @ApiProperty({ description: 'Running in this gateway process.' }) running!: boolean;
}

export class ConnectionImpactDto {
  @ApiProperty({ type: ImpactedRouteDto, isArray: true }) routes!: ImpactedRouteDto[];
}

export class ConnectionNamesDto {
  @ApiProperty({
    type: String,
    isArray: true,
    description: 'Queue names the stored routes use with this connection.',
  })
  queues!: string[];
  @ApiProperty({
    type: String,
    isArray: true,
    description: 'Exchange names the stored routes use with this connection.',
  })
  exchanges!: string[];
  @ApiProperty({
    type: String,
    isArray: true,
    description:
      'Topic names the stored routes use with this connection, and for a Kafka connection the topics the ' +
      'cluster lists (when it answers in time).',
  })
  topics!: string[];
}

export class ConnectionTestResultDto {
  @ApiProperty({ description: 'The connection could be made with the stored settings.' })
  ok!: boolean;
  @ApiPropertyOptional({ description: 'What went wrong (never a secret).' }) error?: string;
  @ApiProperty({ description: 'How long the attempt took, in ms.' }) elapsedMs!: number;
}
