import { performance } from 'node:perf_hooks';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type HrTime,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import { millisToHrTime } from '@opentelemetry/core';
import type { DeliveryReceipt, InboundMessage } from '@junction/connectors';
import { redactPanText, type StageTrace } from '@junction/pipeline';

/** A destination as a route names it: any protocol's spec (read loosely for span attributes). */
export type TracedDestination = { readonly type: string };
import type { MessageOutcome } from '../message-audit';
import { readTraceContext, traceHeaders, type TraceHeaders } from './traceparent';

/**
 * Messaging attributes of the OpenTelemetry semantic conventions. They are still "incubating"
 * there, and the project asks users to copy such names rather than import them.
 */
const MESSAGING_SYSTEM = 'messaging.system';
const MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
const MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
const MESSAGING_MESSAGE_ID = 'messaging.message.id';
const MESSAGING_PARTITION = 'messaging.destination.partition.id';
const MESSAGING_KAFKA_OFFSET = 'messaging.kafka.offset';

/** The route a message runs on, as a trace names it. */
export interface TracedRoute {
  routeId: string;
  version: number;
}

/** What a delivery came to: a receipt, or why not (the worker's own settle shapes fit). */
export interface DeliveryEnd {
  attempts: number;
  receipt?: DeliveryReceipt;
  error?: string;
  interrupted?: unknown;
}

/** The trace of one delivery of a message to one destination. */
export interface DeliveryTrace {
  /** What the destination's message carries on (`traceparent`, `tracestate`), if anything. */
  readonly headers: TraceHeaders | undefined;
  end(result: DeliveryEnd): void;
}

/** The trace of one message on one route, from its source's hand-over to its acknowledgement. */
export interface MessageTrace {
  /** The trace the message belongs to (its caller's, or a new one), for audit records and logs. */
  readonly traceId: string | undefined;
  /** The route's stages as they ran (recorded only when {@link MessageTracing.recording}). */
  stages(trace: readonly StageTrace[] | undefined): void;
  delivery(index: number, destination: TracedDestination): DeliveryTrace;
  /** How the message ended (delivered, filtered, dead-lettered...). */
  outcome(outcome: MessageOutcome, error?: { code: string; where?: string }): void;
  /** Done with the message; one that got no outcome was given back to its source. */
  end(): void;
}

/** Traces of messages: spans, or only the caller's context passed on. */
export interface MessageTracing {
  /** Whether spans are recorded (then stage timings are worth their clock reads). */
  readonly recording: boolean;
  begin(message: InboundMessage, id: string, route: TracedRoute): MessageTrace;
  /** Sends what is still buffered and stops. */
  shutdown(): Promise<void>;
}

const NO_DELIVERY: DeliveryTrace = { headers: undefined, end: () => undefined };

/** A message without any trace context, while no spans are recorded: nothing to do. */
export const NO_TRACE: MessageTrace = {
  traceId: undefined,
  stages: () => undefined,
  delivery: () => NO_DELIVERY,
  outcome: () => undefined,
  end: () => undefined,
};

/**
 * No spans (tracing is off): a message's `traceparent` and `tracestate` travel on to every
 * destination unchanged, and its trace id reaches the audit trail and the log. A message without
 * one costs a property read.
 */
export class PropagatingTracing implements MessageTracing {
  readonly recording = false;

  constructor(private readonly onTraceId?: (traceId: string) => void) {}

  begin(message: InboundMessage): MessageTrace {
    const caller = readTraceContext(message.headers);
    if (!caller) return NO_TRACE;
    this.onTraceId?.(caller.traceId);
    const delivery: DeliveryTrace = { headers: traceHeaders(caller), end: () => undefined };
    return { ...NO_TRACE, traceId: caller.traceId, delivery: () => delivery };
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Spans through an OpenTelemetry tracer: one per message (the child of its caller's span, or the
 * root of a new trace), one per stage and one per delivery under it; a delivery passes its own
 * span on as the destination message's parent, so the next hop's spans join the same trace.
 */
export class SpanTracing implements MessageTracing {
  readonly recording = true;

  constructor(
    private readonly tracer: Tracer,
    private readonly stop: () => Promise<void>,
    private readonly onTraceId?: (traceId: string) => void,
  ) {}

  begin(message: InboundMessage, id: string, route: TracedRoute): MessageTrace {
    const traced = new SpanTrace(this.tracer, message, id, route);
    this.onTraceId?.(traced.traceId);
    return traced;
  }

  shutdown(): Promise<void> {
    return this.stop();
  }
}

class SpanTrace implements MessageTrace {
  readonly traceId: string;
  private readonly span: Span;
  private readonly context: Context;
  private settled = false;
  /**
   * The wall-clock time of `performance.now()` 0, read once per message: every span of the
   * message is timed on the one monotonic clock, so stages fall in order and inside their
   * message (the SDK would take the wall clock's millisecond anew for each span).
   */
  private readonly origin = Date.now() - performance.now();

  constructor(
    private readonly tracer: Tracer,
    message: InboundMessage,
    id: string,
    route: TracedRoute,
  ) {
    const caller = readTraceContext(message.headers);
    this.span = tracer.startSpan(
      `route ${route.routeId}`,
      {
        kind: message.source.type === 'http' ? SpanKind.SERVER : SpanKind.CONSUMER,
        startTime: this.at(performance.now()),
        attributes: sourceAttributes(message, id, route),
      },
      caller ? trace.setSpanContext(ROOT_CONTEXT, caller) : ROOT_CONTEXT,
    );
    this.traceId = this.span.spanContext().traceId;
    this.context = trace.setSpan(ROOT_CONTEXT, this.span);
  }

  /** A `performance.now()` reading as the time of a span. */
  private at(performanceNow: number): HrTime {
    return millisToHrTime(this.origin + performanceNow);
  }

  stages(stages: readonly StageTrace[] | undefined): void {
    for (const stage of stages ?? []) {
      const span = this.tracer.startSpan(
        `stage ${stage.kind}`,
        {
          kind: SpanKind.INTERNAL,
          startTime: this.at(stage.startedAt),
          attributes: {
            'junction.stage.index': stage.index,
            'junction.stage.kind': stage.kind,
            ...(stage.dropped ? { 'junction.stage.dropped': true } : {}),
          },
        },
        this.context,
      );
      if (stage.error) {
        span.setAttribute(ATTR_ERROR_TYPE, stage.error.code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: stage.error.code });
      }
      span.end(this.at(stage.startedAt + stage.durationMs));
    }
  }

  delivery(index: number, destination: TracedDestination): DeliveryTrace {
    const span = this.tracer.startSpan(
      `deliver ${destination.type}`,
      {
        kind: destination.type === 'http' ? SpanKind.CLIENT : SpanKind.PRODUCER,
        startTime: this.at(performance.now()),
        attributes: destinationAttributes(index, destination),
      },
      this.context,
    );
    return {
      headers: traceHeaders(span.spanContext()),
      end: (result) => endDelivery(span, result, this.at(performance.now())),
    };
  }

  outcome(outcome: MessageOutcome, error?: { code: string; where?: string }): void {
    this.settled = true;
    this.span.setAttribute('junction.outcome', outcome);
    if (error) {
      this.span.setAttribute(ATTR_ERROR_TYPE, error.code);
      if (error.where) this.span.setAttribute('junction.error.where', error.where);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
    }
  }

  end(): void {
    if (!this.settled) {
      // Not acknowledged: it goes back to its source (or its caller got an error) and comes again.
      this.span.setAttribute('junction.outcome', 'returned');
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: 'not taken' });
    }
    this.span.end(this.at(performance.now()));
  }
}

function sourceAttributes(message: InboundMessage, id: string, route: TracedRoute): Attributes {
  const source = message.source;
  const attributes: Attributes = {
    'junction.route.id': route.routeId,
    'junction.route.version': route.version,
    [MESSAGING_MESSAGE_ID]: id,
  };
  if (source.type === 'http') {
    attributes[ATTR_URL_PATH] = source.name;
    return attributes;
  }
  attributes[MESSAGING_SYSTEM] = source.type === 'amqp' ? 'rabbitmq' : source.type;
  attributes[MESSAGING_OPERATION_TYPE] = 'process';
  // An MQTT source's name is the topic the message came on, which its sender chose
  // (`devices/4111 1111 1111 1111/t` matches `devices/+/t`): spans leave the gateway.
  attributes[MESSAGING_DESTINATION_NAME] = redactPanText(source.name);
  if (source.partition !== undefined) attributes[MESSAGING_PARTITION] = String(source.partition);
  if (source.offset !== undefined) attributes[MESSAGING_KAFKA_OFFSET] = Number(source.offset);
  if (message.redelivered) attributes['junction.redelivered'] = true;
  return attributes;
}

function destinationAttributes(index: number, destination: TracedDestination): Attributes {
  const attributes: Attributes = { 'junction.destination.index': index };
  const field = (name: string): string | undefined => {
    const value = (destination as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : undefined;
  };
  switch (destination.type) {
    case 'log':
      break;
    case 'http':
      // The path only: the connection's base URL may carry credentials.
      attributes[ATTR_URL_PATH] = field('path') ?? '';
      break;
    default:
      attributes[MESSAGING_SYSTEM] = destination.type === 'amqp' ? 'rabbitmq' : destination.type;
      attributes[MESSAGING_OPERATION_TYPE] = 'send';
      attributes[MESSAGING_DESTINATION_NAME] =
        field('exchange') ?? field('queue') ?? field('topic') ?? field('address') ?? '';
  }
  return attributes;
}

function endDelivery(span: Span, result: DeliveryEnd, time: HrTime): void {
  span.setAttribute('junction.attempts', result.attempts);
  const receipt = result.receipt;
  if (receipt?.kind === 'http') span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, receipt.status);
  if (receipt?.kind === 'kafka') {
    span.setAttribute(MESSAGING_PARTITION, String(receipt.partition));
    span.setAttribute(MESSAGING_KAFKA_OFFSET, Number(receipt.offset));
  }
  if (result.error !== undefined || result.interrupted !== undefined) {
    // The error's text may quote the message: the span says only that it failed, and how often.
    const type = result.interrupted !== undefined ? 'INTERRUPTED' : 'DELIVERY_FAILED';
    span.setAttribute(ATTR_ERROR_TYPE, type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  }
  span.end(time);
}
