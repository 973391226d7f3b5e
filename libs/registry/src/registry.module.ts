import { Logger, Module } from '@nestjs/common';
import { ConnectionsController } from './connections.controller';
import { ConnectionsRepository } from './connections.repository';
import { ConnectionsService } from './connections.service';
import { ExpressionsController } from './expressions.controller';
import { ExpressionsService } from './expressions.service';
import { RouteEventBus } from './route-events';
import { RoutesController } from './routes.controller';
import { RoutesRepository } from './routes.repository';
import { RoutesService } from './routes.service';
import { SamplesRepository } from './samples.repository';
import { SamplesService } from './samples.service';

/** Connections and versioned routes. SECRET_BOX and ROUTE_RESOURCES come from the gateway. */
@Module({
  controllers: [ConnectionsController, RoutesController, ExpressionsController],
  providers: [
    ConnectionsRepository,
    ConnectionsService,
    { provide: RouteEventBus, useValue: new RouteEventBus(new Logger('RouteEvents')) },
    RoutesRepository,
    RoutesService,
    ExpressionsService,
    SamplesRepository,
    SamplesService,
  ],
  exports: [ConnectionsService, RoutesService, RoutesRepository, RouteEventBus],
})
export class RegistryModule {}
