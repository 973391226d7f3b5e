import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { InboundMessage } from '@junction/connectors';
import { NO_TRACE, PropagatingTracing, SpanTracing } from './message-tracing';
import { tracingEnabled } from './otel-tracing';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const ROUTE = { routeId: 'orders', version: 3 };
const KAFKA_OUT = { type: 'kafka', connection: 'k', topic: 'out' };

function message(headers: Record<string, string>): InboundMessage {
  return {
    headers,
    payload: Buffer.from('{}'),
    source: { type: 'amqp', name: 'orders.in' },
    redelivered: false,
  };
}

describe('message tracing', () => {
  it('is on only with an OTLP endpoint, unless disabled or another exporter is named', () => {
    expect(tracingEnabled({})).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(
      true,
    );
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingEnabled({ ...on, OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingEnabled({ ...on, OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(tracingEnabled({ ...on, OTEL_TRACES_EXPORTER: 'console, otlp' })).toBe(true);
  });

  describe('off: the trace context is passed on as it came', () => {
    it('sends the caller’s traceparent and tracestate unchanged, and names its trace', () => {
      const seen: string[] = [];
      const tracing = new PropagatingTracing((id) => seen.push(id));
      const traceparent = `00-${TRACE_ID}-${SPAN_ID}-01`;
      const trace = tracing.begin(message({ traceparent, tracestate: 'rojo=1' }));
      expect(trace.traceId).toBe(TRACE_ID);
      expect(trace.delivery(0, { type: 'log' }).headers).toEqual({
        traceparent,
        tracestate: 'rojo=1',
      });
      expect(seen).toEqual([TRACE_ID]);
    });

    it('does nothing for a message without one, or with a malformed one', () => {
      const tracing = new PropagatingTracing();
      expect(tracing.begin(message({}))).toBe(NO_TRACE);
      expect(tracing.begin(message({ traceparent: 'garbage' }))).toBe(NO_TRACE);
      expect(NO_TRACE.delivery(0, { type: 'log' }).headers).toBeUndefined();
    });
  });

  describe('on: spans', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracing = new SpanTracing(provider.getTracer('test'), () => provider.shutdown());
    afterEach(() => exporter.reset());
    afterAll(() => tracing.shutdown());

    it('a message span under the caller’s, stage and delivery spans under it; the delivery is the next parent', () => {
      const trace = tracing.begin(
        message({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, tracestate: 'rojo=1' }),
        'm-1',
        ROUTE,
      );
      expect(trace.traceId).toBe(TRACE_ID);
      const now = performance.now();
      trace.stages([
        { index: 0, kind: 'filter', input: {}, startedAt: now, durationMs: 0.5 },
        {
          index: 1,
          kind: 'validate',
          input: {},
          startedAt: now + 0.5,
          durationMs: 0.25,
          error: { code: 'VALIDATION_FAILED', message: 'card 4111111111111111 is wrong' },
        },
      ]);
      const delivery = trace.delivery(0, KAFKA_OUT);
      delivery.end({
        attempts: 2,
        receipt: { kind: 'kafka', topic: 'out', partition: 0, offset: '7' },
      });
      trace.outcome('delivered');
      trace.end();

      const spans = exporter.getFinishedSpans();
      const byName = new Map(spans.map((s) => [s.name, s]));
      const root = byName.get('route orders')!;
      expect(root.parentSpanContext?.spanId).toBe(SPAN_ID);
      expect(root.attributes).toMatchObject({
        'junction.route.id': 'orders',
        'junction.route.version': 3,
        'messaging.system': 'rabbitmq',
        'messaging.message.id': 'm-1',
        'junction.outcome': 'delivered',
      });
      for (const name of ['stage filter', 'stage validate', 'deliver kafka'])
        expect([name, byName.get(name)?.parentSpanContext?.spanId]).toEqual([
          name,
          root.spanContext().spanId,
        ]);
      const failed = byName.get('stage validate')!;
      expect(failed.status).toEqual({ code: 2, message: 'VALIDATION_FAILED' });
      // No error text on a span: it may quote the message.
      expect(JSON.stringify(failed.attributes)).not.toContain('4111');
      const send = byName.get('deliver kafka')!;
      expect(send.attributes).toMatchObject({
        'junction.attempts': 2,
        'messaging.kafka.offset': 7,
      });
      expect(delivery.headers).toEqual({
        traceparent: `00-${TRACE_ID}-${send.spanContext().spanId}-01`,
        tracestate: 'rojo=1',
      });
    });

    it('names the topic a message came on with its card numbers redacted', () => {
      for (const topic of [
        'devices/4111 1111 1111 1111/t',
        'devices/4111%201111%201111%201111/t',
      ]) {
        const trace = tracing.begin(
          { ...message({}), source: { type: 'mqtt', name: topic } },
          'm-3',
          ROUTE,
        );
        trace.end();
        const [span] = exporter.getFinishedSpans();
        expect(span.attributes['messaging.destination.name']).toBe('devices/[PAN REDACTED]/t');
        exporter.reset();
      }
    });

    it('starts a new trace without a traceparent; a message given back ends in error', () => {
      const trace = tracing.begin(message({}), 'm-2', ROUTE);
      expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
      trace.end();
      const [span] = exporter.getFinishedSpans();
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.status.code).toBe(2);
      expect(span.attributes['junction.outcome']).toBe('returned');
    });
  });
});
