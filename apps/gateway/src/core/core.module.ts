import { DynamicModule, Global, Module } from '@nestjs/common';
import { derive, SecretBox } from '@junction/common';
import { JsonataEngine, RouteResources } from '@junction/pipeline';
import { CONNECTORS, type EgressPolicy } from '@junction/connectors';
import { EGRESS_POLICY, ROUTE_RESOURCES, SECRET_BOX } from '@junction/registry';

/** Process-wide services built from the master key and configuration. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(options: {
    masterKey: Buffer;
    expressionTimeoutMs: number;
    egress: EgressPolicy;
  }): DynamicModule {
    const resources: RouteResources = {
      expressions: new JsonataEngine({ timeoutMs: options.expressionTimeoutMs }),
      hmacKey: derive(options.masterKey, 'junction/mask-hash'),
      protocols: CONNECTORS,
    };
    return {
      module: CoreModule,
      providers: [
        { provide: SECRET_BOX, useValue: new SecretBox(options.masterKey) },
        { provide: ROUTE_RESOURCES, useValue: resources },
        { provide: EGRESS_POLICY, useValue: options.egress },
      ],
      exports: [SECRET_BOX, ROUTE_RESOURCES, EGRESS_POLICY],
    };
  }
}
