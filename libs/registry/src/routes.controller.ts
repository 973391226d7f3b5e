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
  Req,
  Res,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiProduces,
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
  DryRunResultDto,
  RouteStatusDto,
  RouteSummaryDto,
  RouteViewDto,
  routeDocumentRef,
  UnsavedDryRunRequestDto,
  ValidationResultDto,
  VersionSummaryDto,
  VersionViewDto,
} from './registry.dto';
import { RoutesService } from './routes.service';
import { RouteSource, RouteSourceInput, YAML_CONTENT_TYPES } from './route-source-body';

/** Route documents come as JSON or as YAML text (kept verbatim with the version). */
const ROUTE_BODY_TYPES = ['application/json', ...YAML_CONTENT_TYPES];

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
    description:
      'JSON, or YAML text (`application/yaml`, `text/yaml`): problems then carry the line and column too. ' +
      'A YAML text that does not parse is a 400 with `details.problems` (line, column).',
  })
  @ApiConsumes(...ROUTE_BODY_TYPES)
  @ApiBody({ schema: routeDocumentRef })
  @ApiOkResponse({ type: ValidationResultDto })
  async validate(@RouteSource() input: RouteSourceInput): Promise<ValidationResultDto> {
    const sourced = this.routes.readSource(input);
    const problems = await this.routes.problems(sourced.document, sourced);
    return { valid: problems.length === 0, problems };
  }

  @Post('test')
  @HttpCode(200)
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: "Dry run of a document that is not saved (the editor's buffer); no side effects",
    description:
      'The document (or its YAML/JSON text in `source`) is checked as a save would (400 with every problem; ' +
      "line and column for a text), then the message runs through it: each stage's input, output and time " +
      '(mask stages also list the pointers they changed), and the deliveries that would happen. `panWarnings` ' +
      'lists where a card-number-like value would leave in a delivery. Card numbers in the answer are redacted.',
  })
  @ApiOkResponse({ type: DryRunResultDto })
  testUnsaved(@Body() body: UnsavedDryRunRequestDto): Promise<DryRunResultDto> {
    return this.routes.dryRunUnsaved(body);
  }

  @Get()
  @RequirePermission('routes.read')
  @ApiOperation({ summary: 'List routes' })
  @ApiOkResponse({ type: RouteSummaryDto, isArray: true })
  list(): Promise<RouteSummaryDto[]> {
    return this.routes.list();
  }

  @Post()
  @RequirePermission('routes.write')
  @ApiOperation({
    summary: 'Create a route: stores version 1 and activates it',
    description:
      'JSON, or YAML text (`application/yaml`, `text/yaml`); the text is kept verbatim with the version ' +
      '(comments and key order included).',
  })
  @ApiConsumes(...ROUTE_BODY_TYPES)
  @ApiBody({ schema: routeDocumentRef })
  @ApiQuery({ name: 'comment', required: false, description: 'Why (kept with the version).' })
  @ApiCreatedResponse({ type: RouteViewDto })
  create(
    @RouteSource() input: RouteSourceInput,
    @CurrentPrincipal() actor: Principal,
    @Query('comment') comment?: string,
  ): Promise<RouteViewDto> {
    const sourced = this.routes.readSource(input);
    return this.routes.create(sourced.document, actor.name, comment, sourced);
  }

  @Get(':id')
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'A route with its latest document',
    description:
      'With `Accept: application/yaml` (or `?format=yaml`): the source text of the active version ' +
      '(else the latest) as YAML, verbatim when it was written in YAML.',
  })
  @ApiQuery({ name: 'format', required: false, enum: ['json', 'yaml'] })
  @ApiProduces('application/json', 'application/yaml')
  @ApiOkResponse({ type: RouteViewDto })
  async get(
    @Param('id') id: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Query('format') format?: string,
  ): Promise<RouteViewDto | string> {
    const accept = String(request.headers.accept ?? '');
    if (
      format === 'yaml' ||
      (format !== 'json' && /\b(application|text)\/(x-)?yaml\b/i.test(accept))
    ) {
      const text = await this.routes.yamlSource(id);
      void reply.header('content-type', 'application/yaml; charset=utf-8');
      return text;
    }
    return this.routes.get(id);
  }

  @Put(':id')
  @RequirePermission('routes.write')
  @ApiOperation({
    summary: 'Store a new version (an unchanged document stores none); it runs once activated',
  })
  @ApiConsumes(...ROUTE_BODY_TYPES)
  @ApiBody({ schema: routeDocumentRef })
  @ApiQuery({
    name: 'activate',
    required: false,
    type: Boolean,
    description: 'Activate the new version at once.',
  })
  @ApiQuery({ name: 'comment', required: false })
  @ApiOkResponse({ type: RouteViewDto })
  update(
    @Param('id') id: string,
    @RouteSource() input: RouteSourceInput,
    @CurrentPrincipal() actor: Principal,
    @Query('activate', new DefaultValuePipe(false), ParseBoolPipe) activate: boolean,
    @Query('comment') comment?: string,
  ): Promise<RouteViewDto> {
    const sourced = this.routes.readSource(input);
    return this.routes.update(id, sourced.document, actor.name, { activate, comment, sourced });
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
  @ApiOkResponse({ type: VersionSummaryDto, isArray: true })
  versions(@Param('id') id: string): Promise<VersionSummaryDto[]> {
    return this.routes.versions(id);
  }

  @Get(':id/versions/:version')
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'One version; with diffFrom, also the JSON Patch from that version to this one',
  })
  @ApiQuery({ name: 'diffFrom', required: false, type: Number })
  @ApiOkResponse({ type: VersionViewDto })
  version(
    @Param('id') id: string,
    @Param('version', ParseIntPipe) version: number,
    @Query('diffFrom', optionalInt) diffFrom?: number,
  ): Promise<VersionViewDto> {
    return this.routes.version(id, version, diffFrom);
  }

  @Post(':id/versions/:version/activate')
  @HttpCode(200)
  @RequirePermission('routes.activate')
  @ApiOperation({ summary: 'Deploy a version, or roll back to an older one' })
  @ApiOkResponse({ type: RouteViewDto })
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
