import {
  Body,
  Controller,
  DefaultValuePipe,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseBoolPipe,
  Post,
  Put,
  PipeTransform,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConflictResponse,
  ApiConsumes,
  ApiCreatedResponse,
  ApiHeader,
  ApiProduces,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPreconditionFailedResponse,
  ApiQuery,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, Principal, RequirePermission } from '@junction/auth';
import { JunctionError } from '@junction/common';
import type { RouteSpec } from '@junction/connectors';
import { containsPan, withPositions } from '@junction/pipeline';
import {
  ActivateRequestDto,
  DryRunRequestDto,
  ErrorDto,
  SampleDto,
  SampleInputDto,
  DryRunResultDto,
  RouteListItemDto,
  RouteStatusDto,
  RouteViewDto,
  routeDocumentRef,
  UnsavedDryRunRequestDto,
  ValidationResultDto,
  VersionSummaryDto,
  VersionViewDto,
} from './registry.dto';
import { INT4_MAX, IntParamPipe } from './int-param.pipe';
import { routeEtag } from './route-etag';
import { RoutesService, type RouteView } from './routes.service';
import { SamplesService } from './samples.service';
import { RouteSource, RouteSourceInput, YAML_CONTENT_TYPES } from './route-source-body';

/** `If-Match` on the calls that change a route: refused with 412 when the route moved on. */
const IF_MATCH = {
  name: 'If-Match',
  required: false,
  description:
    "The route's `ETag` as read (GET /routes/{id} and every change answer it): the change is " +
    'refused with 412 (`details.code: ROUTE_CHANGED`) when another version was stored, activated ' +
    'or rolled back since, or the id was deleted and created again. Without it, the last write wins.',
} as const;
const PRECONDITION_FAILED = {
  type: ErrorDto,
  description:
    'If-Match names another state of the route: `details` has its `etag`, `latestVersion` and `activeVersion` now.',
} as const;

/** The ETag answered with a route (for the next change's If-Match). */
const ETAG = {
  ETag: {
    description: "The route's entity tag: send it as `If-Match` with the next change of the route.",
    schema: { type: 'string' },
  },
} as const;

/** The If-Match header (read by hand: a @Headers parameter would be documented as required). */
function ifMatchOf(request: FastifyRequest): string | undefined {
  const value = request.headers['if-match'];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Answers the route's entity tag with a view of it (for the next change's If-Match). */
function tagged(reply: FastifyReply, view: RouteView): RouteView {
  void reply.header('etag', routeEtag(view));
  return view;
}

/** Route documents come as JSON or as YAML text (kept verbatim with the version). */
const ROUTE_BODY_TYPES = ['application/json', ...YAML_CONTENT_TYPES];

const versionParam = new IntParamPipe();
const VERSION_PARAM = {
  name: 'version',
  type: 'integer',
  minimum: 1,
  maximum: INT4_MAX,
  description:
    'A version number (400 outside 1 to 2147483647, 404 when the route has no such version).',
} as const;
const optionalVersion = new IntParamPipe({ min: 1, max: INT4_MAX, optional: true });

const SAMPLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A sample's name: 1-63 letters, digits, dots, dashes or underscores. */
class ParseNamePipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!SAMPLE_NAME.test(value))
      throw new JunctionError(
        'BAD_REQUEST',
        'a sample name is 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit',
      );
    // Listed to every viewer and named in the activation guard's refusals, as it is.
    if (containsPan(value))
      throw new JunctionError('BAD_REQUEST', 'a sample name must not hold a card number');
    return value;
  }
}

/**
 * The override reason of an activation body (`{ override: { reason } }`), checked by hand: the
 * body is optional, and an activation without one must not trip the validation of an absent body.
 */
function overrideReason(body: unknown): string | undefined {
  if (
    body === undefined ||
    body === null ||
    (typeof body === 'object' && Object.keys(body).length === 0)
  )
    return undefined;
  const override = (body as { override?: unknown }).override;
  const reason = (override as { reason?: unknown } | undefined)?.reason;
  const extra = Object.keys(body as object).filter((k) => k !== 'override');
  if (
    extra.length > 0 ||
    typeof reason !== 'string' ||
    reason.trim().length === 0 ||
    reason.length > 1000
  )
    throw new JunctionError(
      'BAD_REQUEST',
      'the body is either empty or { override: { reason } } with a reason of 1-1000 characters',
      {
        problems: [
          {
            pointer: '/override/reason',
            message: 'must be a non-empty string of at most 1000 characters',
          },
        ],
      },
    );
  return reason.trim();
}

@ApiTags('routes')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/routes')
export class RoutesController {
  constructor(
    private readonly routes: RoutesService,
    private readonly samples: SamplesService,
  ) {}

  @Post('validate')
  @HttpCode(200)
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'Check a route document: every problem, by JSON pointer (connections included)',
    description:
      'JSON, or YAML text (`application/yaml`, `text/yaml`): problems then carry the line and column too. ' +
      'A YAML text that does not parse is a 400 with `details.problems` (line, column). ' +
      'A sound document is also checked against the other live routes, as a save would be (there a 409): ' +
      "an ingest path that is another route's, a queue, consumer group or shared subscription another route reads.",
  })
  @ApiConsumes(...ROUTE_BODY_TYPES)
  @ApiBody({ schema: routeDocumentRef })
  @ApiOkResponse({ type: ValidationResultDto })
  async validate(
    @RouteSource() input: RouteSourceInput,
    @CurrentPrincipal() actor: Principal,
  ): Promise<ValidationResultDto> {
    const sourced = await this.routes.readSource(input, actor.name);
    let problems = await this.routes.problems(sourced.document, sourced, actor);
    // A sound document: would a save be refused because of another route (409)?
    if (problems.length === 0) {
      const conflicts = await this.routes.conflicts(sourced.document as RouteSpec);
      problems = sourced.parsed ? withPositions(conflicts, sourced.parsed) : conflicts;
    }
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
  testUnsaved(
    @Body() body: UnsavedDryRunRequestDto,
    @CurrentPrincipal() actor: Principal,
  ): Promise<DryRunResultDto> {
    return this.routes.dryRunUnsaved(body, actor);
  }

  @Get()
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'List routes with their live state, counts and last error, in one call',
    description:
      '`processes` holds the run state as this gateway process sees it; `lastError` is redacted, and a ' +
      "message's failure is shown without its text (which may quote the message) to callers who may not " +
      'read dead letters or the audit trail. ' +
      '`q` filters on id and description (case-insensitive substring).',
  })
  @ApiQuery({ name: 'q', required: false, description: 'Text to look for in id or description.' })
  @ApiOkResponse({ type: RouteListItemDto, isArray: true })
  list(@CurrentPrincipal() caller: Principal, @Query('q') q?: string): Promise<RouteListItemDto[]> {
    return this.routes.list(q, caller);
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
  @ApiCreatedResponse({ type: RouteViewDto, headers: ETAG })
  @ApiConflictResponse({
    type: ErrorDto,
    description:
      'The id exists, or the ingest path (normalised) belongs to another route: `details.routeId` names it.',
  })
  async create(
    @RouteSource() input: RouteSourceInput,
    @CurrentPrincipal() actor: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Query('comment') comment?: string,
  ): Promise<RouteViewDto> {
    const sourced = await this.routes.readSource(input, actor.name);
    return tagged(reply, await this.routes.create(sourced.document, actor.name, comment, sourced));
  }

  @Get(':id')
  @RequirePermission('routes.read')
  @ApiOperation({
    summary:
      'A route with the document that runs (its active version); activeVersion and latestVersion say which is which',
    description:
      'With `Accept: application/yaml` (or `?format=yaml`): the source text of the active version ' +
      '(else the latest) as YAML, verbatim when it was written in YAML.',
  })
  @ApiQuery({ name: 'format', required: false, enum: ['json', 'yaml'] })
  @ApiProduces('application/json', 'application/yaml')
  @ApiOkResponse({ type: RouteViewDto, headers: ETAG })
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
      void reply.header('etag', routeEtag(await this.routes.get(id)));
      return text;
    }
    return tagged(reply, await this.routes.get(id));
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
    description: 'Activate the new version at once (after the sample guard, as for activate).',
  })
  @ApiQuery({
    name: 'override',
    required: false,
    description:
      'With activate=true, admins only: the reason to activate although a sample leaks a card number (audited).',
  })
  @ApiQuery({ name: 'comment', required: false })
  @ApiHeader(IF_MATCH)
  @ApiOkResponse({ type: RouteViewDto, headers: ETAG })
  @ApiPreconditionFailedResponse(PRECONDITION_FAILED)
  @ApiConflictResponse({
    type: ErrorDto,
    description:
      'The id exists, or the ingest path (normalised) belongs to another route: `details.routeId` names it.',
  })
  async update(
    @Param('id') id: string,
    @RouteSource() input: RouteSourceInput,
    @CurrentPrincipal() actor: Principal,
    @Query('activate', new DefaultValuePipe(false), ParseBoolPipe) activate: boolean,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Req() request: FastifyRequest,
    @Query('comment') comment?: string,
    @Query('override') override?: string,
  ): Promise<RouteViewDto> {
    const sourced = await this.routes.readSource(input, actor.name);
    const view = await this.routes.update(id, sourced.document, actor.name, {
      activate,
      comment,
      sourced,
      ifMatch: ifMatchOf(request),
      guard: {
        admin: actor.roles.includes('admin'),
        overrideReason:
          override === undefined ? undefined : overrideReason({ override: { reason: override } }),
      },
    });
    return tagged(reply, view);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('routes.write')
  @ApiOperation({ summary: 'Stop and delete a route (its versions are kept as history)' })
  @ApiHeader(IF_MATCH)
  @ApiNoContentResponse()
  @ApiPreconditionFailedResponse(PRECONDITION_FAILED)
  async remove(@Param('id') id: string, @Req() request: FastifyRequest): Promise<void> {
    await this.routes.delete(id, ifMatchOf(request));
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
    @Query('incarnation', optionalVersion) incarnation?: number,
  ): Promise<VersionSummaryDto[]> {
    return this.routes.versions(id, incarnation);
  }

  @Get(':id/versions/:version')
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'One version; with diffFrom, also the JSON Patch from that version to this one',
  })
  @ApiParam(VERSION_PARAM)
  @ApiQuery({ name: 'diffFrom', required: false, type: 'integer', minimum: 1, maximum: INT4_MAX })
  @ApiQuery({
    name: 'incarnation',
    required: false,
    type: 'integer',
    minimum: 1,
    maximum: INT4_MAX,
  })
  @ApiOkResponse({ type: VersionViewDto })
  version(
    @Param('id') id: string,
    @Param('version', versionParam) version: number,
    @Query('diffFrom', optionalVersion) diffFrom?: number,
    @Query('incarnation', optionalVersion) incarnation?: number,
  ): Promise<VersionViewDto> {
    return this.routes.version(id, version, diffFrom, incarnation);
  }

  @Post(':id/versions/:version/activate')
  @HttpCode(200)
  @RequirePermission('routes.activate')
  @ApiOperation({
    summary: 'Deploy a version, or roll back to an older one',
    description:
      'Every sample of the route runs through the version first (dry run, no side effects). If a card-number-like ' +
      "value would leave in a delivery, the answer is 409 with `details: { code: 'SAMPLE_LEAKS_PAN', samples: " +
      '[{ name, pointers }] }`, unless an admin sends `{ override: { reason } }` (recorded in the audit trail); ' +
      'an override from anyone else is 403.',
  })
  @ApiParam(VERSION_PARAM)
  @ApiBody({ type: ActivateRequestDto, required: false })
  @ApiHeader(IF_MATCH)
  @ApiOkResponse({ type: RouteViewDto, headers: ETAG })
  @ApiPreconditionFailedResponse(PRECONDITION_FAILED)
  @ApiConflictResponse({
    type: ErrorDto,
    description:
      'The id exists, or the ingest path (normalised) belongs to another route: `details.routeId` names it.',
  })
  async activate(
    @Param('id') id: string,
    @Param('version', versionParam) version: number,
    @CurrentPrincipal() actor: Principal,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Req() request: FastifyRequest,
  ): Promise<RouteViewDto> {
    const view = await this.routes.activate(
      id,
      version,
      { admin: actor.roles.includes('admin'), overrideReason: overrideReason(body) },
      ifMatchOf(request),
    );
    return tagged(reply, view);
  }

  @Get(':id/samples')
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: "The route's sample messages (card numbers redacted)",
    description: 'Samples run through every version before it is activated (the deploy guard).',
  })
  @ApiOkResponse({ type: SampleDto, isArray: true })
  samplesOf(@Param('id') id: string): Promise<SampleDto[]> {
    return this.samples.list(id);
  }

  @Put(':id/samples/:name')
  @RequirePermission('routes.write')
  @ApiOperation({
    summary: 'Store (or replace) a sample message; kept encrypted at rest',
  })
  @ApiOkResponse({ type: SampleDto })
  putSample(
    @Param('id') id: string,
    @Param('name', new ParseNamePipe()) name: string,
    @Body() body: SampleInputDto,
    @CurrentPrincipal() actor: Principal,
  ): Promise<SampleDto> {
    return this.samples.put(id, name, body, actor.name);
  }

  @Delete(':id/samples/:name')
  @HttpCode(204)
  @RequirePermission('routes.write')
  @ApiOperation({ summary: 'Delete a sample message' })
  @ApiNoContentResponse()
  async deleteSample(@Param('id') id: string, @Param('name') name: string): Promise<void> {
    await this.samples.delete(id, name);
  }

  @Post(':id/start')
  @HttpCode(200)
  @RequirePermission('routes.run')
  @ApiOperation({ summary: 'Run the active version' })
  @ApiOkResponse({ type: RouteViewDto, headers: ETAG })
  @ApiConflictResponse({
    type: ErrorDto,
    description:
      'The id exists, or the ingest path (normalised) belongs to another route: `details.routeId` names it.',
  })
  async start(
    @Param('id') id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RouteViewDto> {
    return tagged(reply, await this.routes.setRunState(id, 'running'));
  }

  @Post(':id/stop')
  @HttpCode(200)
  @RequirePermission('routes.run')
  @ApiOperation({ summary: 'Stop taking messages (in-flight ones finish)' })
  @ApiOkResponse({ type: RouteViewDto, headers: ETAG })
  async stop(
    @Param('id') id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RouteViewDto> {
    return tagged(reply, await this.routes.setRunState(id, 'stopped'));
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
  @ApiOperation({
    summary: 'Run state, messages in flight, counts and the last error',
    description:
      "`lastError` of a message's failure is shown without its text (which may quote the message) to " +
      'callers who may not read dead letters or the audit trail: `EXPRESSION_FAILED at /pipeline/0 (transform) (...)`.',
  })
  @ApiOkResponse({ type: RouteStatusDto })
  status(@CurrentPrincipal() caller: Principal, @Param('id') id: string): Promise<RouteStatusDto> {
    return this.routes.status(id, caller);
  }
}
