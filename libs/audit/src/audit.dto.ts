import { ANY_JSON } from '@junction/registry';
import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

export const MESSAGE_OUTCOMES = [
  'delivered',
  'filtered',
  'unroutable',
  'dead-lettered',
  'replayed',
] as const;
export const EVENT_OUTCOMES = ['success', 'failure', 'denied'] as const;

class TimeRangeDto {
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Recorded at or after this time (ISO 8601).',
  })
  @IsOptional()
  @IsISO8601()
  from?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Recorded before this time (ISO 8601).',
  })
  @IsOptional()
  @IsISO8601()
  to?: string;
}

class PagingDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: "The previous page's `nextCursor`." })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

class MessageFiltersDto extends TimeRangeDto {
  @ApiPropertyOptional({ example: 'orders-eu' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  routeId?: string;

  @ApiPropertyOptional({
    description: "The message's id (AMQP messageId, Kafka junction-id, HTTP Idempotency-Key).",
  })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  messageId?: string;

  @ApiPropertyOptional({
    description: 'The W3C trace id (32 hex digits) the message travelled in.',
    pattern: '^[0-9a-f]{32}$',
    example: '4bf92f3577b34da6a3ce929d0e0e4736',
  })
  @IsOptional()
  @Matches(/^[0-9a-f]{32}$/, { message: 'traceId must be 32 lower-case hex digits' })
  traceId?: string;

  @ApiPropertyOptional({
    description:
      'Start of a destination name: `kafka:<topic>`, `amqp:<exchange>/<routing key>`, `http:<url>` or `log`.',
    example: 'kafka:orders.eu',
  })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  destination?: string;

  @ApiPropertyOptional({
    description:
      'Free text in the ids: message id, route id, error code, source name (events: actor, type, target id, address).',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;
}

class MessageOutcomeDto {
  @ApiPropertyOptional({ enum: MESSAGE_OUTCOMES })
  @IsOptional()
  @IsIn(MESSAGE_OUTCOMES)
  outcome?: string;
}

class EventFiltersDto extends TimeRangeDto {
  @ApiPropertyOptional({
    example: 'route.updated',
    description: 'e.g. login.failed, request.denied, connection.updated, apikey.created',
  })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  type?: string;

  @ApiPropertyOptional({ description: 'User or API key name.' })
  @IsOptional()
  @IsString()
  @MaxLength(300)
  actor?: string;

  @ApiPropertyOptional({ enum: ['route', 'connection', 'user', 'apiKey', 'deadLetter', 'api'] })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  targetType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(300)
  targetId?: string;

  @ApiPropertyOptional({ description: 'Free text in the actor, type, target id or address.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;
}

class EventOutcomeDto {
  @ApiPropertyOptional({ enum: EVENT_OUTCOMES })
  @IsOptional()
  @IsIn(EVENT_OUTCOMES)
  outcome?: string;
}

export class MessageQueryDto extends IntersectionType(
  MessageFiltersDto,
  MessageOutcomeDto,
  PagingDto,
) {}

export class EventQueryDto extends IntersectionType(EventFiltersDto, EventOutcomeDto, PagingDto) {}

class ExportFormatDto {
  @ApiProperty({ enum: ['csv', 'ndjson'] })
  @IsIn(['csv', 'ndjson'])
  format!: 'csv' | 'ndjson';

  @ApiPropertyOptional({ enum: ['messages', 'events'], default: 'messages' })
  @IsOptional()
  @IsIn(['messages', 'events'])
  kind?: 'messages' | 'events';

  @ApiPropertyOptional({
    enum: [...MESSAGE_OUTCOMES, ...EVENT_OUTCOMES],
    description: "A message outcome, or an event's with kind=events.",
  })
  @IsOptional()
  @IsIn([...MESSAGE_OUTCOMES, ...EVENT_OUTCOMES])
  outcome?: string;
}

/** The filters of GET /audit/messages (or, with kind=events, of GET /audit/events). */
export class ExportQueryDto extends IntersectionType(
  ExportFormatDto,
  MessageFiltersDto,
  EventFiltersDto,
) {}

export class VerifyQueryDto extends TimeRangeDto {
  @ApiPropertyOptional({
    enum: ['messages', 'events'],
    description: 'One chain only (default: both).',
  })
  @IsOptional()
  @IsIn(['messages', 'events'])
  table?: 'messages' | 'events';
}

export class AuditErrorDto {
  @ApiProperty({ type: String, nullable: true, example: 'SCHEMA_FAILED' }) code!: string | null;
  @ApiProperty({ type: String, nullable: true }) message!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'pipeline/0 (validate)' }) where!:
    string | null;
}

export class MessageAuditDto {
  @ApiProperty({ description: "This record's place in the hash chain (what `verify` names)." })
  id!: string;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
  @ApiProperty() messageId!: string;
  @ApiProperty() routeId!: string;
  @ApiProperty() routeVersion!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Source type and name; partition and offset for Kafka.',
  })
  source!: unknown;
  @ApiProperty({ enum: MESSAGE_OUTCOMES }) outcome!: string;
  @ApiProperty({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: 'Each destination that confirmed, with its receipt: `[{ destination, receipt }]`.',
  })
  destinations!: unknown;
  @ApiProperty() attempts!: number;
  @ApiProperty({ format: 'date-time' }) receivedAt!: string;
  @ApiProperty({ format: 'date-time' }) doneAt!: string;
  @ApiProperty({ type: AuditErrorDto, nullable: true }) error!: AuditErrorDto | null;
  @ApiProperty({
    description:
      "The body after the route's masking, card numbers redacted; null when the route keeps no payload.",
    ...ANY_JSON,
  })
  body!: unknown;
  @ApiProperty({ description: 'Hex SHA-256 of the payload as received.' }) payloadSha256!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'The W3C trace id (from the `traceparent` the message came with, or the trace tracing started); null when none.',
    example: '4bf92f3577b34da6a3ce929d0e0e4736',
  })
  traceId!: string | null;
  @ApiProperty({ description: 'Hex hash of the previous record in the chain.' }) prevHash!: string;
  @ApiProperty({ description: 'Hex SHA-256 over prevHash and this record.' }) hash!: string;
}

export class MessagePageDto {
  @ApiProperty({ type: MessageAuditDto, isArray: true }) items!: MessageAuditDto[];
  @ApiProperty({ type: String, nullable: true, description: 'For the next, older page.' })
  nextCursor!: string | null;
}

export class MessageTrailDto {
  @ApiProperty() messageId!: string;
  @ApiProperty({
    type: MessageAuditDto,
    isArray: true,
    description: 'Every route and replay, oldest first.',
  })
  records!: MessageAuditDto[];
  @ApiProperty({
    type: () => EventAuditDto,
    isArray: true,
    description:
      'The replays of this message (`deadletter.replayed` events, one per replay or bulk-replay item), oldest first: who triggered each (`actor`), the dead letter (`target.id`), the job and the version it went through (`details`).',
  })
  replays!: EventAuditDto[];
}

export class AuditTargetDto {
  @ApiProperty({ type: String, nullable: true, example: 'route' }) type!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'orders-eu' }) id!: string | null;
}

export class EventAuditDto {
  @ApiProperty() id!: string;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty({ example: 'route.updated' }) type!: string;
  @ApiProperty({ enum: EVENT_OUTCOMES }) outcome!: string;
  @ApiProperty({ example: 'alice' }) actor!: string;
  @ApiProperty({ type: String, nullable: true, enum: ['user', 'apiKey', 'anonymous', 'system'] })
  actorKind!: string | null;
  @ApiProperty({ type: String, nullable: true }) provider!: string | null;
  @ApiProperty({ type: String, nullable: true }) ip!: string | null;
  @ApiProperty({ type: AuditTargetDto, nullable: true }) target!: AuditTargetDto | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) details!: unknown;
  @ApiProperty({ description: 'State before the change, secrets removed.', ...ANY_JSON })
  before!: unknown;
  @ApiProperty({ description: 'State after the change, secrets removed.', ...ANY_JSON })
  after!: unknown;
  @ApiProperty({ description: 'RFC 6902 operations from before to after.', ...ANY_JSON })
  diff!: unknown;
  @ApiProperty() prevHash!: string;
  @ApiProperty() hash!: string;
}

export class EventPageDto {
  @ApiProperty({ type: EventAuditDto, isArray: true }) items!: EventAuditDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class ChainHeadDto {
  @ApiProperty() id!: string;
  @ApiProperty() hash!: string;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
}

export class TableVerifyDto {
  @ApiProperty({ enum: ['audit_messages', 'audit_events'] }) table!: string;
  @ApiProperty() ok!: boolean;
  @ApiProperty() checked!: number;
  @ApiPropertyOptional() firstBrokenId?: string;
  @ApiPropertyOptional() reason?: string;
  @ApiProperty({
    type: ChainHeadDto,
    description: 'Keep it elsewhere: it proves what the chain held at this time.',
  })
  head!: ChainHeadDto;
}

export class AnchoredHeadDto {
  @ApiProperty({ enum: ['audit_messages', 'audit_events'] }) table!: string;
  @ApiProperty({ example: '1042' }) seq!: string;
}

export class AnchorSummaryDto {
  @ApiProperty({ description: 'The anchor file.' }) file!: string;
  @ApiProperty({ format: 'date-time' }) signedAt!: string;
  @ApiProperty({ description: 'Whether every record it signed is still as signed.' })
  matched!: boolean;
  @ApiProperty({
    type: () => AnchoredHeadDto,
    isArray: true,
    description: 'The chain heads it signed.',
  })
  chains!: AnchoredHeadDto[];
}

export class AnchorVerifyDto {
  @ApiProperty({
    description:
      'Whether a signing key is configured; without one no anchor proves the older records.',
  })
  configured!: boolean;
  @ApiPropertyOptional({ description: 'Every published anchor verifies and matches the database.' })
  ok?: boolean;
  @ApiPropertyOptional({ description: 'Anchors checked (signature verified, records compared).' })
  checked?: number;
  @ApiPropertyOptional({
    description:
      'Records the anchors signed that retention has since dropped (whole days): compare with your retention policy.',
  })
  droppedByRetention?: number;
  @ApiPropertyOptional({
    type: AnchorSummaryDto,
    description: 'The newest anchor checked, and whether it matched.',
  })
  lastAnchor?: AnchorSummaryDto;
  @ApiPropertyOptional({
    type: AnchorSummaryDto,
    isArray: true,
    description: 'Every anchor checked, oldest first (in a verification report only).',
  })
  anchors?: AnchorSummaryDto[];
  @ApiPropertyOptional() firstBrokenId?: string;
  @ApiPropertyOptional({ enum: ['audit_messages', 'audit_events'] }) firstBrokenTable?: string;
  @ApiPropertyOptional() reason?: string;
}

export class VerifyResultDto {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ description: 'Records checked.' }) checked!: number;
  @ApiPropertyOptional({ description: 'The first record that does not verify.' })
  firstBrokenId?: string;
  @ApiPropertyOptional({ enum: ['audit_messages', 'audit_events'] }) firstBrokenTable?: string;
  @ApiPropertyOptional() reason?: string;
  @ApiProperty({ type: TableVerifyDto, isArray: true }) tables!: TableVerifyDto[];
  @ApiProperty({
    type: AnchorVerifyDto,
    description: 'The records compared with the signed anchors published outside the database.',
  })
  anchors!: AnchorVerifyDto;
}

export class ReportActorDto {
  @ApiProperty({ example: 'ada' }) name!: string;
  @ApiProperty({ enum: ['user', 'apiKey'] }) kind!: string;
  @ApiProperty({ type: String, nullable: true, example: 'local' }) provider!: string | null;
}

export class ReportRangeDto {
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) from!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) to!: string | null;
  @ApiProperty({ type: String, nullable: true, enum: ['messages', 'events'] }) table!:
    'messages' | 'events' | null;
}

export class BrokenRecordDto {
  @ApiProperty({ enum: ['audit_messages', 'audit_events'] }) table!: string;
  @ApiProperty({ description: "The record's place in its chain (seq)." }) id!: string;
  @ApiProperty() reason!: string;
}

export class ReportResultDto {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ description: 'Records checked.' }) checked!: number;
  @ApiProperty({ type: BrokenRecordDto, nullable: true }) firstBroken!: BrokenRecordDto | null;
  @ApiProperty({ type: String, nullable: true }) reason!: string | null;
  @ApiProperty({ type: TableVerifyDto, isArray: true }) tables!: TableVerifyDto[];
  @ApiProperty({ type: AnchorVerifyDto }) anchors!: AnchorVerifyDto;
}

export class ReportSignerDto {
  @ApiProperty({ enum: ['Ed25519'] }) algorithm!: 'Ed25519';
  @ApiProperty({ description: 'First 16 hex digits of the SHA-256 of the public key (SPKI DER).' })
  keyId!: string;
  @ApiProperty({ description: 'The public key, PEM (SPKI).' }) publicKey!: string;
}

export class VerificationReportDto {
  @ApiProperty({ enum: ['junction-audit-verification/v1'] }) format!: string;
  @ApiProperty({ format: 'uuid', description: 'Also in the `audit.verified` event of this run.' })
  id!: string;
  @ApiProperty({ format: 'date-time' }) generatedAt!: string;
  @ApiProperty({ type: ReportActorDto }) ranBy!: ReportActorDto;
  @ApiProperty({ type: ReportRangeDto }) range!: ReportRangeDto;
  @ApiProperty({ type: ReportResultDto }) result!: ReportResultDto;
  @ApiProperty({ type: ReportSignerDto, nullable: true }) signer!: ReportSignerDto | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'Base64 Ed25519 signature over the canonical JSON (keys sorted, no spaces) of every other field; null when the gateway has no signing key.',
  })
  signature!: string | null;
}
