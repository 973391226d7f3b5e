import { Controller, Get } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { RequirePermission } from '@junction/auth';
import { ChainStatusService } from './chain-status.service';

class ChainHeadStatusDto {
  @ApiProperty({ enum: ['audit_messages', 'audit_events'] }) table!:
    'audit_messages' | 'audit_events';
  @ApiProperty({ description: 'Seq of the last row (a decimal string; 0: none yet).' })
  headSeq!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) headAt!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The last seq the newest signed anchor covers.',
  })
  anchoredSeq!: string | null;
  @ApiProperty({ description: 'Rows past the newest anchor.' }) unanchored!: number;
}

class ChainAnchorsStatusDto {
  @ApiProperty() configured!: boolean;
  @ApiProperty({ type: Number, nullable: true }) intervalMs!: number | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastSignedAt!: string | null;
}

class ChainStatusDto {
  @ApiProperty({
    enum: ['anchored', 'pending', 'stale', 'unanchored'],
    description:
      'anchored: every row is under a signed anchor; pending: newer rows wait for the next one; stale: they waited over three intervals, or the newest anchor does not check; unanchored: no signing key configured.',
  })
  state!: 'anchored' | 'pending' | 'stale' | 'unanchored';
  @ApiProperty({ type: String, nullable: true }) problem!: string | null;
  @ApiProperty({ type: ChainHeadStatusDto, isArray: true }) chains!: ChainHeadStatusDto[];
  @ApiProperty({ type: ChainAnchorsStatusDto }) anchors!: ChainAnchorsStatusDto;
}

@ApiTags('audit')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/audit/chain-status')
export class ChainStatusController {
  constructor(private readonly chain: ChainStatusService) {}

  @Get()
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'Where the audit hash chains stand: heads and the newest signed anchor',
    description:
      'Cheap to poll (the heads the writer keeps and one anchor file). Counts and times only, no record content: open to whoever reads routes, for dashboards. The check of every row is GET /audit/verify (auditors).',
  })
  @ApiOkResponse({ type: ChainStatusDto })
  status(): Promise<ChainStatusDto> {
    return this.chain.status();
  }
}
