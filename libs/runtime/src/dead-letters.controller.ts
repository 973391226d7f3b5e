import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseIntPipe,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
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
import type { ApiQueryOptions } from '@nestjs/swagger';
import { CurrentPrincipal, permits, Principal, RequirePermission } from '@junction/auth';
import { JunctionError } from '@junction/common';
import { ANY_JSON } from '@junction/registry';
import { DeadLetterPreviewService } from './dead-letter-preview.service';
import { DeadLettersService } from './dead-letters.service';
import { PreviewRequestDto, PreviewResultDto } from './replay-jobs.dto';

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

class DeadLetterReplayDto {
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'The version it ran through.' })
  version!: number | null;
  @ApiProperty({ enum: ['replayed', 'filtered', 'unroutable', 'dead-lettered'] }) outcome!: string;
  @ApiProperty({ type: String, nullable: true, description: 'Card numbers redacted.' })
  error!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Who replayed it (or started the job).',
  })
  by!: string | null;
  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'The replay job, if one did.',
  })
  jobId!: string | null;
}

class DeadLetterDetailDto extends DeadLetterDto {
  @ApiProperty({
    type: DeadLetterReplayDto,
    isArray: true,
    description: 'Every replay, oldest first.',
  })
  replayHistory!: DeadLetterReplayDto[];
  @ApiProperty({ description: 'The original payload (card numbers redacted).', ...ANY_JSON })
  payload!: unknown;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) headers!: Record<
    string,
    string
  >;
}

class ReasonCountDto {
  @ApiProperty({ example: 'SCHEMA_FAILED' }) reasonCode!: string;
  @ApiProperty() count!: number;
}

class RouteCountDto {
  @ApiProperty() routeId!: string;
  @ApiProperty() count!: number;
}

class RouteReasonCountDto {
  @ApiProperty() routeId!: string;
  @ApiProperty({ example: 'SCHEMA_FAILED' }) reasonCode!: string;
  @ApiProperty() count!: number;
}

class DeadLetterCountsDto {
  @ApiProperty({ description: 'Dead letters matching the filter.' }) total!: number;
  @ApiProperty({ type: ReasonCountDto, isArray: true, description: 'Most first.' })
  byReason!: ReasonCountDto[];
  @ApiProperty({ type: RouteCountDto, isArray: true, description: 'Most first.' })
  byRoute!: RouteCountDto[];
  @ApiProperty({ type: RouteReasonCountDto, isArray: true })
  byRouteAndReason!: RouteReasonCountDto[];
}

/** The filter every dead-letter query takes (list, counts; replay jobs and previews take it as `filter`). */
export const DEAD_LETTER_FILTER_QUERY: ApiQueryOptions[] = [
  { name: 'routeId', required: false },
  {
    name: 'reasonCode',
    required: false,
    description: 'One reason code, or several separated by commas (any of them).',
    example: 'SCHEMA_FAILED',
  },
  {
    name: 'from',
    required: false,
    description: 'ISO date-time: created at or after',
  },
  { name: 'to', required: false, description: 'ISO date-time: created before' },
  {
    name: 'q',
    required: false,
    description:
      'Case-insensitive text in the reason (card numbers redacted; the payload is never searched). At most 200 characters.',
  },
];

function ApiDeadLetterFilter(): MethodDecorator {
  return (target, key, descriptor) => {
    for (const q of DEAD_LETTER_FILTER_QUERY) ApiQuery(q)(target, key, descriptor);
  };
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
  constructor(
    private readonly deadLetters: DeadLettersService,
    private readonly previews: DeadLetterPreviewService,
  ) {}

  @Get()
  @RequirePermission('deadletters.read')
  @ApiOperation({
    summary: 'Dead letters, newest first (payloads are not listed)',
    description:
      'Pages in a stable order (created, then id). When a page is full, the `Junction-Next-Cursor` header holds the cursor of the next page: pass it as `cursor` with the same filter.',
  })
  @ApiDeadLetterFilter()
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1-500, default 50' })
  @ApiQuery({
    name: 'cursor',
    required: false,
    description: 'Opaque: the `Junction-Next-Cursor` header of the previous page',
  })
  @ApiQuery({
    name: 'before',
    required: false,
    description: 'ISO date-time: older ones only',
  })
  @ApiOkResponse({
    type: DeadLetterDto,
    isArray: true,
    headers: {
      'Junction-Next-Cursor': {
        description: 'Present when there may be a next page: its cursor.',
        schema: { type: 'string' },
      },
    },
  })
  async list(
    @Res({ passthrough: true }) reply: FastifyReply,
    @Query('routeId') routeId?: string,
    @Query('reasonCode') reasonCode?: string | string[],
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('q') q?: string,
    @Query('limit', new ParseIntPipe({ optional: true })) limit?: number,
    @Query('cursor') cursor?: string,
    @Query('before') before?: string,
  ): Promise<DeadLetterDto[]> {
    const page = await this.deadLetters.list({
      routeId,
      reasonCode,
      from,
      to,
      q,
      limit,
      cursor,
      before,
    });
    if (page.nextCursor) void reply.header('Junction-Next-Cursor', page.nextCursor);
    return page.items;
  }

  @Get('counts')
  @RequirePermission('deadletters.read')
  @ApiOperation({ summary: 'How many dead letters match a filter, by reason code and by route' })
  @ApiDeadLetterFilter()
  @ApiOkResponse({ type: DeadLetterCountsDto })
  counts(
    @Query('routeId') routeId?: string,
    @Query('reasonCode') reasonCode?: string | string[],
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('q') q?: string,
  ): Promise<DeadLetterCountsDto> {
    return this.deadLetters.counts({ routeId, reasonCode, from, to, q });
  }

  @Post('preview')
  @HttpCode(200)
  @RequirePermission('deadletters.read')
  @ApiOperation({
    summary:
      'What a fix would do: run matching dead letters through a draft or version, delivering nothing',
    description:
      "Runs up to `limit` (at most 1000) of the dead letters the filter matches, newest first, through `document` (a draft of filter.routeId), `version`, or each route's active version, as POST /routes/{id}/test does, and reports per reason code how many would now be delivered, with up to 3 before/after traces each (card numbers redacted).",
  })
  @ApiOkResponse({ type: PreviewResultDto })
  preview(
    @Body() body: PreviewRequestDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<PreviewResultDto> {
    // A draft is code of the caller's own, run over the stored payloads as they came in (card
    // numbers and all), and the traces show what it made of them: a draft that spells a card
    // number another way ($split, $reverse) gets it past redaction. Only who may write the
    // route itself (and so could make it deliver anything) may run one; a stored version
    // (written by such a user) or the active one is for anyone who may read dead letters.
    if (body.document !== undefined && !permits(principal.roles, 'routes.write'))
      throw new JunctionError(
        'FORBIDDEN',
        "previewing a draft document needs the 'routes.write' permission (give a stored version instead)",
      );
    return this.previews.preview(body) as Promise<PreviewResultDto>;
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
  replay(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ReplayResultDto> {
    return this.deadLetters.replay(id, undefined, { name: principal.name });
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
