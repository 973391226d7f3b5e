import { ingestPathKey } from '@junction/pipeline';
import { InFlight } from '../backoff';
import {
  ConnectorError,
  type InboundMessage,
  type MessageHandler,
  type Source,
} from '../connector';
import type { HttpSourceSpec } from './http.protocol';

/** A request handed to an ingest source: the caller's id, headers and body. */
export interface IngestRequest {
  id: string;
  headers: Record<string, string>;
  payload: Buffer;
  /** The path as the caller sent it (audit and dead letters show it). */
  path: string;
  /** A sync caller waits for the answer until then (epoch ms). */
  replyBy?: number;
}

/** Why an ingest source did not take a request: too busy (429), or not running (503). */
export class IngestRefused extends Error {
  override readonly name = 'IngestRefused';
  constructor(
    readonly reason: 'saturated' | 'closed',
    readonly routeId: string,
  ) {
    super(
      reason === 'saturated'
        ? `route '${routeId}' has too many messages in flight; try again shortly`
        : `route '${routeId}' is stopping or restarting; the message was not taken: send it again`,
    );
  }
}

/**
 * The HTTP source: POST /ingest/<path> hands requests to the running source that claims the
 * path, through `IngestSources`. It is a `Source` like the broker ones: the runtime starts it with
 * its handler and stops it (stop waits for the requests in flight); resolving the handler is the
 * answer to the caller (the handler's value, the route's result, is what the caller gets).
 */
export class HttpIngestSource implements Source {
  private handler?: MessageHandler;
  private readonly inFlight = new InFlight();
  /** The path in the normalised form routes claim it in. */
  readonly pathKey: string;

  constructor(
    readonly spec: HttpSourceSpec,
    readonly route: { routeId: string; routeVersion?: number },
    private readonly registry: IngestSources,
    /** Most requests handled at once; more are refused (429). */
    private readonly maxInFlight: number,
  ) {
    const key = ingestPathKey(spec.path);
    if (key === undefined)
      throw new ConnectorError('REJECTED', `ingest path ${spec.path} has no normal form`, false);
    this.pathKey = key;
  }

  async start(handler: MessageHandler): Promise<void> {
    this.handler = handler;
    this.registry.claim(this);
  }

  async stop(): Promise<void> {
    this.registry.release(this);
    this.handler = undefined;
    await this.inFlight.settled();
  }

  /**
   * Takes one request: refuses at once (IngestRefused) when stopped or saturated, else resolves
   * with what the route made of it. The message is never given back: a request cannot be
   * redelivered, so the runtime dead-letters what it cannot deliver.
   */
  offer(request: IngestRequest): Promise<unknown> {
    const handler = this.handler;
    if (!handler) throw new IngestRefused('closed', this.route.routeId);
    if (this.inFlight.size >= this.maxInFlight)
      throw new IngestRefused('saturated', this.route.routeId);
    const message: InboundMessage = {
      id: request.id,
      headers: request.headers,
      payload: request.payload,
      source: { type: 'http', name: request.path },
      redelivered: false,
      final: true,
      ...(request.replyBy !== undefined ? { replyBy: request.replyBy } : {}),
    };
    return this.inFlight.track(handler(message));
  }
}

/**
 * The ingest paths claimed by running HTTP sources of this process, by normalised path. While a
 * route swaps versions both workers' sources may claim one path: the later claim takes the
 * requests, and a release gives the path back only if it still holds it.
 */
export class IngestSources {
  private readonly byPath = new Map<string, HttpIngestSource[]>();

  claim(source: HttpIngestSource): void {
    const claims = this.byPath.get(source.pathKey) ?? [];
    claims.push(source);
    this.byPath.set(source.pathKey, claims);
  }

  release(source: HttpIngestSource): void {
    const claims = (this.byPath.get(source.pathKey) ?? []).filter((s) => s !== source);
    if (claims.length > 0) this.byPath.set(source.pathKey, claims);
    else this.byPath.delete(source.pathKey);
  }

  /** The source taking requests for a normalised path now. */
  find(pathKey: string): HttpIngestSource | undefined {
    const claims = this.byPath.get(pathKey);
    return claims?.[claims.length - 1];
  }
}
