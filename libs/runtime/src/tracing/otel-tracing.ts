import { packageInfo } from '@junction/common';
import { panFreeTraceId } from './traceparent';
import { PropagatingTracing, SpanTracing, type MessageTracing } from './message-tracing';

/** Where tracing's settings come from (the standard `OTEL_*` variables) and what it reports to. */
export interface TracingSettings {
  env: Record<string, string | undefined>;
  /** This process among the gateway's (`host:pid`): the resource's `service.instance.id`. */
  processName: string;
  /** Tells the logger which trace a request's lines belong to. */
  onTraceId?: (traceId: string) => void;
  /** Where an export that fails is told (one line each, never a span's content). */
  log?: { warn(message: string): void };
}

const truthy = (value: string | undefined) => /^(true|1|yes)$/i.test(value?.trim() ?? '');

/**
 * Spans are recorded and exported only when an OTLP endpoint is set
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), the SDK is not
 * disabled (`OTEL_SDK_DISABLED`) and `OTEL_TRACES_EXPORTER` names `otlp` (its default).
 */
export function tracingEnabled(env: Record<string, string | undefined>): boolean {
  if (truthy(env.OTEL_SDK_DISABLED)) return false;
  const exporters = (env.OTEL_TRACES_EXPORTER?.trim() || 'otlp').split(',').map((e) => e.trim());
  if (!exporters.includes('otlp')) return false;
  return !!(
    env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()
  );
}

/**
 * The gateway's message tracing. Off (no endpoint): trace context is only passed on, and the
 * OpenTelemetry SDK is not even loaded. On: spans go through a batch processor to the OTLP/HTTP
 * exporter, which reads its own variables (endpoint, headers, timeout, compression), as the
 * batch processor (`OTEL_BSP_*`), the sampler (`OTEL_TRACES_SAMPLER`) and the resource
 * (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`) do.
 */
export async function createMessageTracing(settings: TracingSettings): Promise<MessageTracing> {
  if (!tracingEnabled(settings.env)) return new PropagatingTracing(settings.onTraceId);
  const [api, sdk, exporter, resources, semconv] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const log = settings.log;
  if (log) {
    const warn = (message: string) => log.warn(`tracing: ${message}`);
    const quiet = () => undefined;
    api.diag.setLogger(
      { error: warn, warn, info: quiet, debug: quiet, verbose: quiet },
      api.DiagLogLevel.WARN,
    );
  }
  const version = packageInfo().version;
  const resource = resources
    .defaultResource()
    .merge(
      resources.resourceFromAttributes({
        [semconv.ATTR_SERVICE_NAME]: 'junction',
        [semconv.ATTR_SERVICE_VERSION]: version,
        [semconv.ATTR_SERVICE_INSTANCE_ID]: settings.processName,
        'junction.process': settings.processName,
      }),
    )
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over ours.
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.BasicTracerProvider({
    resource,
    idGenerator: panFreeIds(new sdk.RandomIdGenerator()),
    spanProcessors: [new sdk.BatchSpanProcessor(new exporter.OTLPTraceExporter())],
  });
  return new SpanTracing(
    provider.getTracer('junction', version),
    () => provider.shutdown(),
    settings.onTraceId,
  );
}

/** Makes ids with `generator`, drawing again the rare one whose hex digits spell a card number. */
export function panFreeIds(generator: { generateTraceId(): string; generateSpanId(): string }): {
  generateTraceId(): string;
  generateSpanId(): string;
} {
  const draw = (make: () => string) => {
    for (;;) {
      const id = make();
      if (panFreeTraceId(id)) return id;
    }
  };
  return {
    generateTraceId: () => draw(() => generator.generateTraceId()),
    generateSpanId: () => draw(() => generator.generateSpanId()),
  };
}
