import {
  Body,
  Controller,
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
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiSecurity,
  ApiTags,
  ApiTooManyRequestsResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import { CurrentPrincipal, permits, Principal, RequirePermission } from '@junction/auth';
import { CreateReplayJobDto, ReplayJobDryRunDto, ReplayJobDto } from './replay-jobs.dto';
import { ReplayJobsService } from './replay-jobs.service';

@ApiTags('dead-letters')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@ApiExtraModels(ReplayJobDto, ReplayJobDryRunDto)
@Controller('api/v1/dead-letters/replay-jobs')
export class ReplayJobsController {
  constructor(private readonly jobs: ReplayJobsService) {}

  @Post()
  @RequirePermission('deadletters.write')
  @ApiOperation({
    summary: 'Replay every dead letter a filter matches, as a job (or count them: dryRun)',
    description:
      'Answers 202 with the job; it runs in the background on any gateway process (resumed by another if its process stops) at most `ratePerSecond`. With `dryRun: true` answers 200 with the count only. One job covers at most 100,000 dead letters: a filter matching more is refused (400 `REPLAY_JOB_TOO_LARGE`); replay a larger backlog with several jobs over narrower filters (`from`/`to` windows).',
  })
  @ApiAcceptedResponse({ type: ReplayJobDto, description: 'The job, queued.' })
  @ApiOkResponse({
    description: 'dryRun: how many dead letters match.',
    schema: { $ref: getSchemaPath(ReplayJobDryRunDto) },
  })
  @ApiBadRequestResponse({
    description:
      'A bad filter, version or rate; or REPLAY_JOB_TOO_LARGE: the filter matches more than 100,000 dead letters, the most one job takes (narrow it).',
  })
  @ApiConflictResponse({
    description:
      'TOO_MANY_REPLAY_JOBS: 20 jobs are open (queued or running) already; wait for one to end, or cancel one.',
  })
  @ApiTooManyRequestsResponse({
    description: 'Another job is being created just now: send again after Retry-After.',
  })
  async create(
    @Body() body: CreateReplayJobDto,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ReplayJobDto | ReplayJobDryRunDto> {
    const result = await this.jobs.create(
      {
        filter: body.filter,
        version: body.version,
        ratePerSecond: body.ratePerSecond,
        dryRun: body.dryRun,
      },
      {
        name: principal.name,
        kind: principal.kind,
        mayActivate: permits(principal.roles, 'routes.activate'),
      },
    );
    void reply.status('dryRun' in result ? 200 : 202);
    return result as ReplayJobDto | ReplayJobDryRunDto;
  }

  @Get()
  @RequirePermission('deadletters.read')
  @ApiOperation({ summary: 'Replay jobs, newest first' })
  @ApiQuery({
    name: 'state',
    required: false,
    enum: ['queued', 'running', 'done', 'cancelled', 'failed'],
  })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1-500, default 50' })
  @ApiOkResponse({ type: ReplayJobDto, isArray: true })
  list(
    @Query('state') state?: string,
    @Query('limit', new ParseIntPipe({ optional: true })) limit?: number,
  ): Promise<ReplayJobDto[]> {
    return this.jobs.list(limit, state) as Promise<ReplayJobDto[]>;
  }

  @Get(':id')
  @RequirePermission('deadletters.read')
  @ApiOperation({ summary: 'One replay job and its progress' })
  @ApiOkResponse({ type: ReplayJobDto })
  get(@Param('id', new ParseUUIDPipe()) id: string): Promise<ReplayJobDto> {
    return this.jobs.get(id) as Promise<ReplayJobDto>;
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @RequirePermission('deadletters.write')
  @ApiOperation({
    summary: 'Cancel a replay job: at once when queued, before its next item when running',
  })
  @ApiOkResponse({ type: ReplayJobDto })
  cancel(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ReplayJobDto> {
    return this.jobs.cancel(id, {
      name: principal.name,
      kind: principal.kind,
    }) as Promise<ReplayJobDto>;
  }
}
