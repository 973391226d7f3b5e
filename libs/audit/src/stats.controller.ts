import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiQuery,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { RequirePermission } from '@junction/auth';
import { StatsService } from './stats.service';

class StatsPointDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the bucket (UTC).' }) bucket!: string;
  @ApiProperty() routeId!: string;
  @ApiProperty({ enum: ['delivered', 'filtered', 'unroutable', 'dead-lettered', 'replayed'] })
  outcome!: string;
  @ApiProperty() count!: number;
}

class StatsTotalDto {
  @ApiProperty() routeId!: string;
  @ApiProperty({ enum: ['delivered', 'filtered', 'unroutable', 'dead-lettered', 'replayed'] })
  outcome!: string;
  @ApiProperty() count!: number;
}

class StatsDto {
  @ApiProperty({ format: 'date-time', description: 'from, rounded down to a whole bucket.' })
  from!: string;
  @ApiProperty({ format: 'date-time', description: 'to, rounded up to a whole bucket.' })
  to!: string;
  @ApiProperty({ enum: ['minute', 'hour', 'day'] }) bucket!: 'minute' | 'hour' | 'day';
  @ApiProperty({ type: String, nullable: true }) routeId!: string | null;
  @ApiProperty({ description: 'The last audit trail seq the counts include (a decimal string).' })
  countedSeq!: string;
  @ApiProperty({ description: 'Audit rows written but not counted yet (0 when up to date).' })
  lag!: number;
  @ApiProperty({
    type: StatsPointDto,
    isArray: true,
    description: 'Non-zero counts only, by bucket, route, outcome.',
  })
  series!: StatsPointDto[];
  @ApiProperty({ type: StatsTotalDto, isArray: true, description: 'Over the whole range.' })
  totals!: StatsTotalDto[];
}

@ApiTags('stats')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'Messages per route and outcome, per minute, hour or day, for the whole cluster',
    description:
      'From the audit trail, through per-minute counters kept up to date with it (cheap to poll). Counts only, no message content: open to viewers.',
  })
  @ApiQuery({
    name: 'from',
    required: false,
    description: 'ISO date-time; default: 60 buckets before to',
  })
  @ApiQuery({ name: 'to', required: false, description: 'ISO date-time; default: now' })
  @ApiQuery({ name: 'bucket', required: false, enum: ['minute', 'hour', 'day'] })
  @ApiQuery({ name: 'routeId', required: false })
  @ApiOkResponse({ type: StatsDto })
  get(
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('bucket') bucket?: string,
    @Query('routeId') routeId?: string,
  ): Promise<StatsDto> {
    return this.stats.stats({ from, to, bucket, routeId });
  }
}
