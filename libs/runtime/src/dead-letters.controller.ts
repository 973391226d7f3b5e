import {
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseIntPipe,
  ParseUUIDPipe,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiQuery,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { RequirePermission } from '@junction/auth';
import { ANY_JSON } from '@junction/registry';
import { DeadLettersService } from './dead-letters.service';

class DeadLetterDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() messageId!: string;
  @ApiProperty() routeId!: string;
  @ApiProperty() routeVersion!: number;
  @ApiProperty({
    description:
      "The route's incarnation routeVersion belongs to: 1, or more once the id was deleted and created again.",
  })
  routeIncarnation!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Queue, topic/partition/offset or ingest path.',
  })
  source!: unknown;
  @ApiProperty({ example: 'SCHEMA_FAILED' }) reasonCode!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ type: String, nullable: true, example: '/pipeline/0 (validate)' }) failedAt!:
    string | null;
  @ApiProperty() attempts!: number;
  @ApiProperty({ description: 'SHA-256 of the original payload.' }) payloadSha256!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) replayedAt!: string | null;
  @ApiProperty() replays!: number;
  @ApiProperty({ type: String, nullable: true }) lastReplayError!: string | null;
}

class DeadLetterDetailDto extends DeadLetterDto {
  @ApiProperty({ description: 'The original payload (card numbers redacted).', ...ANY_JSON })
  payload!: unknown;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) headers!: Record<
    string,
    string
  >;
}

class ReplayResultDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['replayed', 'filtered', 'unroutable', 'dead-lettered'] }) outcome!: string;
  @ApiPropertyOptional({
    type: 'object',
    properties: {
      code: { type: 'string' },
      message: { type: 'string' },
      where: { type: 'string' },
    },
  })
  error?: unknown;
}

@ApiTags('dead-letters')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLettersService) {}

  @Get()
  @RequirePermission('deadletters.read')
  @ApiOperation({ summary: 'Dead letters, newest first (payloads are not listed)' })
  @ApiQuery({ name: 'routeId', required: false })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1-500, default 50' })
  @ApiQuery({
    name: 'before',
    required: false,
    description: 'ISO date-time: older ones only (paging)',
  })
  @ApiOkResponse({ type: DeadLetterDto, isArray: true })
  list(
    @Query('routeId') routeId?: string,
    @Query('limit', new ParseIntPipe({ optional: true })) limit?: number,
    @Query('before') before?: string,
  ): Promise<DeadLetterDto[]> {
    return this.deadLetters.list({ routeId, limit, before });
  }

  @Get(':id')
  @RequirePermission('deadletters.read')
  @ApiOperation({ summary: 'One dead letter with its payload (card numbers redacted)' })
  @ApiOkResponse({ type: DeadLetterDetailDto })
  get(@Param('id', new ParseUUIDPipe()) id: string): Promise<DeadLetterDetailDto> {
    return this.deadLetters.get(id);
  }

  @Post(':id/replay')
  @HttpCode(200)
  @RequirePermission('deadletters.write')
  @ApiOperation({ summary: "Run the original message again through the route's running version" })
  @ApiOkResponse({ type: ReplayResultDto })
  replay(@Param('id', new ParseUUIDPipe()) id: string): Promise<ReplayResultDto> {
    return this.deadLetters.replay(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('deadletters.write')
  @ApiOperation({ summary: 'Delete a dead letter' })
  @ApiNoContentResponse()
  async remove(@Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.deadLetters.delete(id);
  }
}
