import { Inject, Injectable } from '@nestjs/common';
import { JunctionError, SecretBox } from '@junction/common';
import { redactPans } from '@junction/pipeline';
import { RouteSampleEntity } from './entities/route-sample.entity';
import { SECRET_BOX } from './registry.tokens';
import { RoutesRepository } from './routes.repository';
import { SamplesRepository } from './samples.repository';

export interface SampleMessage {
  body: unknown;
  headers?: Record<string, string>;
}

export interface SampleView extends SampleMessage {
  name: string;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
}

/** Bound into each ciphertext: a sealed sample cannot be moved to another route or name. */
const context = (routeId: string, name: string) => `route-sample:${routeId}/${name}`;

/**
 * Sample messages of a route: what every version must handle without letting a card number out
 * (see RoutesService.activate). Stored sealed; shown with card numbers redacted.
 */
@Injectable()
export class SamplesService {
  constructor(
    private readonly samples: SamplesRepository,
    private readonly routes: RoutesRepository,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
  ) {}

  async list(routeId: string): Promise<SampleView[]> {
    await this.requireRoute(routeId);
    return (await this.samples.list(routeId)).map((row) => {
      const { name, body, headers } = this.open(row);
      return {
        name,
        body: redactPans(body),
        ...(headers ? { headers: redactPans(headers) } : {}),
        createdAt: row.createdAt.toISOString(),
        updatedAt: row.updatedAt.toISOString(),
        updatedBy: row.updatedBy,
      };
    });
  }

  /** The samples as stored (card numbers and all), for the deploy guard only. */
  async messages(routeId: string): Promise<Array<{ name: string } & SampleMessage>> {
    return (await this.samples.list(routeId)).map((row) => this.open(row));
  }

  async put(
    routeId: string,
    name: string,
    message: SampleMessage,
    actor: string,
  ): Promise<SampleView> {
    await this.requireRoute(routeId);
    const sealed = this.box.sealJson(
      { body: message.body, headers: message.headers },
      context(routeId, name),
    );
    await this.samples.upsert(routeId, name, sealed, actor);
    return (await this.list(routeId)).find((s) => s.name === name)!;
  }

  async delete(routeId: string, name: string): Promise<void> {
    await this.requireRoute(routeId);
    if (!(await this.samples.delete(routeId, name)))
      throw new JunctionError('NOT_FOUND', `route '${routeId}' has no sample '${name}'`);
  }

  private open(row: RouteSampleEntity): { name: string } & SampleMessage {
    const opened = this.box.openJson<SampleMessage>(row.sealed, context(row.routeId, row.name));
    return {
      name: row.name,
      body: opened.body,
      ...(opened.headers ? { headers: opened.headers } : {}),
    };
  }

  private async requireRoute(routeId: string): Promise<void> {
    if (!(await this.routes.find(routeId)))
      throw new JunctionError('NOT_FOUND', `no route '${routeId}'`);
  }
}
