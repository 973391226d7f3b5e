import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { HoldsNoCardNumber } from '@junction/common';
import { DryRunResultDto } from '@junction/registry';
import {
  IsArray,
  IsBoolean,
  IsInt,
  IsISO8601,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

/** Which dead letters: the same filter as `GET /dead-letters`, as JSON. */
export class DeadLetterFilterDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @HoldsNoCardNumber()
  routeId?: string;

  @ApiPropertyOptional({ type: [String], description: 'Any of these reason codes.' })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  @HoldsNoCardNumber({ each: true })
  reasonCode?: string[];

  @ApiPropertyOptional({ format: 'date-time', description: 'Created at or after.' })
  @IsOptional()
  @IsISO8601()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Created before.' })
  @IsOptional()
  @IsISO8601()
  to?: string;

  @ApiPropertyOptional({
    maxLength: 200,
    description: 'Text in the reason, card numbers redacted (the payload is never searched).',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  // It would find nothing (reasons are kept redacted), and a job keeps its filter and lists it to
  // every operator, whose console puts it back into the search box.
  @HoldsNoCardNumber()
  q?: string;
}

export class CreateReplayJobDto {
  @ApiProperty({ type: DeadLetterFilterDto })
  @IsObject()
  @ValidateNested()
  @Type(() => DeadLetterFilterDto)
  filter!: DeadLetterFilterDto;

  @ApiPropertyOptional({
    minimum: 1,
    description:
      "Replay through this version of the route (needs filter.routeId); default: the version running when each item is replayed. Another version than the running one is used for these replays only; it takes nothing from the route's source. Choosing one other than the running one runs it as activating it would, so it needs the 'routes.activate' permission too (403 otherwise).",
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  version?: number;

  @ApiPropertyOptional({
    minimum: 0.001,
    maximum: 10000,
    description: 'Most replays per second; default: as fast as they go.',
  })
  @IsOptional()
  @IsNumber()
  @Min(0.001)
  @Max(10_000)
  ratePerSecond?: number;

  @ApiPropertyOptional({
    description: 'Only count the dead letters that match; no job is created.',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}

export class ReplayJobFilterViewDto {
  @ApiPropertyOptional() routeId?: string;
  @ApiPropertyOptional({ type: [String] }) reasonCodes?: string[];
  @ApiPropertyOptional({ format: 'date-time' }) from?: string;
  @ApiPropertyOptional({ format: 'date-time' }) to?: string;
  @ApiPropertyOptional() q?: string;
}

export class ReplayJobDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['queued', 'running', 'done', 'cancelled', 'failed'] }) state!:
    'queued' | 'running' | 'done' | 'cancelled' | 'failed';
  @ApiProperty({ type: ReplayJobFilterViewDto }) filter!: ReplayJobFilterViewDto;
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'The version replayed through; null: the running one.',
  })
  version!: number | null;
  @ApiProperty({ type: Number, nullable: true }) ratePerSecond!: number | null;
  @ApiProperty({ description: 'Dead letters the job covers (fixed when it was created).' })
  total!: number;
  @ApiProperty({ description: 'Replayed and delivered.' }) done!: number;
  @ApiProperty({ description: 'Replayed and failed again, gone, or interrupted.' })
  failed!: number;
  @ApiProperty({ description: 'Who created the job.' }) startedBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) startedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finishedAt!: string | null;
  @ApiProperty({ description: 'A cancel was asked; a running job stops before its next item.' })
  cancelRequested!: boolean;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
}

export class ReplayJobDryRunDto {
  @ApiProperty({ enum: [true] }) dryRun!: true;
  @ApiProperty({ description: 'Dead letters that match now.', example: 412 }) total!: number;
}

export class PreviewRequestDto {
  @ApiProperty({ type: DeadLetterFilterDto })
  @IsObject()
  @ValidateNested()
  @Type(() => DeadLetterFilterDto)
  filter!: DeadLetterFilterDto;

  @ApiPropertyOptional({
    minimum: 1,
    description:
      "A stored version of filter.routeId to run them through (default: each route's active one).",
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  version?: number;

  @ApiPropertyOptional({
    oneOf: [
      { type: 'object', additionalProperties: true, description: 'A route document' },
      { type: 'string', description: 'A route document as YAML or JSON text' },
    ],
    description:
      'A draft of filter.routeId to run them through (checked as POST /routes/validate does); not stored.',
  })
  @IsOptional()
  document?: unknown;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 1000,
    default: 1000,
    description: 'Most dead letters run (newest first).',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class PreviewBeforeDto {
  @ApiProperty({ description: 'The version that dead-lettered it.' }) version!: number;
  @ApiProperty() reasonCode!: string;
  @ApiProperty({ description: 'Card numbers redacted.' }) reason!: string;
  @ApiProperty({ type: String, nullable: true }) failedAt!: string | null;
  @ApiProperty({
    type: DryRunResultDto,
    nullable: true,
    description: 'Its run through that version now; null when the version is no longer stored.',
  })
  run!: DryRunResultDto | null;
}

export class PreviewExampleDto {
  @ApiProperty({ format: 'uuid' }) deadLetterId!: string;
  @ApiProperty() messageId!: string;
  @ApiProperty() routeId!: string;
  @ApiProperty({ type: PreviewBeforeDto }) before!: PreviewBeforeDto;
  @ApiProperty({ type: DryRunResultDto }) after!: DryRunResultDto;
}

export class PreviewReasonDto {
  @ApiProperty({ example: 'SCHEMA_FAILED' }) reasonCode!: string;
  @ApiProperty({ description: 'Dead letters of this reason that were run (M).' }) total!: number;
  @ApiProperty({ description: 'Of them, how many would now be delivered (N).' })
  wouldDeliver!: number;
  @ApiProperty({ description: 'Filtered out or unroutable.' }) dropped!: number;
  @ApiProperty({ description: 'Would fail again.' }) failed!: number;
  @ApiProperty({ type: PreviewExampleDto, isArray: true, description: 'Up to 3.' })
  examples!: PreviewExampleDto[];
}

export class PreviewResultDto {
  @ApiProperty({
    oneOf: [{ type: 'integer' }, { type: 'string', enum: ['draft'] }],
    nullable: true,
    description: "The version run; `draft`; null: each route's active one.",
  })
  version!: number | 'draft' | null;
  @ApiProperty({ description: 'Dead letters run.' }) evaluated!: number;
  @ApiProperty({ description: 'Dead letters the filter matches.' }) matched!: number;
  @ApiProperty({ description: 'More matched than were run (the limit, or the time budget).' })
  truncated!: boolean;
  @ApiProperty({
    description:
      'The preview stopped at its time budget (2 s of pipeline runs) before running every dead letter it read: `evaluated` says how many ran.',
  })
  cutShort!: boolean;
  @ApiProperty() wouldDeliver!: number;
  @ApiProperty({ type: PreviewReasonDto, isArray: true }) byReason!: PreviewReasonDto[];
}
