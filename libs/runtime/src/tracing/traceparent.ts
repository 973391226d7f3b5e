import { TraceFlags, type SpanContext } from '@opentelemetry/api';
import { parseTraceParent, TraceState } from '@opentelemetry/core';
import { containsPan } from '@junction/pipeline';

/** The W3C Trace Context headers, as messages carry them (lower case in AMQP and Kafka too). */
export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

/**
 * Longest `traceparent` read. Version 00 is 55 characters; a later version may append fields, so
 * some room is left, but a header is never parsed at any length: one that is longer is ignored.
 */
export const TRACEPARENT_MAX_LENGTH = 256;

/** Longest `tracestate` kept (the W3C recommends propagating at least 512 characters). */
export const TRACESTATE_MAX_LENGTH = 512;

/** The trace headers one message carries on to its destinations. */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

/**
 * Whether a trace or span id (or a whole `traceparent`) is free of card numbers. Its hex digits
 * may spell one (`4111111111111111aaaa...`): such an id would be kept in the audit trail, on log
 * lines and at every destination, so everywhere it counts as no trace id at all.
 */
export function panFreeTraceId(id: string): boolean {
  return !containsPan(id);
}

/**
 * The caller's trace context from a message's headers, or undefined when it has none, a
 * malformed one, or one whose ids hold a card number (then it is ignored, as the W3C says of a
 * malformed one: a new trace may start). Never throws.
 * A `tracestate` counts only next to a valid `traceparent`.
 */
export function readTraceContext(headers: Record<string, unknown>): SpanContext | undefined {
  const parent = headers[TRACEPARENT];
  if (typeof parent !== 'string' || parent.length > TRACEPARENT_MAX_LENGTH) return undefined;
  const context = parseTraceParent(parent);
  // Each id on its own: read whole, the header's dashes would join the trace id's last digits
  // to the span id's first ones, and refuse (and so break) a fair share of random traces.
  if (!context || !panFreeTraceId(context.traceId) || !panFreeTraceId(context.spanId))
    return undefined;
  context.isRemote = true;
  const state = headers[TRACESTATE];
  if (typeof state === 'string' && state.length > 0 && state.length <= TRACESTATE_MAX_LENGTH) {
    const parsed = new TraceState(state);
    if (parsed.serialize() !== '') context.traceState = parsed;
  }
  return context;
}

/** `traceparent` of a span context, version 00 (what every later version's reader understands). */
export function formatTraceParent(context: SpanContext): string {
  const flags = (context.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
  return `00-${context.traceId}-${context.spanId}-${flags}`;
}

/** The headers that carry a span context on. */
export function traceHeaders(context: SpanContext): TraceHeaders {
  const state = context.traceState?.serialize();
  return state
    ? { traceparent: formatTraceParent(context), tracestate: state }
    : { traceparent: formatTraceParent(context) };
}
