import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { JunctionError } from '@junction/common';
import {
  CompiledRoute,
  compileRoute,
  Delivery,
  Envelope,
  HttpSourceSpec,
  redactPans,
  RouteDocument,
  RouteResources,
  RunResult,
} from '@junction/pipeline';
import { ROUTE_RESOURCES } from '@junction/registry';

interface ActiveHttpRoute {
  id: string;
  version: number;
  checksum: string;
  source: HttpSourceSpec;
  compiled: CompiledRoute;
}

export interface IngestResult {
  id: string;
  routeId: string;
  version: number;
  result: RunResult;
}

/**
 * HTTP ingest for routes whose source is `http`. This first cut delivers to the built-in `log`
 * destination; broker and HTTP destinations arrive with the connectors and the route runtime.
 * Until then a route that needs them answers 503, so the caller keeps its message: nothing is
 * accepted that cannot be delivered.
 */
@Injectable()
export class IngestService {
  private readonly log = new Logger('Ingest');
  private readonly compiled = new Map<string, ActiveHttpRoute>();

  constructor(
    private readonly db: DataSource,
    @Inject(ROUTE_RESOURCES) private readonly resources: RouteResources,
  ) {}

  async resolve(path: string): Promise<ActiveHttpRoute> {
    const rows: Array<{ id: string; version: number; checksum: string; document: RouteDocument }> =
      await this.db.query(
        `SELECT r.id, v.version, v.checksum, v.document
         FROM routes r JOIN route_versions v ON v.route_id = r.id AND v.version = r.active_version
        WHERE r.deleted_at IS NULL AND r.desired_state = 'running'
          AND v.document->'source'->>'type' = 'http' AND v.document->'source'->>'path' = $1
        LIMIT 1`,
        [path],
      );
    const row = rows[0];
    if (!row) throw new JunctionError('NOT_FOUND', `no running route takes POST /ingest/${path}`);
    const cached = this.compiled.get(row.id);
    if (cached && cached.checksum === row.checksum) return cached;
    const route: ActiveHttpRoute = {
      id: row.id,
      version: row.version,
      checksum: row.checksum,
      source: row.document.source as HttpSourceSpec,
      compiled: compileRoute(row.document, this.resources),
    };
    this.compiled.set(row.id, route);
    return route;
  }

  async ingest(
    route: ActiveHttpRoute,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<IngestResult> {
    const id = headers['idempotency-key'] || uuidv7();
    const envelope: Envelope = {
      id,
      headers,
      body,
      meta: {
        routeId: route.id,
        routeVersion: route.version,
        source: { type: 'http', name: route.source.path },
        receivedAt: new Date().toISOString(),
        redelivered: false,
      },
    };
    const result = await route.compiled.run(envelope);
    if (result.outcome === 'deliver') {
      for (const delivery of result.deliveries) this.deliver(delivery);
    }
    return { id, routeId: route.id, version: route.version, result };
  }

  private deliver(delivery: Delivery): void {
    const destination = delivery.destination;
    if (destination.type !== 'log') {
      throw new JunctionError(
        'UNAVAILABLE',
        `destination type '${destination.type}' is not available in this build yet; the message was not accepted`,
      );
    }
    const line = JSON.stringify({
      route: delivery.envelope.meta.routeId,
      id: delivery.envelope.id,
      body: redactPans(delivery.envelope.body),
    });
    if (destination.level === 'debug') this.log.debug(line);
    else this.log.log(line);
  }
}
