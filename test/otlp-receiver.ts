import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as an OTLP/JSON export carries it (ids in hex), with its resource's attributes. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  status: number;
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
}

/** The OTLP span kinds, by number (SPAN_KIND_INTERNAL = 1 ...). */
const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
type OtlpAttributes = Array<{ key: string; value: OtlpValue }> | undefined;

interface OtlpRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttributes };
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: OtlpAttributes;
        status?: { code?: number };
      }>;
    }>;
  }>;
}

function attributes(list: OtlpAttributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
  }
  return out;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/**
 * An OTLP/HTTP trace receiver in the test's process, on 127.0.0.1: `POST /v1/traces` with the
 * JSON encoding (what @opentelemetry/exporter-trace-otlp-http sends); anything else gets 4xx.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Requests it could not take, as `status: reason` (a test may assert there were none). */
  readonly refused: string[] = [];
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      void this.handle(request).then(
        ([status, body]) => {
          response.writeHead(status, { 'content-type': 'application/json' });
          response.end(JSON.stringify(body));
        },
        () => {
          response.writeHead(500);
          response.end();
        },
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Every span received of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  private async handle(request: IncomingMessage): Promise<[number, unknown]> {
    const body = await readBody(request);
    if (request.method !== 'POST' || request.url !== '/v1/traces')
      return this.refuse(404, `${request.method} ${request.url}`);
    if (!/^application\/json\b/.test(request.headers['content-type'] ?? ''))
      return this.refuse(415, `content-type ${request.headers['content-type']}`);
    let parsed: OtlpRequest;
    try {
      parsed = JSON.parse(body.toString('utf8')) as OtlpRequest;
    } catch {
      return this.refuse(400, 'not JSON');
    }
    for (const rs of parsed.resourceSpans ?? []) {
      const resource = attributes(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          this.spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? '',
            name: s.name,
            kind: s.kind,
            startNs: BigInt(s.startTimeUnixNano),
            endNs: BigInt(s.endTimeUnixNano),
            status: s.status?.code ?? 0,
            attributes: attributes(s.attributes),
            resource,
          });
    }
    return [200, {}];
  }

  private refuse(status: number, reason: string): [number, unknown] {
    this.refused.push(`${status}: ${reason}`);
    return [status, { message: reason }];
  }
}

/** Attributes worth a glance in a printed tree. */
const SHOWN = [
  'messaging.destination.name',
  'url.path',
  'junction.stage.index',
  'junction.outcome',
  'junction.attempts',
  'http.response.status_code',
  'error.type',
];

/**
 * One trace as a tree, children in start order: name, kind, duration and a few attributes per
 * span; a span whose parent is not among them (the caller's) is a root and says whose child it is.
 */
export function traceTree(spans: ReceivedSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, ReceivedSpan[]>();
  const byStart = (a: ReceivedSpan, b: ReceivedSpan) =>
    a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0;
  for (const s of spans) {
    const parent = ids.has(s.parentSpanId) ? s.parentSpanId : '';
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const lines: string[] = [`trace ${spans[0]?.traceId ?? '(no spans)'}`];
  const label = (s: ReceivedSpan) => {
    const ms = (Number(s.endNs - s.startNs) / 1e6).toFixed(2);
    const shown = SHOWN.filter((k) => s.attributes[k] !== undefined).map(
      (k) => `${k}=${s.attributes[k]}`,
    );
    const status = s.status === 2 ? ' ERROR' : '';
    const remote = ids.has(s.parentSpanId)
      ? ''
      : s.parentSpanId
        ? ` (child of remote ${s.parentSpanId})`
        : ' (root)';
    return `${s.name} [${KINDS[s.kind] ?? s.kind}${status}] ${ms} ms span=${s.spanId}${remote}${shown.length ? `  ${shown.join(' ')}` : ''}`;
  };
  const walk = (s: ReceivedSpan, prefix: string, last: boolean) => {
    lines.push(`${prefix}${last ? '└─ ' : '├─ '}${label(s)}`);
    const kids = (children.get(s.spanId) ?? []).sort(byStart);
    kids.forEach((k, i) => walk(k, prefix + (last ? '   ' : '│  '), i === kids.length - 1));
  };
  const roots = (children.get('') ?? []).sort(byStart);
  roots.forEach((r, i) => walk(r, '', i === roots.length - 1));
  return lines.join('\n');
}
