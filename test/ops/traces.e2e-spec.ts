import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { createTestDatabase } from '@junction/database';
import { eventually, freePort, GatewayProcess, traceHex } from '../gateway-process';
import { OtlpReceiver, traceTree, type ReceivedSpan } from '../otlp-receiver';

/**
 * Issue #14, traces: one message with a W3C traceparent through two routes of a real gateway,
 * AMQP -> Kafka and Kafka -> HTTP, with spans exported over OTLP to a receiver in this process.
 * `JUNCTION_PRINT_TRACE=1` prints the trace tree the receiver got.
 */
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const RUN = `t${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const CALLER_TRACE = traceHex(16);
const CALLER_SPAN = traceHex(8);
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

describe('traces across AMQP -> Kafka -> HTTP (#14)', () => {
  let db: { url: string; drop(): Promise<void> };
  const receiver = new OtlpReceiver();
  let gateway: GatewayProcess;
  let sink: Server;
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let connection: amqp.ChannelModel;
  const kafka = new Kafka({ clientId: RUN, brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const queue = `${RUN}.in`;
  const topic = `${RUN}.mid`;
  const a2k = `${RUN}-a2k`;
  const k2h = `${RUN}-k2h`;
  const h2h = `${RUN}-h2h`;

  beforeAll(async () => {
    db = await createTestDatabase('traces');
    const endpoint = await receiver.start();
    sink = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks).toString() });
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    gateway = new GatewayProcess(await freePort(), db.url, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      OTEL_SDK_DISABLED: '',
      OTEL_TRACES_EXPORTER: '',
      OTEL_TRACES_SAMPLER: '',
      OTEL_SERVICE_NAME: '',
      OTEL_RESOURCE_ATTRIBUTES: '',
      // Spans go out 100 ms after they end, not 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '100',
      // Loopback targets (the HTTP sink) are allowed by the default policy.
      JUNCTION_EGRESS_ALLOW: '',
      JUNCTION_EGRESS_STRICT: '',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'debug',
      JUNCTION_LOG: '',
    });
    await gateway.start();
    connection = await amqp.connect(AMQP_URL);
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const created = async (path: string, body: unknown) =>
      expect((await gateway.api('POST', path, body)).status).toBe(201);
    await created('/connections', {
      name: 'rabbit',
      type: 'amqp',
      config: { url: 'amqp://guest@127.0.0.1:5672', vhost: '/' },
      secrets: { password: 'guest' },
    });
    await created('/connections', {
      name: 'kafka',
      type: 'kafka',
      config: { brokers: KAFKA_BROKERS, clientId: `junction-${RUN}` },
    });
    await created('/connections', {
      name: 'sink',
      type: 'http',
      config: { baseUrl: `http://127.0.0.1:${(sink.address() as AddressInfo).port}` },
    });
    await created('/routes', {
      id: a2k,
      source: { type: 'amqp', connection: 'rabbit', queue },
      pipeline: [{ filter: 'total > 0' }, { transform: '{ "id": id, "total": total }' }],
      destinations: [{ type: 'kafka', connection: 'kafka', topic, key: 'id' }],
    });
    await created('/routes', {
      id: k2h,
      source: { type: 'kafka', connection: 'kafka', topic, fromBeginning: true },
      pipeline: [{ transform: '$merge([$, { "traced": true }])' }],
      destinations: [{ type: 'http', connection: 'sink', path: '/hook' }],
    });
    await created('/routes', {
      id: h2h,
      source: { type: 'http', path: `traces/${RUN}`, auth: 'none', mode: 'sync' },
      destinations: [{ type: 'http', connection: 'sink', path: '/ingested' }],
    });
    // Every route running before anything is sent.
    for (const id of [a2k, k2h, h2h])
      await eventually(async () => {
        const status = (await gateway.api('GET', `/routes/${id}/status`)).body as {
          state: string;
        };
        if (status.state !== 'running') throw new Error(`${id}: ${status.state}`);
      }, 60_000);
  }, 180_000);

  afterAll(async () => {
    await gateway?.stop().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await receiver.stop();
    await new Promise((resolve) => sink?.close(resolve));
    await db?.drop();
  }, 60_000);

  async function publish(id: string, headers: Record<string, string>): Promise<void> {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true });
    channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id, total: 12 })), {
      messageId: id,
      persistent: true,
      contentType: 'application/json',
      headers,
    });
    await channel.waitForConfirms();
    await channel.close();
  }

  /** The headers of the Kafka record with this junction-id, read from the topic's start. */
  async function kafkaHeaders(id: string): Promise<Record<string, string>> {
    const consumer = kafka.consumer({ groupId: `${RUN}-reader-${id}`, maxWaitTimeInMs: 100 });
    let found: Record<string, string> | undefined;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.headers?.['junction-id']?.toString() !== id) return;
        found = Object.fromEntries(
          Object.entries(message.headers).map(([k, v]) => [k, String(v?.toString())]),
        );
      },
    });
    try {
      return await eventually(() => found ?? Promise.reject(new Error('not yet')), 30_000);
    } finally {
      await consumer.disconnect();
    }
  }

  const delivered = (id: string) =>
    eventually(() => {
      const hit = received.find((r) => (JSON.parse(r.body) as { id?: string }).id === id);
      if (!hit) throw new Error(`${id} not at the sink`);
      return hit;
    }, 60_000);

  /** The trace's spans once both routes' message spans (which end last) have arrived. */
  const spansOf = (traceId: string) =>
    eventually(() => {
      const spans = receiver.trace(traceId);
      const names = spans.map((s) => s.name);
      if (!names.includes(`route ${a2k}`) || !names.includes(`route ${k2h}`))
        throw new Error(`spans so far: ${names.join(', ')}`);
      return spans;
    }, 30_000);

  it('carries the caller’s trace through both routes, with one span tree, in audit and logs', async () => {
    const id = `${RUN}-traced`;
    const traceparent = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;
    await publish(id, { traceparent, tracestate: 'vendor=abc' });

    // The HTTP destination got the same trace, as the child of a span of this gateway.
    const hit = await delivered(id);
    const [, httpTrace, httpParent] = TRACEPARENT.exec(String(hit.headers.traceparent)) ?? [];
    expect(httpTrace).toBe(CALLER_TRACE);
    expect(hit.headers.tracestate).toBe('vendor=abc');

    // So did the Kafka record in between.
    const record = await kafkaHeaders(id);
    const [, kafkaTrace, kafkaParent] = TRACEPARENT.exec(record.traceparent ?? '') ?? [];
    expect(kafkaTrace).toBe(CALLER_TRACE);
    expect(record.tracestate).toBe('vendor=abc');

    const spans = await spansOf(CALLER_TRACE);
    if (process.env.JUNCTION_PRINT_TRACE === '1') process.stdout.write(`${traceTree(spans)}\n`);
    const one = (name: string, parent: ReceivedSpan | string) => {
      const parentId = typeof parent === 'string' ? parent : parent.spanId;
      const found = spans.filter((s) => s.name === name && s.parentSpanId === parentId);
      expect([name, found.length]).toEqual([name, 1]);
      return found[0];
    };
    // Route 1: the message span is the caller's child; its stages and delivery are its own.
    const first = one(`route ${a2k}`, CALLER_SPAN);
    expect(first.kind).toBe(5); // CONSUMER
    expect(first.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': queue,
      'messaging.message.id': id,
      'junction.route.id': a2k,
      'junction.outcome': 'delivered',
    });
    const filter = one('stage filter', first);
    const transform = one('stage transform', first);
    expect([
      filter.attributes['junction.stage.index'],
      transform.attributes['junction.stage.index'],
    ]).toEqual([0, 1]);
    expect(filter.startNs).toBeGreaterThanOrEqual(first.startNs);
    expect(transform.startNs).toBeGreaterThanOrEqual(filter.endNs);
    const toKafka = one('deliver kafka', first);
    expect(toKafka.kind).toBe(4); // PRODUCER
    expect(toKafka.attributes).toMatchObject({ 'messaging.destination.name': topic });
    // The Kafka record names that delivery as its parent...
    expect(kafkaParent).toBe(toKafka.spanId);
    // ...so route 2's message span is its child.
    const second = one(`route ${k2h}`, toKafka);
    expect(second.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'junction.route.id': k2h,
      'junction.outcome': 'delivered',
    });
    one('stage transform', second);
    const toHttp = one('deliver http', second);
    expect(toHttp.kind).toBe(3); // CLIENT
    expect(toHttp.attributes).toMatchObject({
      'url.path': '/hook',
      'http.response.status_code': 200,
    });
    expect(httpParent).toBe(toHttp.spanId);
    expect(spans).toHaveLength(7);
    expect(first.resource).toMatchObject({
      'service.name': 'junction',
      'service.instance.id': expect.stringMatching(/^.+:\d+$/),
      'junction.process': expect.stringMatching(/^.+:\d+$/),
    });
    expect(receiver.refused).toEqual([]);

    // The audit records of both routes carry the trace id.
    const audit = await eventually(async () => {
      const page = (await gateway.api('GET', `/audit/messages?traceId=${CALLER_TRACE}`)).body as {
        items: Array<{ routeId: string; messageId: string; traceId: string }>;
      };
      if (page.items.length < 2) throw new Error(`${page.items.length} records`);
      return page.items;
    });
    expect(audit.map((r) => [r.routeId, r.messageId, r.traceId]).sort()).toEqual([
      [a2k, id, CALLER_TRACE],
      [k2h, id, CALLER_TRACE],
    ]);

    // And the log line of each delivery.
    const lines = gateway
      .process!.output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'message.delivered' && l.messageId === id);
    expect(lines.map((l) => [l.route, l.traceId]).sort()).toEqual([
      [a2k, CALLER_TRACE],
      [k2h, CALLER_TRACE],
    ]);
  }, 120_000);

  it('starts a new trace for a message that comes without a traceparent, and ignores a malformed one', async () => {
    const id = `${RUN}-untraced`;
    await publish(id, { traceparent: `00-${'z'.repeat(32)}-${CALLER_SPAN}-01` });
    const hit = await delivered(id);
    const [, traceId] = TRACEPARENT.exec(String(hit.headers.traceparent)) ?? [];
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe(CALLER_TRACE);
    const spans = await spansOf(traceId);
    // The first route's span is the root of the new trace.
    expect(spans.find((s) => s.name === `route ${a2k}`)?.parentSpanId).toBe('');
  }, 120_000);

  it('takes the traceparent of an HTTP ingest request, and the request’s log lines carry its trace', async () => {
    const traceId = traceHex(16);
    const parent = traceHex(8);
    const requestId = `${RUN}-req`;
    const res = await fetch(`${gateway.base}/ingest/traces/${RUN}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${parent}-01`,
        'x-request-id': requestId,
      },
      body: JSON.stringify({ id: `${RUN}-http`, total: 1 }),
    });
    expect(res.status).toBe(200);
    const hit = await delivered(`${RUN}-http`);
    const [, sentTrace, sentParent] = TRACEPARENT.exec(String(hit.headers.traceparent)) ?? [];
    expect(sentTrace).toBe(traceId);
    const spans = await eventually(() => {
      const found = receiver.trace(traceId);
      if (!found.some((s) => s.name === `route ${h2h}`)) throw new Error('no span yet');
      return found;
    }, 30_000);
    const message = spans.find((s) => s.name === `route ${h2h}`)!;
    expect(message).toMatchObject({ kind: 2, parentSpanId: parent }); // SERVER
    expect(spans.find((s) => s.name === 'deliver http')).toMatchObject({
      parentSpanId: message.spanId,
      spanId: sentParent,
    });
    const requestLine = await eventually(() => {
      const line = gateway
        .process!.output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.reqId === requestId && l.context === 'Http');
      if (!line) throw new Error('no request line yet');
      return line;
    });
    expect(requestLine.traceId).toBe(traceId);
  }, 120_000);
});
