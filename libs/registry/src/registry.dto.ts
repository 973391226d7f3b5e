import { ApiProperty, ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import {
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
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
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty({ enum: ['amqp', 'kafka', 'http'] }) sourceType!: string;
  @ApiProperty({ nullable: true, type: Number, description: 'The version that runs.' })
  activeVersion!: number | null;
  @ApiProperty({ description: 'The newest stored version.' }) latestVersion!: number;
  @ApiProperty({ enum: ['running', 'stopped'] }) desiredState!: 'running' | 'stopped';
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class RouteViewDto extends RouteSummaryDto {
  @ApiProperty({ description: "The latest version's document.", allOf: [routeDocumentRef] })
  document!: object;
}

export class VersionSummaryDto {
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
  @ApiProperty({ enum: ['running', 'stopped', 'starting', 'failed', 'not-deployed'] })
  state!: string;
  @ApiProperty() inFlight!: number;
  @ApiProperty() processed!: number;
  @ApiProperty() failed!: number;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
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
}

export class DryRunRequestDto {
  @ApiProperty({ type: DryRunMessageDto })
  @IsObject()
  message!: DryRunMessageDto;

  @ApiPropertyOptional({
    description: 'Version to run; default the active one (else the latest).',
    minimum: 1,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
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
    maxLength: 524288,
  })
  @IsOptional()
  @IsString()
  @MaxLength(524288)
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
  @ApiProperty({ enum: ['amqp', 'kafka', 'http', 'log'] }) type!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) target!: object;
  @ApiProperty({ nullable: true, type: String }) routingKey!: string | null;
  @ApiProperty({ nullable: true, type: String }) key!: string | null;
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

export class ConnectionInputDto {
  @ApiProperty({ enum: ['amqp', 'kafka', 'http'] })
  @IsIn(['amqp', 'kafka', 'http'])
  type!: 'amqp' | 'kafka' | 'http';

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { url: 'amqp://guest@127.0.0.1:5672', vhost: '/' },
    description:
      'Per type: amqp {url, vhost, username, heartbeatSeconds}; kafka {brokers, clientId, ssl, sasl}; http {baseUrl, timeoutMs, headers}.',
  })
  @IsObject()
  config!: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', nullable: true },
    writeOnly: true,
    description:
      'Write-only. amqp: password, tlsKey; kafka: saslPassword, sslKey; http: bearerToken, basicPassword, hmacKey, tlsKey (PEM private keys of the client certificates in config). null removes one; absent ones are kept.',
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
  name!: string;
}

export class ConnectionDto {
  @ApiProperty({ example: 'rabbit' }) name!: string;
  @ApiProperty({ enum: ['amqp', 'kafka', 'http'] }) type!: string;
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
