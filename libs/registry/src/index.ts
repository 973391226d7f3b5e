export * from './registry.tokens';
export * from './registry.dto';
export { RegistryModule } from './registry.module';
export {
  ROUTE_SOURCE_TEXT,
  RouteSourceText,
  takesRouteSource,
  YAML_CONTENT_TYPES,
} from './route-source-body';
export { ConnectionsService } from './connections.service';
export type { ResolvedConnection, ConnectionView, ConnectionNames } from './connections.service';
export { MAX_CONNECTION_NAMES, sortedNames } from './connections.service';
export { PROCESS_NAME, RoutesService } from './routes.service';
export type { DryRunView, RouteRuntimeStatus, RuntimeStatus } from './routes.service';
export { RouteEventBus } from './route-events';
export type { RouteEvents } from './route-events';
export { RoutesRepository, ROUTE_CHANNEL } from './routes.repository';
export { checksumOf, canonicalJson } from './canonical-json';
export {
  CONNECTION_CONFIG_SCHEMAS,
  CONNECTION_SECRET_KEYS,
  CONNECTION_TARGET_FIELDS,
  changedTargetFields,
  connectionTargets,
} from './connection-types';

import { ConnectionEntity } from './entities/connection.entity';
import { RouteEntity } from './entities/route.entity';
import { RouteVersionEntity } from './entities/route-version.entity';
import { RouteSampleEntity } from './entities/route-sample.entity';

export { ConnectionEntity, RouteEntity, RouteVersionEntity, RouteSampleEntity };
export const REGISTRY_ENTITIES = [
  ConnectionEntity,
  RouteEntity,
  RouteVersionEntity,
  RouteSampleEntity,
];
