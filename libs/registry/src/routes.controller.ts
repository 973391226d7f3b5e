import {
  Body,
  Controller,
  DefaultValuePipe,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseBoolPipe,
  ParseIntPipe,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, Principal, RequirePermission } from '@junction/auth';
import {
  DryRunRequestDto,
  ErrorDto,
  DryRunResultDto,
  RouteStatusDto,
  RouteListItemDto,
  RouteViewDto,
  routeDocumentRef,
  ValidationResultDto,
  VersionSummaryDto,
  VersionViewDto,
} from './registry.dto';
import { RoutesService } from './routes.service';

const optionalInt = new ParseIntPipe({ optional: true });

@ApiTags('routes')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/routes')
export class RoutesController {
  constructor(private readonly routes: RoutesService) {}

  @Post('validate')
  @HttpCode(200)
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'Check a route document: every problem, by JSON pointer (connections included)',
  })
  @ApiBody({ schema: routeDocumentRef })
  @ApiOkResponse({ type: ValidationResultDto })
  async validate(@Body() document: unknown): Promise<ValidationResultDto> {
    const problems = await this.routes.problems(document);
    return { valid: problems.length === 0, problems };
  }

  @Get()
  @RequirePermission('routes.read')
  @ApiOperation({ summary: 'List routes' })
  @ApiOkResponse({ type: RouteListItemDto, isArray: true })
  list(): Promise<RouteListItemDto[]> {
    return this.routes.list();
  }

  @Post()
  @RequirePermission('routes.write')
  @ApiOperation({ summary: 'Create a route: stores version 1 and activates it' })
  @ApiBody({ schema: routeDocumentRef })
  @ApiQuery({ name: 'comment', required: false, description: 'Why (kept with the version).' })
  @ApiCreatedResponse({ type: RouteViewDto })
  @ApiConflictResponse({
    type: ErrorDto,
    description:
      'The id exists, or the ingest path (normalised) belongs to another route: `details.routeId` names it.',
  })
  create(
    @Body() document: unknown,
    @CurrentPrincipal() actor: Principal,
    @Query('comment') comment?: string,
  ): Promise<RouteViewDto> {
    return this.routes.create(document, actor.name, comment);
  }

  @Get(':id')
  @RequirePermission('routes.read')
  @ApiOperation({
    summary:
      'A route with the document that runs (its active version); activeVersion and latestVersion say which is which',
  })
  @ApiOkResponse({ type: RouteViewDto })
  get(@Param('id') id: string): Promise<RouteViewDto> {
    return this.routes.get(id);
  }

  @Put(':id')
  @RequirePermission('routes.write')
  @ApiOperation({
    summary: 'Store a new version (an unchanged document stores none); it runs once activated',
  })
  @ApiBody({ schema: routeDocumentRef })
  @ApiQuery({
    name: 'activate',
    required: false,
    type: Boolean,
    description: 'Activate the new version at once.',
  })
  @ApiQuery({ name: 'comment', required: false })
  @ApiOkResponse({ type: RouteViewDto })
  @ApiConflictResponse({
    type: ErrorDto,
    description:
      'The id exists, or the ingest path (normalised) belongs to another route: `details.routeId` names it.',
  })
  update(
    @Param('id') id: string,
    @Body() document: unknown,
    @CurrentPrincipal() actor: Principal,
    @Query('activate', new DefaultValuePipe(false), ParseBoolPipe) activate: boolean,
    @Query('comment') comment?: string,
  ): Promise<RouteViewDto> {
    return this.routes.update(id, document, actor.name, { activate, comment });
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('routes.write')
  @ApiOperation({ summary: 'Stop and delete a route (its versions are kept as history)' })
  @ApiNoContentResponse()
  async remove(@Param('id') id: string): Promise<void> {
    await this.routes.delete(id);
  }

  @Get(':id/versions')
  @RequirePermission('routes.read')
  @ApiOperation({ summary: 'Version history, newest first' })
  @ApiQuery({
    name: 'incarnation',
    required: false,
    type: Number,
    description: "An earlier incarnation's versions (the route was deleted and created again).",
  })
  @ApiOkResponse({ type: VersionSummaryDto, isArray: true })
  versions(
    @Param('id') id: string,
    @Query('incarnation', optionalInt) incarnation?: number,
  ): Promise<VersionSummaryDto[]> {
    return this.routes.versions(id, incarnation);
  }

  @Get(':id/versions/:version')
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'One version; with diffFrom, also the JSON Patch from that version to this one',
  })
  @ApiQuery({ name: 'diffFrom', required: false, type: Number })
  @ApiQuery({ name: 'incarnation', required: false, type: Number })
  @ApiOkResponse({ type: VersionViewDto })
  version(
    @Param('id') id: string,
    @Param('version', ParseIntPipe) version: number,
    @Query('diffFrom', optionalInt) diffFrom?: number,
    @Query('incarnation', optionalInt) incarnation?: number,
  ): Promise<VersionViewDto> {
    return this.routes.version(id, version, diffFrom, incarnation);
  }

  @Post(':id/versions/:version/activate')
  @HttpCode(200)
  @RequirePermission('routes.activate')
  @ApiOperation({ summary: 'Deploy a version, or roll back to an older one' })
  @ApiOkResponse({ type: RouteViewDto })
  @ApiConflictResponse({
    type: ErrorDto,
    description:
      'The id exists, or the ingest path (normalised) belongs to another route: `details.routeId` names it.',
  })
  activate(
    @Param('id') id: string,
    @Param('version', ParseIntPipe) version: number,
  ): Promise<RouteViewDto> {
    return this.routes.activate(id, version);
  }

  @Post(':id/start')
  @HttpCode(200)
  @RequirePermission('routes.run')
  @ApiOperation({ summary: 'Run the active version' })
  @ApiOkResponse({ type: RouteViewDto })
  @ApiConflictResponse({
    type: ErrorDto,
    description:
      'The id exists, or the ingest path (normalised) belongs to another route: `details.routeId` names it.',
  })
  start(@Param('id') id: string): Promise<RouteViewDto> {
    return this.routes.setRunState(id, 'running');
  }

  @Post(':id/stop')
  @HttpCode(200)
  @RequirePermission('routes.run')
  @ApiOperation({ summary: 'Stop taking messages (in-flight ones finish)' })
  @ApiOkResponse({ type: RouteViewDto })
  stop(@Param('id') id: string): Promise<RouteViewDto> {
    return this.routes.setRunState(id, 'stopped');
  }

  @Post(':id/test')
  @HttpCode(200)
  @RequirePermission('routes.read')
  @ApiOperation({
    summary:
      "Dry run: each stage's input, output and time, and the deliveries that would happen; no side effects",
  })
  @ApiOkResponse({ type: DryRunResultDto })
  test(@Param('id') id: string, @Body() body: DryRunRequestDto): Promise<DryRunResultDto> {
    return this.routes.dryRun(id, body);
  }

  @Get(':id/status')
  @RequirePermission('routes.read')
  @ApiOperation({ summary: 'Run state, messages in flight, counts and the last error' })
  @ApiOkResponse({ type: RouteStatusDto })
  status(@Param('id') id: string): Promise<RouteStatusDto> {
    return this.routes.status(id);
  }
}
