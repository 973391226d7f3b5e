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

/**
 * What one route may keep: every sample is opened, redacted and sent whole by GET .../samples
 * (any viewer) and run by every activation. Unbounded, 60 samples of 880 KB held the event loop
 * 2.1 s per list; at the limit a list took 0.13 s.
 */
export const MAX_SAMPLES = 100;
export const MAX_SAMPLES_BYTES = 4 * 1024 * 1024;

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
    return (await this.samples.list(routeId)).map((row) => this.view(row));
  }

  private view(row: RouteSampleEntity): SampleView {
    const { name, body, headers } = this.open(row);
    return {
      name,
      body: redactPans(body),
      ...(headers ? { headers: redactPans(headers) } : {}),
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
      updatedBy: row.updatedBy,
    };
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
    const others = await this.samples.others(routeId, name);
    if (others.count >= MAX_SAMPLES || others.bytes + sealed.length > MAX_SAMPLES_BYTES)
      throw new JunctionError(
        'PAYLOAD_TOO_LARGE',
        `route '${routeId}' may keep ${MAX_SAMPLES} samples of ${MAX_SAMPLES_BYTES / 1024 / 1024} MiB together (sealed); it has ${others.count} of ${Math.ceil(others.bytes / 1024)} KiB, and this one is ${Math.ceil(sealed.length / 1024)} KiB: delete or shrink some`,
        { code: 'SAMPLES_LIMIT', samples: others.count, bytes: others.bytes },
      );
    await this.samples.upsert(routeId, name, sealed, actor);
    // This one only: a PUT used to open and redact every sample of the route to answer.
    const row = (await this.samples.find(routeId, name))!;
    return this.view(row);
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
