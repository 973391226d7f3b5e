import fc from 'fast-check';
import { TraceFlags } from '@opentelemetry/api';
import { panFreeIds } from './otel-tracing';
import {
  formatTraceParent,
  readTraceContext,
  TRACEPARENT_MAX_LENGTH,
  traceHeaders,
  TRACESTATE_MAX_LENGTH,
} from './traceparent';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe('traceparent', () => {
  it('reads a valid traceparent as a remote parent, with its tracestate', () => {
    const context = readTraceContext({
      traceparent: VALID,
      tracestate: 'congo=t61rcWkgMzE,rojo=1',
    });
    expect(context).toMatchObject({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(context?.traceState?.serialize()).toBe('congo=t61rcWkgMzE,rojo=1');
  });

  it('writes what it read, canonically (version 00, only the sampled flag)', () => {
    expect(traceHeaders(readTraceContext({ traceparent: VALID })!)).toEqual({ traceparent: VALID });
    expect(
      traceHeaders(readTraceContext({ traceparent: VALID, tracestate: 'rojo=00f067aa0ba902b7' })!),
    ).toEqual({ traceparent: VALID, tracestate: 'rojo=00f067aa0ba902b7' });
    // A later version with more fields is read as far as version 00 goes.
    const future = readTraceContext({ traceparent: `cc-${TRACE_ID}-${SPAN_ID}-03-what-comes` });
    expect(future && formatTraceParent(future)).toBe(VALID);
    const unsampled = readTraceContext({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00` });
    expect(unsampled && formatTraceParent(unsampled)).toBe(`00-${TRACE_ID}-${SPAN_ID}-00`);
  });

  it.each([
    ['no header', {}],
    ['not a string', { traceparent: 42 }],
    ['empty', { traceparent: '' }],
    ['upper-case hex', { traceparent: VALID.toUpperCase() }],
    ['all-zero trace id', { traceparent: `00-${'0'.repeat(32)}-${SPAN_ID}-01` }],
    ['all-zero span id', { traceparent: `00-${TRACE_ID}-${'0'.repeat(16)}-01` }],
    ['version ff', { traceparent: `ff-${TRACE_ID}-${SPAN_ID}-01` }],
    ['version 00 with more fields', { traceparent: `${VALID}-extra` }],
    ['short trace id', { traceparent: `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01` }],
    ['two headers joined', { traceparent: `${VALID}, ${VALID}` }],
    ['a card number', { traceparent: '4111111111111111' }],
    [
      'too long, even if it would parse',
      { traceparent: `cc-${TRACE_ID}-${SPAN_ID}-01-${'x'.repeat(TRACEPARENT_MAX_LENGTH)}` },
    ],
  ])('ignores a malformed traceparent: %s', (_, headers) => {
    expect(readTraceContext(headers as Record<string, unknown>)).toBeUndefined();
  });

  it('ignores a tracestate that is malformed, too long or without a traceparent', () => {
    expect(readTraceContext({ tracestate: 'rojo=1' })).toBeUndefined();
    expect(readTraceContext({ traceparent: VALID, tracestate: '' })?.traceState).toBeUndefined();
    expect(
      readTraceContext({ traceparent: VALID, tracestate: 'not a list member' })?.traceState,
    ).toBeUndefined();
    const long = Array.from({ length: 40 }, (_, i) => `k${i}=${'v'.repeat(20)}`).join(',');
    expect(long.length).toBeGreaterThan(TRACESTATE_MAX_LENGTH);
    const context = readTraceContext({ traceparent: VALID, tracestate: long });
    expect(context?.traceId).toBe(TRACE_ID);
    expect(context?.traceState).toBeUndefined();
  });

  it('never throws, whatever the headers hold, and reads only well-formed ids', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 400 }), fc.anything()),
        fc.oneof(fc.string({ maxLength: 700 }), fc.anything()),
        (traceparent, tracestate) => {
          const context = readTraceContext({ traceparent, tracestate });
          if (context) {
            expect(context.traceId).toMatch(/^[0-9a-f]{32}$/);
            expect(context.spanId).toMatch(/^[0-9a-f]{16}$/);
          }
        },
      ),
    );
  });
});

describe('traceparent holding a card number', () => {
  it('is no trace context: a trace id or span id that spells a card number is ignored', () => {
    for (const parent of [
      '00-4111111111111111aaaaaaaaaaaaaaaa-1111111111111111-01',
      `00-${TRACE_ID}-4111111111111111-01`,
      '00-aaaaaaaaaaaaaaaa4111111111111111-00f067aa0ba902b7-01',
    ])
      expect(readTraceContext({ traceparent: parent })).toBeUndefined();
    expect(readTraceContext({ traceparent: VALID })?.traceId).toBe(TRACE_ID);
    // Digits that run on from the trace id over the dash into the span id are two ids, not a
    // card number (4111111111|111111 would be one): such a trace goes on.
    const across = '00-aaaaaaaaaaaaaaaaaaaaaa4111111111-11111100f067aa0b-01';
    expect(readTraceContext({ traceparent: across })?.traceId).toBe(
      'aaaaaaaaaaaaaaaaaaaaaa4111111111',
    );
  });

  it('new ids are drawn again until they spell no card number', () => {
    const traceIds = ['4111111111111111aaaaaaaaaaaaaaaa', TRACE_ID];
    const spanIds = ['4111111111111111', SPAN_ID];
    const ids = panFreeIds({
      generateTraceId: () => traceIds.shift()!,
      generateSpanId: () => spanIds.shift()!,
    });
    expect(ids.generateTraceId()).toBe(TRACE_ID);
    expect(ids.generateSpanId()).toBe(SPAN_ID);
  });
});
