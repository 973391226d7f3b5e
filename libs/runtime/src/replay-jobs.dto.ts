import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
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
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) routeId?: string;

  @ApiPropertyOptional({ type: [String], description: 'Any of these reason codes.' })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @MaxLength(100, { each: true })
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
      "Replay through this version of the route (needs filter.routeId); default: the version running when each item is replayed. Another version than the running one is used for these replays only; it takes nothing from the route's source.",
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
