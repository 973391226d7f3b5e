import { Injectable } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import type { HttpSourceSpec } from '@junction/pipeline';
import { ProcessResult, RouteSupervisor, RouteWorker } from '@junction/runtime';

export interface IngestRequest {
  path: string;
  payload: Buffer;
  headers: Record<string, string>;
}

/**
 * HTTP ingest: hands a request to the running worker of the route that takes its path. The
 * worker delivers, or dead-letters, and records the message before this resolves, so a 2xx
 * always means the message is delivered or safely parked.
 */
@Injectable()
export class IngestService {
  constructor(private readonly supervisor: RouteSupervisor) {}

  resolve(path: string): { worker: RouteWorker; source: HttpSourceSpec } {
    const worker = this.supervisor.ingestWorker(path);
    if (!worker)
      throw new JunctionError('NOT_FOUND', `no running route takes POST /ingest/${path}`);
    return { worker, source: worker.document.source as HttpSourceSpec };
  }

  async ingest(worker: RouteWorker, request: IngestRequest): Promise<ProcessResult> {
    if (!worker.tryAcquire()) {
      throw new JunctionError(
        'SATURATED',
        `route '${worker.routeId}' has too many messages in flight; try again shortly`,
      );
    }
    return worker.process({
      id: request.headers['idempotency-key'] || undefined,
      headers: request.headers,
      payload: request.payload,
      source: { type: 'http', name: request.path },
      redelivered: false,
    });
  }
}
