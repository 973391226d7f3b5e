import { Global, Module } from '@nestjs/common';
import { MESSAGE_OBSERVER } from '@junction/runtime';
import { MetricsService } from './metrics.service';

/** Global: the runtime finds its MESSAGE_OBSERVER here. */
@Global()
@Module({
  providers: [MetricsService, { provide: MESSAGE_OBSERVER, useExisting: MetricsService }],
  exports: [MetricsService, MESSAGE_OBSERVER],
})
export class MetricsModule {}
