import { Controller, Get, Inject, Param, Query, Req, StreamableFile } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { JunctionError } from '@junction/common';
import { CurrentPrincipal, Principal, RequirePermission } from '@junction/auth';
import type { AuditEventInput } from './audit-rows';
import { AuditTrail } from './audit-trail';
import {
  EventPageDto,
  EventQueryDto,
  ExportQueryDto,
  MessagePageDto,
  MessageQueryDto,
  MessageTrailDto,
  VerifyQueryDto,
  VerificationReportDto,
  VerifyResultDto,
} from './audit.dto';
import { AuditService, VerifyResult } from './audit.service';
import { makeReport } from './verify-report';
import type { AuditModuleOptions } from './audit.module';
import { AUDIT_OPTIONS } from './audit.options';

@ApiTags('audit')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/audit')
@RequirePermission('audit.read')
export class AuditController {
  constructor(
    private readonly audit: AuditService,
    private readonly trail: AuditTrail,
    @Inject(AUDIT_OPTIONS) private readonly options: AuditModuleOptions,
  ) {}

  @Get('messages')
  @ApiOperation({ summary: 'Message records, newest first, with cursor paging' })
  @ApiOkResponse({ type: MessagePageDto })
  async messages(
    @Query() query: MessageQueryDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<MessagePageDto> {
    const { limit, cursor, ...filter } = query;
    const page = await this.audit.messages(filter, { limit, cursor });
    // A page holds the records' bodies, as one record opened does: who read which is on the record.
    await this.recordBy(principal, request, {
      type: 'audit.messages.listed',
      outcome: 'success',
      details: {
        filter,
        cursor: cursor ?? null,
        count: page.items.length,
        records: page.items.length
          ? { from: page.items[page.items.length - 1].id, to: page.items[0].id }
          : null,
      },
    });
    return page;
  }

  @Get('messages/:id')
  @ApiOperation({
    summary:
      "The story of one message: every route, version, outcome, attempt and destination, each record's place in the hash chain, and the replays and who triggered them",
  })
  @ApiOkResponse({ type: MessageTrailDto })
  async message(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<MessageTrailDto> {
    // Bodies are shown here: who looked at which message is itself on the record.
    await this.recordBy(principal, request, {
      type: 'audit.message.viewed',
      outcome: 'success',
      target: { type: 'message', id },
    });
    return this.audit.message(id);
  }

  @Get('events')
  @ApiOperation({
    summary:
      'Who did what: sign-ins, denied requests, changes to routes, connections, users and keys',
  })
  @ApiOkResponse({ type: EventPageDto })
  events(@Query() query: EventQueryDto): Promise<EventPageDto> {
    const { limit, cursor, ...filter } = query;
    return this.audit.events(filter, { limit, cursor });
  }

  @Get('export')
  @ApiOperation({
    summary:
      'Stream the matching records, oldest first, as CSV or NDJSON (same filters as the lists)',
  })
  @ApiProduces('text/csv', 'application/x-ndjson')
  @ApiForbiddenResponse({
    description: 'Exports are turned off on this gateway (JUNCTION_AUDIT_EXPORT_ENABLED=false).',
  })
  @ApiOkResponse({
    description: 'CSV with a header row, or one JSON record per line.',
    content: {
      'text/csv': { schema: { type: 'string' } },
      'application/x-ndjson': { schema: { type: 'string' } },
    },
  })
  async export(
    @Query() query: ExportQueryDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<StreamableFile> {
    const { format, kind = 'messages', ...filter } = query;
    if (this.options.exportEnabled === false) {
      await this.recordBy(principal, request, {
        type: 'audit.export.refused',
        outcome: 'denied',
        details: { kind, format, filter },
      });
      throw new JunctionError(
        'FORBIDDEN',
        'audit exports are turned off on this gateway (JUNCTION_AUDIT_EXPORT_ENABLED=false); ask an administrator, or read the records through GET /audit/messages and /audit/events',
      );
    }
    // Who took a copy of the trail, and of what, is itself on the record.
    await this.recordBy(principal, request, {
      type: 'audit.exported',
      outcome: 'success',
      details: { kind, format, filter },
    });
    const stream =
      kind === 'events'
        ? await this.audit.exportEvents(filter, format)
        : await this.audit.exportMessages(filter, format);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return new StreamableFile(stream, {
      type: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      disposition: `attachment; filename="audit-${kind}-${stamp}.${format === 'csv' ? 'csv' : 'ndjson'}"`,
    });
  }

  @Get('verify')
  @ApiOperation({
    summary:
      'Check the hash chains: every record unchanged and none missing (optionally over a time range)',
  })
  @ApiOkResponse({ type: VerifyResultDto })
  async verify(
    @Query() query: VerifyQueryDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<VerifyResultDto> {
    const result = await this.audit.verify({ from: query.from, to: query.to }, query.table);
    await this.recordVerification(principal, request, query, result);
    return result;
  }

  @Get('verify/report')
  @ApiOperation({
    summary:
      'Verify (as GET /audit/verify) and answer a signed report: what was checked, the first broken record, the anchors, who ran it and when',
    description:
      'Signed with Ed25519 by the key that signs the audit anchors (JUNCTION_AUDIT_SIGNING_KEY), over the canonical JSON of every field but `signature`; `junction audit verify --report <file> --public-key <pem>` checks a saved copy. Unsigned (`signature: null`) when the gateway has no signing key.',
  })
  @ApiOkResponse({ type: VerificationReportDto })
  async report(
    @Query() query: VerifyQueryDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<VerificationReportDto> {
    const range = { from: query.from, to: query.to, table: query.table };
    const result = await this.audit.verify(range, query.table, { listAnchors: true });
    const report = makeReport(
      result,
      {
        ranBy: { name: principal.name, kind: principal.kind, provider: principal.provider ?? null },
        range,
        now: new Date(),
      },
      this.options.anchors?.signingKey,
    );
    await this.recordVerification(principal, request, query, result, report.id);
    return report as unknown as VerificationReportDto;
  }

  /** Who checked the trail, over what, and what they were told, is itself on the record. */
  private recordVerification(
    principal: Principal,
    request: FastifyRequest,
    query: VerifyQueryDto,
    result: VerifyResult,
    reportId?: string,
  ): Promise<void> {
    return this.recordBy(principal, request, {
      type: 'audit.verified',
      outcome: 'success',
      details: {
        from: query.from ?? null,
        to: query.to ?? null,
        table: query.table ?? null,
        ok: result.ok,
        checked: result.checked,
        firstBrokenId: result.firstBrokenId ?? null,
        firstBrokenTable: result.firstBrokenTable ?? null,
        ...(reportId ? { reportId } : {}),
      },
    });
  }

  /** An event done by the caller: who (the principal, from which address) comes from the request. */
  private recordBy(
    principal: Principal,
    request: FastifyRequest,
    event: Omit<AuditEventInput, 'actor' | 'actorKind' | 'provider' | 'ip'>,
  ): Promise<void> {
    return this.trail.recordEvent({
      ...event,
      actor: principal.name,
      actorKind: principal.kind,
      provider: principal.provider,
      ip: request.ip,
    });
  }
}
