import { isUtf8 } from 'node:buffer';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { v7 as uuidv7 } from 'uuid';
import { keptMessageId } from './message-id';
import { isoNow, JunctionError } from '@junction/common';
import {
  connectionFingerprint,
  ConnectorError,
  errorText,
  type ConnectionState,
  type ConnectorConnection,
  type DeliveryReceipt,
  type Destination,
  type InboundMessage,
  type OutboundMessage,
  type Reply,
  type RouteSpec,
  type Source,
  type SourceRoute,
} from '@junction/connectors';
import {
  CompiledRoute,
  compileRoute,
  connectionRefs,
  decodeBody,
  Delivery,
  Envelope,
  PipelineError,
  redactPanText,
  RouteResources,
} from '@junction/pipeline';
import { MessageAuditSink, MessageOutcome } from './message-audit';
import { DeadLettersRepository, MAX_KEPT_PAYLOAD_BYTES } from './dead-letters.repository';
import { payloadSha256 } from './payload-digest';
import { Jitter, RetryInterrupted, RetryPolicy, retryPolicy, withRetry } from './retry';
import { MessageTrace, MessageTracing, PropagatingTracing, TraceHeaders } from './tracing';
import { DEFAULT_MAX_HOPS, HOPS_HEADER, hopsOf } from './hops';

/** A destination of a route (a protocol's, or the built-in log). */
type RouteDestination = RouteSpec['destinations'][number];

/** The parts of the connector pool a worker uses (the pool owns every broker client). */
export interface WorkerConnectors {
  /** `connection` is absent for a source that needs none (http). */
  source(
    spec: RouteSpec['source'],
    connection: ConnectorConnection | undefined,
    options: SourceRoute,
  ): Source;
  destination(
    spec: RouteDestination,
    connection: ConnectorConnection | undefined,
    options: { routeId: string },
  ): Destination;
}

export interface WorkerDeps {
  connectors: WorkerConnectors;
  connection(name: string): Promise<ConnectorConnection>;
  resources: RouteResources;
  deadLetters: DeadLettersRepository;
  audit: MessageAuditSink;
  /** Lines are text, or fields with their text in `msg` (the gateway's logger redacts both). */
  log: {
    log(message: string | LogFields): void;
    warn(message: string | LogFields): void;
    error(message: string | LogFields): void;
    debug?(message: string | LogFields): void;
  };
  /** What the pool knows of a broker connection, by its stored name (none for HTTP). */
  connectionState?(name: string): ConnectionState | undefined;
  /** Where the random part of a retry's backoff comes from (default Math.random). */
  jitter?: Jitter;
  /** Traces of messages (default: a caller's trace context is passed on, no spans). */
  tracing?: MessageTracing;
  /** Routes of Junction a message may pass through before it is dead-lettered (see hops.ts). */
  maxHops?: number;
  /** A monotonic clock in ms (default performance.now): how long since a held message was tried. */
  monotonicNow?: () => number;
}

/**
 * How long a message held by a refused dead letter (see RouteWorker.deadLetterRefused) may go
 * untried here before the route stops saying `degraded`: its source tries it again after at most
 * 5 s plus a send's bounded retries (about 10 s), so a hold no try renewed for a minute is no
 * longer this process's (its partition went to another process in a rebalance, or the route's
 * source let it go).
 */
export const DEAD_LETTER_HOLD_STALE_MS = 60_000;

const PASS_TRACE_ON = new PropagatingTracing();

export interface ProcessResult {
  id: string;
  outcome: MessageOutcome;
  /** The final body (what a sync HTTP route answers when no destination gives a reply). */
  body?: unknown;
  /** The answer of the route's `reply` destination (sync HTTP request-reply). */
  reply?: Reply;
  /** Why the awaited answer did not come (the message itself was delivered). */
  replyError?: { code: 'TIMEOUT' | 'LOST' | 'FAILED'; message: string };
  error?: { code: string; message: string; where?: string };
  deadLetterId?: string;
}

/** A structured log line: its text and the fields a collector can filter on. */
export type LogFields = { msg: string } & Record<string, unknown>;

export interface WorkerStatus {
  /**
   * `connecting`: waiting for its broker's first answer; `retrying`: the broker refused or could
   * not be reached, and it tries again (`reason` says why); `failed`: it could not start and is
   * restarted after a delay; `degraded`: it runs, but messages wait in their source because
   * the dead-letter destination refuses their dead letters for a reason that may pass (a topic
   * that does not exist, say: `delivery: exactly-once`, where a dead letter is part of the
   * source's transaction); `reason` says why, and they are tried again until it passes.
   */
  state: 'running' | 'stopped' | 'starting' | 'connecting' | 'retrying' | 'failed' | 'degraded';
  inFlight: number;
  processed: number;
  failed: number;
  lastError: string | null;
  /**
   * `lastError` without its text, when it is a message's failure (`EXPRESSION_FAILED at
   * /pipeline/1 (transform)`): such a text may quote the message (a JSONata error names the value
   * it could not use), which only those who may read messages are shown.
   */
  lastErrorSummary?: string | null;
  /** Why it is not running (the broker's words, card numbers redacted), while it is not. */
  reason?: string | null;
  /** Since when it is in this state (ISO 8601). */
  since?: string;
  /** Dead letters its dead-letter destination did not take (each try counts). */
  deadLetterFailures?: number;
}

/** A start given up because the route's stored state changed while it waited for its broker. */
export class StartCancelled extends Error {
  constructor(routeId: string) {
    super(`route ${routeId}: start cancelled (the route changed while it was starting)`);
  }
}

/** Default wait of a sync HTTP caller, for the result or the reply. */
export const SYNC_TIMEOUT_MS = 30_000;

/**
 * Every failure text of a message passes here on its way to the dead-letter row, the broker's
 * x-junction-error header, route status and the ingest reply: redacted once more, for text
 * joined from several errors or from an error that is not one of ours.
 */
class Failure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly where: string | undefined,
    readonly attempts: number,
    /**
     * What kind of failure it was, in words that cannot quote a message (a connector's code and
     * status): route status shows it to those who may not read the message text.
     */
    readonly kind?: string,
  ) {
    super(redactPanText(message));
  }
}

/**
 * Runs one version of one route: takes messages from its source (or from HTTP ingest), runs the
 * compiled pipeline, delivers to every matching destination with retries, dead-letters what
 * cannot be delivered, records the outcome, and only then lets the source acknowledge.
 */
export class RouteWorker {
  private source?: Source;
  private stateValue: WorkerStatus['state'] = 'stopped';
  private stateSince = new Date();
  private get state(): WorkerStatus['state'] {
    return this.stateValue;
  }
  private set state(next: WorkerStatus['state']) {
    if (next !== this.stateValue) this.stateSince = new Date();
    this.stateValue = next;
  }
  private inFlight = 0;
  private processed = 0;
  private failed = 0;
  private lastError: string | null = null;
  private lastErrorSummary: string | null = null;
  private deadLetterFailures = 0;
  /**
   * Set while a message waits in its source because the dead-letter destination refused its dead
   * letter for a reason that may pass (`delivery: exactly-once`): the route is `degraded`.
   */
  private deadLetterHold?: { at: string; reason: string; since: Date; triedAt: number };
  /** Stopped for good: its destinations are closed. */
  private closed = false;
  /** Aborted by stop(): waits between delivery attempts end and the message goes back. */
  private readonly halt = newHalt();
  private cancelStarting?: () => void;
  private readonly idle: Array<() => void> = [];

  private constructor(
    readonly routeId: string,
    readonly version: number,
    readonly document: RouteSpec,
    private readonly compiled: CompiledRoute,
    /** The destination whose answer a sync HTTP caller gets, if one is marked `reply`. */
    private readonly replyIndex: number | undefined,
    private readonly destinations: Destination[],
    private readonly deadLetter: Destination | undefined,
    private readonly retry: RetryPolicy,
    /** The stored connections this worker was built with, by name. */
    private readonly connections: Map<string, ConnectorConnection>,
    private readonly deps: WorkerDeps,
  ) {}

  /** The route's incarnation (a version number counts within one); set by create. */
  incarnation = 1;

  static async create(
    route: { id: string; version: number; incarnation?: number; document: RouteSpec },
    deps: WorkerDeps,
    /** Where its connections are read from (default `deps.connection`; boot shares one read of each). */
    connection: (name: string) => Promise<ConnectorConnection> = deps.connection,
  ): Promise<RouteWorker> {
    // A stored version runs whatever its schemas cost: it may predate the limit (a save is held to it).
    const compiled = await compileRoute(route.document, deps.resources, {
      schemaCostLimit: Infinity,
    });
    const connections = await resolveConnections(route.document, deps, connection);
    const connectionOf = (spec: RouteDestination) =>
      'connection' in spec ? connections.get(spec.connection) : undefined;
    const destinations: Destination[] = [];
    const dlSpec = route.document.errors?.deadLetter as RouteDestination | undefined;
    let deadLetter: Destination | undefined;
    try {
      for (const spec of route.document.destinations) {
        destinations.push(
          deps.connectors.destination(spec, connectionOf(spec), { routeId: route.id }),
        );
      }
      deadLetter = dlSpec
        ? deps.connectors.destination(dlSpec, connectionOf(dlSpec), { routeId: route.id })
        : undefined;
    } catch (err) {
      // Give back what was taken: each destination holds a share of a broker client.
      await Promise.allSettled(destinations.map((d) => d.close()));
      throw err;
    }
    const source = route.document.source;
    const awaitsReply = deps.resources.protocols[source.type]?.source?.awaitsReply;
    const replying = awaitsReply?.(source as unknown as Record<string, unknown>)
      ? route.document.destinations.findIndex((d) => 'reply' in d && d.reply === true)
      : -1;
    const worker = new RouteWorker(
      route.id,
      route.version,
      route.document,
      compiled,
      replying >= 0 ? replying : undefined,
      destinations,
      deadLetter,
      retryPolicy(route.document.errors?.retry),
      connections,
      deps,
    );
    worker.incarnation = route.incarnation ?? 1;
    return worker;
  }

  /**
   * Whether a connection this worker was built with is no longer what is stored (a new URL,
   * password or certificate): then the route must restart to use it. An HTTP route's own
   * connection is not counted: ingest re-reads its `hmacKey` by itself.
   */
  async connectionsChanged(): Promise<boolean> {
    try {
      const now = await resolveConnections(this.document, this.deps);
      return [...now].some(([name, c]) => {
        const built = this.connections.get(name);
        return !built || connectionFingerprint(c) !== connectionFingerprint(built);
      });
    } catch {
      // Unreadable now (the database away?): no reason to restart a running route. A connection
      // that is really gone cannot be: routes that use it cannot be deleted from under them.
      return false;
    }
  }

  get sourceType(): RouteSpec['source']['type'] {
    return this.document.source.type;
  }

  /** Starts its source (a broker consumer, or the ingest path of an HTTP source). */
  async start(): Promise<void> {
    this.state = 'starting';
    const spec = this.document.source;
    let source: Source | undefined;
    try {
      {
        const connection =
          spec.connection === undefined ? undefined : this.connections.get(spec.connection);
        source = this.deps.connectors.source(spec, connection, {
          routeId: this.routeId,
          routeVersion: this.version,
          ...(this.document.delivery ? { delivery: this.document.delivery } : {}),
        });
        const started = source.start((message) => this.handle(message));
        const cancelled = new Promise<never>((_, reject) => {
          const abandoned = source!;
          this.cancelStarting = () => {
            reject(new StartCancelled(this.routeId));
            // Give up on it: stop the source now (an AMQP start waiting for a channel ends at
            // once) and again if its start still succeeds later, so no consumer is left behind.
            void abandoned.stop().catch(() => undefined);
            void started.then(
              () => abandoned.stop(),
              () => undefined,
            );
          };
        });
        try {
          await Promise.race([started, cancelled]);
        } finally {
          this.cancelStarting = undefined;
        }
        this.source = source;
      }
      this.state = 'running';
    } catch (err) {
      // A source that could not start still holds its share of the broker client.
      if (source && !(err instanceof StartCancelled)) await source.stop().catch(() => undefined);
      this.state = err instanceof StartCancelled ? 'stopped' : 'failed';
      if (!(err instanceof StartCancelled)) {
        this.lastError = `could not start: ${(err as Error).message}`;
        this.lastErrorSummary = null;
      }
      throw err;
    }
  }

  /** Abandons a start still waiting for its source: start() rejects with StartCancelled at once. */
  cancelStart(): void {
    this.cancelStarting?.();
  }

  /** Stops intake and waits for every message in flight to finish (and be acknowledged). */
  async stop(): Promise<void> {
    // A message waiting to retry a destination is not failed by a stop: a broker message goes
    // back to its source (requeued, not committed) for the next worker; see process().
    this.halt.abort();
    try {
      await this.source?.stop();
    } finally {
      this.source = undefined;
      if (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
      this.state = 'stopped';
      this.closed = true;
      await this.closeDestinations();
    }
  }

  /** Drained: nothing sends any more. Closes the channels (and reply consumers) they hold. */
  private async closeDestinations(): Promise<void> {
    const closing = await Promise.allSettled(
      [...this.destinations, ...(this.deadLetter ? [this.deadLetter] : [])].map((d) => d.close()),
    );
    for (const c of closing)
      if (c.status === 'rejected')
        this.deps.log.warn(
          `route ${this.routeId}: closing a destination failed: ${errorText(c.reason)}`,
        );
  }

  status(): WorkerStatus {
    const base = {
      inFlight: this.inFlight,
      processed: this.processed,
      failed: this.failed,
      lastError: this.lastError,
      lastErrorSummary: this.lastErrorSummary,
      deadLetterFailures: this.deadLetterFailures,
    };
    const hold = this.deadLetterHold;
    if (hold && this.monotonicNow() - hold.triedAt > DEAD_LETTER_HOLD_STALE_MS)
      this.deadLetterTaken(
        `not tried here for ${DEAD_LETTER_HOLD_STALE_MS / 1000} s: its partition is another process's now, or its source let it go`,
        true,
      );
    if (this.state === 'running' && this.deadLetterHold)
      return {
        ...base,
        state: 'degraded',
        reason: this.deadLetterHold.reason,
        since: this.deadLetterHold.since.toISOString(),
      };
    const spec = this.document.source;
    if (this.state === 'starting' && spec.connection !== undefined) {
      // Still waiting for the source's broker: say whether it answered and why it refused.
      const connection = this.deps.connectionState?.(spec.connection);
      if (connection && !connection.up && connection.error)
        return {
          ...base,
          state: 'retrying',
          lastError: base.lastError ?? redactPanText(connection.error),
          reason: redactPanText(connection.error),
          // The connection may have been refusing since before this worker began to wait.
          since: new Date(
            Math.max(connection.since.getTime(), this.stateSince.getTime()),
          ).toISOString(),
        };
      return { ...base, state: 'connecting', reason: null, since: this.stateSince.toISOString() };
    }
    return {
      ...base,
      state: this.state,
      reason: this.state === 'failed' ? this.lastError : null,
      since: this.stateSince.toISOString(),
    };
  }

  /** The source's handler: resolving acknowledges (and answers an HTTP caller), rejecting gives the message back. */
  private handle(message: InboundMessage): Promise<ProcessResult> {
    return this.process(message);
  }

  /**
   * Takes one message all the way: delivered, filtered or dead-lettered, and recorded. Rejects
   * only when the message could not be put anywhere durable (then it must not be acknowledged).
   */
  async process(
    message: InboundMessage,
    options: { replay?: boolean } = {},
  ): Promise<ProcessResult> {
    if (this.closed)
      throw new JunctionError(
        'UNAVAILABLE',
        `route '${this.routeId}' version ${this.version} has stopped; try again`,
        undefined,
        { retryAfterSeconds: 1 },
      );
    this.inFlight += 1;
    const receivedAt = isoNow();
    // A source's own id that holds a card number, or is too long to keep, would reach every
    // record: see keptMessageId.
    const id = message.id ? keptMessageId(message.id) : uuidv7();
    const tracing = this.deps.tracing ?? PASS_TRACE_ON;
    const trace = tracing.begin(message, id, this);
    const traced = { ...options, trace };
    try {
      // A source that already knows the message cannot go through says why, and a message that
      // went round routes too often is refused: either is parked as is.
      const hops = hopsOf(message.headers);
      const maxHops = this.deps.maxHops ?? DEFAULT_MAX_HOPS;
      const refused =
        message.unreadable !== undefined
          ? new Failure('INPUT_REJECTED', message.unreadable, 'input', 0)
          : message.undeliverable !== undefined
            ? new Failure('DELIVERY_FAILED', message.undeliverable, 'destinations', 0)
            : hops >= maxHops
              ? new Failure(
                  'INPUT_REJECTED',
                  `the message has passed through ${hops} routes already (header ${HOPS_HEADER}) and ${maxHops} is the most allowed (JUNCTION_MAX_HOPS): do routes feed each other in a loop?`,
                  'input',
                  0,
                )
              : undefined;
      if (refused) {
        message.order?.issued();
        return await this.park(message, id, receivedAt, refused, traced);
      }
      let body: unknown;
      try {
        body = decodeBody(message.payload);
      } catch (err) {
        if (!(err instanceof PipelineError)) throw err;
        message.order?.issued();
        return await this.park(
          message,
          id,
          receivedAt,
          new Failure(err.code, err.message, 'input', 0),
          traced,
        );
      }
      const envelope: Envelope = {
        id,
        headers: message.headers,
        body,
        meta: {
          routeId: this.routeId,
          routeVersion: this.version,
          source: message.source,
          receivedAt,
          redelivered: message.redelivered,
          partition: message.source.partition,
          offset: message.source.offset,
          ...(message.key !== undefined && isUtf8(message.key)
            ? { key: redactPanText(message.key.toString('utf8')) }
            : {}),
        },
      };
      const result = await this.compiled.run(envelope, tracing.recording ? RECORD : undefined);
      trace.stages(result.trace);
      // Its dead letter or drop need not keep the messages after it of its partition waiting.
      if (result.outcome !== 'deliver') message.order?.issued();
      if (result.outcome === 'error') {
        return await this.park(
          message,
          id,
          receivedAt,
          new Failure(result.error.code, result.error.message, result.error.where, 0),
          traced,
        );
      }
      if (result.outcome === 'drop') {
        const outcome = result.reason === 'filtered' ? 'filtered' : 'unroutable';
        await this.record(message, id, receivedAt, outcome, { attempts: 0, receipts: [], trace });
        return { id, outcome };
      }
      return await this.deliverAll(message, id, receivedAt, result.deliveries, {
        ...traced,
        hops: String(hops + 1),
      });
    } finally {
      message.order?.issued();
      trace.end();
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  /** Delivers to every matching destination (with retries), then records, parks or gives back. */
  private async deliverAll(
    message: InboundMessage,
    id: string,
    receivedAt: string,
    deliveries: Delivery[],
    options: {
      replay?: boolean;
      trace: MessageTrace;
      /** The junction-hops header every delivery carries: the count the message came with + 1. */
      hops: string;
    },
  ): Promise<ProcessResult> {
    const { trace, hops } = options;
    // Every delivery carries the same final body: serialise it once, not once per destination.
    const bytes = Buffer.from(JSON.stringify(deliveries[0].envelope.body));
    const replyBy =
      this.replyIndex === undefined ? 0 : (message.replyBy ?? Date.now() + this.replyTimeoutMs());
    // Sent on in the source's order (a Kafka partition handled several messages at a time).
    const turn = message.order?.previous();
    if (turn) await turn;
    const sending = Promise.all(
      deliveries.map((d) => this.deliver(d, bytes, replyBy, hops, trace, message)),
    );
    // The sends are issued: the stream's next message may send while these wait for receipts.
    message.order?.issued();
    const settled = await sending;
    // One pass over the results (this runs for every message).
    const interrupted: DeliveryInterrupted[] = [];
    const receipts: Array<{ destination: number; receipt: DeliveryReceipt }> = [];
    const failures: DeliveryFailure[] = [];
    let attempts = -Infinity;
    for (const s of settled) {
      attempts = Math.max(attempts, s.attempts);
      if ('receipt' in s) receipts.push({ destination: s.index, receipt: s.receipt });
      else if ('error' in s) failures.push(s);
      else {
        interrupted.push(s);
        const error = `the route stopped while it waited to retry: ${errorText(s.interrupted.lastError)}`;
        failures.push({ index: s.index, error, attempts: s.attempts });
      }
    }
    // A broker message goes back to its queue or partition, and a replayed dead letter stays
    // one. A final message (HTTP) has nowhere to go back to (its caller may have had its 504,
    // or gone): it is dead-lettered below, as a delivery failure.
    if (interrupted.length > 0 && (!message.final || options.replay))
      this.handBack(id, settled, interrupted);
    if (message.transaction?.failed) this.abandonTransaction(id, settled);
    const finalBody = deliveries[0].envelope.body;
    if (failures.length > 0) {
      dropReplies(settled);
      const reason = failures.map((f) => `destinations/${f.index}: ${f.error}`).join('; ');
      return await this.park(
        message,
        id,
        receivedAt,
        new Failure(
          'DELIVERY_FAILED',
          reason,
          `destinations/${failures[0].index}`,
          attempts,
          failures[0].kind,
        ),
        options,
        receipts,
        finalBody,
      );
    }
    const outcome: MessageOutcome = options.replay ? 'replayed' : 'delivered';
    await this.record(message, id, receivedAt, outcome, {
      attempts,
      receipts,
      body: finalBody,
      trace,
    });
    this.processed += 1;
    this.deps.log.debug?.({
      msg: `route ${this.routeId}: message ${id} ${outcome}`,
      event: `message.${outcome}`,
      route: this.routeId,
      routeVersion: this.version,
      messageId: id,
      attempts,
      destinations: receipts.length,
      ms: Date.now() - Date.parse(receivedAt),
      ...(trace.traceId ? { traceId: trace.traceId } : {}),
    });
    // Recorded as delivered once confirmed; the answer is for the caller only.
    const pending = settled.find((s): s is DeliverySuccess => 'reply' in s && !!s.reply)?.reply;
    if (!pending) return { id, outcome, body: finalBody };
    if (options.replay) {
      // Nobody waits for the answer of a replayed message.
      pending.catch(() => undefined);
      return { id, outcome, body: finalBody };
    }
    try {
      return { id, outcome, body: finalBody, reply: await pending };
    } catch (err) {
      const code = (err as { code?: string }).code;
      return {
        id,
        outcome,
        body: finalBody,
        replyError: {
          code: code === 'TIMEOUT' ? 'TIMEOUT' : code === 'CLOSED' ? 'LOST' : 'FAILED',
          message: (err as Error).message,
        },
      };
    }
  }

  /**
   * Gives a message back to its source because the worker stopped while it waited to retry a
   * destination: the caller does not acknowledge it, so it comes again (to this route's next
   * worker, or another process). Destinations that already took it will see it twice.
   */
  private handBack(
    id: string,
    settled: Array<DeliverySuccess | DeliveryFailure | DeliveryInterrupted>,
    interrupted: DeliveryInterrupted[],
  ): never {
    dropReplies(settled);
    const why = interrupted
      .map((s) => `destinations/${s.index}: ${errorText(s.interrupted.lastError)}`)
      .join('; ');
    this.deps.log.warn(
      `route ${this.routeId}: stopping; message ${id} goes back to its source undelivered (${why})`,
    );
    throw new JunctionError(
      'UNAVAILABLE',
      `route '${this.routeId}' stopped while message ${id} waited to retry (${why}); it was not taken: send it again`,
      { id },
      { retryAfterSeconds: 1 },
    );
  }

  /**
   * Gives a message back because a send in its source's transaction failed (delivery:
   * exactly-once): the transaction is aborted, its sends with it, and the source redoes them all.
   * Dead-lettering it would be wrong: the dead letter would be aborted too.
   */
  private abandonTransaction(
    id: string,
    settled: Array<DeliverySuccess | DeliveryFailure | DeliveryInterrupted>,
  ): never {
    dropReplies(settled);
    const why = settled.flatMap((s) =>
      'error' in s ? [`destinations/${s.index}: ${s.error}`] : [],
    );
    throw new JunctionError(
      'UNAVAILABLE',
      `route '${this.routeId}': the transaction of message ${id} failed${why.length ? ` (${why.join('; ')})` : ''}; it is aborted and redone`,
      { id },
      { retryAfterSeconds: 1 },
    );
  }

  /** One delivery, in its span; the message it sends carries the trace on. */
  private async deliver(
    delivery: Delivery,
    body: Buffer,
    replyBy: number,
    hops: string,
    trace: MessageTrace,
    message: InboundMessage,
  ): Promise<DeliverySuccess | DeliveryFailure | DeliveryInterrupted> {
    const span = trace.delivery(delivery.index, delivery.destination);
    const settled = await this.send(delivery, body, replyBy, hops, span.headers, message);
    span.end(settled);
    return settled;
  }

  private async send(
    delivery: Delivery,
    body: Buffer,
    replyBy: number,
    hops: string,
    traceHeaders: TraceHeaders | undefined,
    message: InboundMessage,
  ): Promise<DeliverySuccess | DeliveryFailure | DeliveryInterrupted> {
    const destination = this.destinations[delivery.index];
    const transaction = message.transaction;
    const out: OutboundMessage = {
      id: delivery.envelope.id,
      headers: { ...traceHeaders, [HOPS_HEADER]: hops },
      body,
      routingKey: delivery.routingKey,
      // A Kafka destination that names no key sends the source record's on.
      key:
        delivery.key !== undefined || delivery.destination.type !== 'kafka'
          ? delivery.key
          : carriedKey(message),
      ...(delivery.priority !== undefined ? { priority: delivery.priority } : {}),
      ...(transaction ? { transaction } : {}),
    };
    try {
      if (delivery.index === this.replyIndex && destination.request) {
        const { value, attempts } = await withRetry(
          this.retry,
          () => destination.request!(out, Math.max(1, replyBy - Date.now())),
          this.halt.signal,
          this.deps.jitter,
          replyBy,
        );
        return { index: delivery.index, receipt: value.receipt, attempts, reply: value.reply };
      }
      const { value, attempts } = await withRetry(
        this.retry,
        () => destination.send(out),
        this.halt.signal,
        this.deps.jitter,
        message.replyBy,
      );
      return { index: delivery.index, receipt: value, attempts };
    } catch (err) {
      if (err instanceof RetryInterrupted)
        return { index: delivery.index, interrupted: err, attempts: err.attempts };
      const kind = failureKind(err);
      return {
        index: delivery.index,
        error: (err as Error).message,
        attempts: (err as { attempts?: number }).attempts ?? this.retry.attempts,
        ...(kind ? { kind } : {}),
      };
    }
  }

  /** How long a caller waits for the reply: the source's `timeoutMs` (http sync; default 30 s). */
  replyTimeoutMs(): number {
    const source = this.document.source;
    return ('timeoutMs' in source && source.timeoutMs) || SYNC_TIMEOUT_MS;
  }

  /** Dead-letters a message: to the route's dead-letter destination (if any) and, always, the encrypted table. */
  private async park(
    message: InboundMessage,
    id: string,
    receivedAt: string,
    failure: Failure,
    options: { replay?: boolean; trace: MessageTrace },
    receipts: Array<{ destination: number; receipt: DeliveryReceipt }> = [],
    body?: unknown,
  ): Promise<ProcessResult> {
    this.failed += 1;
    this.lastError = `${failure.code}: ${failure.message}`;
    this.lastErrorSummary =
      (failure.where ? `${failure.code} at ${failure.where}` : failure.code) +
      (failure.kind ? ` (${failure.kind})` : '');
    const error = { code: failure.code, message: failure.message, where: failure.where };
    // A replay that fails again stays the one dead letter it was (the caller records the attempt).
    if (options.replay) {
      options.trace.outcome('dead-lettered', error);
      return { id, outcome: 'dead-lettered', error };
    }
    // Its transaction failed already (a send of it, or of a message before it in the same
    // transaction): the dead letter would be aborted with it.
    if (message.transaction?.failed) this.abandonTransaction(id, []);
    // Hashed once, for the dead letter and its record alike (in slices: it may be 200 MB).
    const payloadDigest = await payloadSha256(message.payload);
    const deadLetterId = await this.deps.deadLetters.park({
      messageId: id,
      routeId: this.routeId,
      routeVersion: this.version,
      routeIncarnation: this.incarnation,
      source: message.source,
      reasonCode: failure.code,
      reason: failure.message,
      failedAt: failure.where,
      attempts: failure.attempts,
      payload: message.payload,
      payloadSha256: payloadDigest,
      headers: message.headers,
      ...(message.key !== undefined ? { key: message.key } : {}),
    });
    if (this.deadLetter && message.deadLetterRefused !== undefined) {
      this.deps.log.warn(
        `route ${this.routeId}: the dead-letter destination refused ${id} for good in an earlier try of its transaction; it is kept in the dead-letter table only`,
      );
    } else if (this.deadLetter) {
      // A payload over the message limit goes as the dead letter keeps it (its first part):
      // publishing a 200 MB MQTT message whole held the event loop 250 ms, and RabbitMQ closes
      // the channel (every dead letter in flight on it) for one over its own 128 MB limit.
      const cut = message.payload.length > MAX_KEPT_PAYLOAD_BYTES;
      // The sender's own x-junction-* headers go, in whatever letter case (MQTT and AMQP keep
      // the sender's): a dead letter's reader takes what these say as the gateway's word.
      const headers: Record<string, string> = {
        ...withoutJunctionHeaders(message.headers),
        'x-junction-route': this.routeId,
        'x-junction-error': `${failure.code}: ${failure.message}`.slice(0, 1000),
        'x-junction-dead-letter': deadLetterId,
        'x-junction-payload-bytes': String(message.payload.length),
        'x-junction-payload-sha256': payloadDigest,
      };
      // Said only of a cut copy.
      if (!cut) {
        delete headers['x-junction-payload-bytes'];
        delete headers['x-junction-payload-sha256'];
      }
      const out: OutboundMessage = {
        id,
        headers,
        body: cut ? message.payload.subarray(0, MAX_KEPT_PAYLOAD_BYTES) : message.payload,
        ...((this.document.errors?.deadLetter as RouteDestination | undefined)?.type === 'kafka'
          ? { key: carriedKey(message) }
          : {}),
        ...(message.transaction ? { transaction: message.transaction } : {}),
      };
      try {
        await withRetry(
          { attempts: 3, backoffMs: 100, maxBackoffMs: 1000 },
          () => this.deadLetter!.send(out),
          this.halt.signal,
        );
        this.deadLetterTaken();
      } catch (err) {
        this.deadLetterFailures += 1;
        // In a transaction, the dead letter is lost with it: the whole transaction comes again.
        if (message.transaction?.failed) {
          // Nor is the row kept: the message waits in its source and parks again on the redo (a
          // row per try piled up duplicates, one every few seconds while the cause lasted).
          await this.deps.deadLetters.delete(deadLetterId).catch((deleteErr: unknown) => {
            this.deps.log.warn(
              `route ${this.routeId}: dead letter ${deadLetterId} of ${id}, whose transaction failed, could not be removed (it comes again): ${errorText(deleteErr)}`,
            );
          });
          if (!message.transaction.recordRefused) this.deadLetterRefused(message, err);
          this.abandonTransaction(id, []);
        }
        // The encrypted copy is committed: the message is safe and can be replayed from there.
        this.deps.log.warn(
          `route ${this.routeId}: dead-letter destination failed for ${id} (kept in the table): ${(err as Error).message}`,
        );
      }
    }
    // The message that was held is through (kept in the table only, say): nothing waits now.
    if (this.deadLetterHold?.at === holdKey(message)) this.deadLetterTaken();
    await this.record(message, id, receivedAt, 'dead-lettered', {
      attempts: failure.attempts,
      receipts,
      body,
      payloadSha256: payloadDigest,
      error,
      trace: options.trace,
    });
    // One line per dead letter, for whoever watches the log: where, which, why (the code, never
    // the body nor the reason's text, which may quote it).
    this.deps.log.warn({
      msg: `route ${this.routeId}: message ${id} dead-lettered (${failure.code})`,
      event: 'message.dead-lettered',
      route: this.routeId,
      routeVersion: this.version,
      messageId: id,
      reasonCode: failure.code,
      failedAt: failure.where ?? null,
      attempts: failure.attempts,
      deadLetterId,
      ...(options.trace.traceId ? { traceId: options.trace.traceId } : {}),
    });
    return { id, outcome: 'dead-lettered', error, deadLetterId };
  }

  /**
   * The dead-letter destination refused a dead letter of a transaction, not for the record itself
   * (that one the source marks, and the redo keeps it from the destination): a topic that does not
   * exist, an authorisation, a broker away. The message waits in its source (its offset is not
   * committed) and is tried again after a growing pause; the route is `degraded` until a dead
   * letter goes through. One warning when it begins, one when it ends, not one per try.
   */
  private deadLetterRefused(message: InboundMessage, err: unknown): void {
    const { source } = message;
    const where =
      source.partition === undefined
        ? `${source.type} ${source.name}`
        : `${source.type} ${source.name} partition ${source.partition} offset ${source.offset}`;
    const reason = redactPanText(
      `the dead-letter destination refuses dead letters (${errorText(err)}): the message at ${where} waits in its source, with those after it, and is tried again`,
    );
    const held = this.deadLetterHold;
    this.deadLetterHold = {
      at: holdKey(message),
      reason,
      since: held?.since ?? new Date(),
      triedAt: this.monotonicNow(),
    };
    if (held) {
      this.deps.log.debug?.(`route ${this.routeId}: ${reason}`);
      return;
    }
    this.deps.log.warn({
      msg: `route ${this.routeId}: degraded: ${reason}`,
      event: 'route.degraded',
      route: this.routeId,
      routeVersion: this.version,
    });
  }

  /**
   * A dead letter went through, or the held message was done with (`how`: what became of it):
   * no longer degraded.
   */
  private monotonicNow(): number {
    return this.deps.monotonicNow?.() ?? performance.now();
  }

  private deadLetterTaken(how?: string, stale = false): void {
    const held = this.deadLetterHold;
    if (!held) return;
    this.deadLetterHold = undefined;
    const what = stale
      ? `the message held by a refused dead letter was ${how}`
      : how
        ? `the message held by a refused dead letter is through (${how})`
        : 'the dead-letter destination takes dead letters again';
    this.deps.log.log({
      msg: `route ${this.routeId}: ${what} (refused since ${held.since.toISOString()}); no longer degraded`,
      event: 'route.recovered',
      route: this.routeId,
      routeVersion: this.version,
    });
  }

  private record(
    message: InboundMessage,
    id: string,
    receivedAt: string,
    outcome: MessageOutcome,
    extra: {
      attempts: number;
      receipts: Array<{ destination: number; receipt: DeliveryReceipt }>;
      body?: unknown;
      error?: ProcessResult['error'];
      trace: MessageTrace;
      payloadSha256?: string;
    },
  ): Promise<void> {
    extra.trace.outcome(outcome, extra.error);
    // The message a refused dead letter held is done with, whatever became of it (delivered on
    // the redo, say, its destination back): nothing waits now. Only a dead letter cleared the
    // hold before, and the route said `degraded` until the next one, which may never come.
    if (this.deadLetterHold?.at === holdKey(message))
      this.deadLetterTaken(outcome === 'dead-lettered' ? undefined : `its message was ${outcome}`);
    return this.deps.audit.record({
      messageId: id,
      routeId: this.routeId,
      routeVersion: this.version,
      source: message.source,
      outcome,
      receipts: extra.receipts,
      attempts: extra.attempts,
      receivedAt,
      doneAt: isoNow(),
      error: extra.error,
      body: extra.body,
      payload: message.payload,
      ...(extra.payloadSha256 !== undefined ? { payloadSha256: extra.payloadSha256 } : {}),
      auditPayload: this.document.audit?.payload ?? 'masked',
      traceId: extra.trace.traceId,
    });
  }
}

/** Stage timings, for stage spans (only while spans are recorded: a clock read per stage). */
const RECORD = { trace: true } as const;

/**
 * The stored connections a route's source and destinations connect through. A connection named
 * only for a secret (an HTTP source's `hmacKey`) is left out: ingest re-reads that by itself.
 */
async function resolveConnections(
  document: RouteSpec,
  deps: WorkerDeps,
  connection: (name: string) => Promise<ConnectorConnection> = deps.connection,
): Promise<Map<string, ConnectorConnection>> {
  const names = new Set(
    connectionRefs(document, deps.resources.protocols)
      .filter((ref) => ref.secret === undefined)
      .map((ref) => ref.name),
  );
  const resolved = new Map<string, ConnectorConnection>();
  for (const name of names) resolved.set(name, await connection(name));
  return resolved;
}

interface DeliverySuccess {
  index: number;
  receipt: DeliveryReceipt;
  attempts: number;
  reply?: Promise<Reply>;
}

interface DeliveryFailure {
  index: number;
  error: string;
  attempts: number;
  /** What kind of failure, in the connector's words only (`REJECTED 401`): see Failure.kind. */
  kind?: string;
}

/** A connector's failure as its code and status (`REJECTED 401`), quoting nothing it was sent. */
function failureKind(err: unknown): string | undefined {
  if (!(err instanceof ConnectorError)) return undefined;
  return err.status === undefined ? err.code : `${err.code} ${err.status}`;
}

/** The stop signal of a worker: every message waiting to retry listens to it (no listener limit). */
function newHalt(): AbortController {
  const halt = new AbortController();
  setMaxListeners(0, halt.signal);
  return halt;
}

/** Replies nobody will read: their time-outs must not become unhandled rejections. */
function dropReplies(
  settled: Array<DeliverySuccess | DeliveryFailure | DeliveryInterrupted>,
): void {
  for (const s of settled) if ('reply' in s && s.reply) s.reply.catch(() => undefined);
}

interface DeliveryInterrupted {
  index: number;
  interrupted: RetryInterrupted;
  attempts: number;
}

/**
 * The source record's key to send on where a destination names none: as it came, unless it
 * holds a card number (a topic keyed by card number; the route masks the body, not the key),
 * then none. Null without one.
 */
function carriedKey(message: InboundMessage): Buffer | null {
  const key = message.key;
  if (key === undefined) return null;
  const text = key.toString(isUtf8(key) ? 'utf8' : 'latin1');
  return redactPanText(text) === text ? key : null;
}

/** Where a message stands in its source, to know it when it comes again. */
function holdKey(message: InboundMessage): string {
  const { source } = message;
  return `${source.type}\u0000${source.name}\u0000${source.partition ?? ''}\u0000${source.offset ?? ''}`;
}

/** Headers without any `x-junction-*` one, in whatever letter case it came. */
function withoutJunctionHeaders(headers: Record<string, string>): Record<string, string> {
  let out: Record<string, string> | undefined;
  for (const name of Object.keys(headers))
    if (name.length > 11 && name.slice(0, 11).toLowerCase() === 'x-junction-') {
      out ??= { ...headers };
      delete out[name];
    }
  return out ?? headers;
}
