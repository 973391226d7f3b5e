import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '@junction/auth';
import { AuditTrail } from '@junction/audit';
import { RouteSupervisor } from '@junction/runtime';
import { MetricsService, registerRuntimeGauges } from './metrics.service';

/** GET /metrics in Prometheus' text format. Public like /health: scrape it from inside the network. */
@ApiExcludeController()
@Controller('metrics')
@Public()
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    supervisor: RouteSupervisor,
    audit: AuditTrail,
  ) {
    registerRuntimeGauges(metrics.registry, supervisor, audit);
  }

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
