import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { AuditTrail } from '@junction/audit';
import { MessageObserver, MessageRecord, RouteSupervisor } from '@junction/runtime';

/**
 * The gateway's Prometheus metrics (GET /metrics): what became of messages per route, how long
 * they took, retries, dead letters by reason (here), what runs and whether the audit trail keeps
 * up ({@link registerRuntimeGauges}). Message counts are taken when a message's audit record is
 * durable, so they agree with the audit trail. A registry of its own per app (not prom-client's
 * global one). It is the runtime's MESSAGE_OBSERVER, so it depends on nothing of the runtime.
 */
@Injectable()
export class MetricsService implements MessageObserver {
  readonly registry = new Registry();
  private readonly messages: Counter<'route' | 'outcome'>;
  private readonly deadLetters: Counter<'route' | 'code'>;
  private readonly retries: Counter<'route'>;
  private readonly duration: Histogram<'route'>;

  constructor() {
    const registers = [this.registry];
    this.messages = new Counter({
      name: 'junction_messages_total',
      help: 'Messages done with, by route and outcome (delivered, filtered, unroutable, dead-lettered, replayed).',
      labelNames: ['route', 'outcome'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'junction_dead_letters_total',
      help: 'Messages dead-lettered, by route and reason code (INPUT_REJECTED, SCHEMA_FAILED, EXPRESSION_FAILED, EXPRESSION_LIMIT, MASK_FAILED, DELIVERY_FAILED).',
      labelNames: ['route', 'code'],
      registers,
    });
    this.retries = new Counter({
      name: 'junction_delivery_retries_total',
      help: 'Delivery attempts after the first, by route.',
      labelNames: ['route'],
      registers,
    });
    this.duration = new Histogram({
      name: 'junction_message_duration_seconds',
      help: 'From receipt to a durable outcome (delivered and recorded, or dead-lettered), by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
  }

  /** Everything, in Prometheus' text format: this app's metrics and the process's. */
  scrape(): Promise<string> {
    return Registry.merge([processMetrics(), this.registry]).metrics();
  }

  message(record: MessageRecord): void {
    const route = record.routeId;
    this.messages.inc({ route, outcome: record.outcome });
    if (record.outcome === 'dead-lettered')
      this.deadLetters.inc({ route, code: record.error?.code ?? 'UNKNOWN' });
    if (record.attempts > 1) this.retries.inc({ route }, record.attempts - 1);
    const took = (Date.parse(record.doneAt) - Date.parse(record.receivedAt)) / 1000;
    if (Number.isFinite(took) && took >= 0) this.duration.observe({ route }, took);
  }
}

let processRegistry: Registry | undefined;

/**
 * CPU, memory, event loop lag, GC: once per process (each collectDefaultMetrics call installs
 * observers that are never removed, and tests run several apps in one process).
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'junction_' });
  }
  return processRegistry;
}

/** What runs and whether the audit trail keeps up, read at each scrape. */
export function registerRuntimeGauges(
  registry: Registry,
  supervisor: RouteSupervisor,
  audit: AuditTrail,
): void {
  const registers = [registry];
  const routes = () => supervisor.statuses();
  new Gauge({
    name: 'junction_route_running',
    help: '1 while the route runs in this process (degraded too), 0 while it is starting or failed to start.',
    labelNames: ['route'],
    registers,
    collect() {
      this.reset();
      for (const r of routes())
        this.set({ route: r.routeId }, r.state === 'running' || r.state === 'degraded' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'junction_route_degraded',
    help: '1 while the route runs but messages wait in their source because its dead-letter destination refuses their dead letters (route status says why).',
    labelNames: ['route'],
    registers,
    collect() {
      this.reset();
      for (const r of routes()) this.set({ route: r.routeId }, r.state === 'degraded' ? 1 : 0);
    },
  });
  new Counter({
    name: 'junction_dead_letter_failures_total',
    help: "Dead letters the route's dead-letter destination did not take, each try counted (kept in the dead-letter table; on an exactly-once route the message waits in its source and is tried again).",
    labelNames: ['route'],
    registers,
    collect() {
      this.reset();
      for (const r of routes())
        if (r.deadLetterFailures) this.inc({ route: r.routeId }, r.deadLetterFailures);
    },
  });
  new Gauge({
    name: 'junction_route_in_flight',
    help: 'Messages a route is working on right now.',
    labelNames: ['route'],
    registers,
    collect() {
      this.reset();
      for (const r of routes()) this.set({ route: r.routeId }, r.inFlight);
    },
  });
  // Per stored connection (an edited one's old client may still drain: counted together).
  const connections = () => {
    const byName = new Map<
      string,
      { connection: string; type: string; up: number; reconnects: number }
    >();
    for (const c of supervisor.connections()) {
      const key = `${c.type}\u0000${c.connection}`;
      const seen = byName.get(key);
      if (seen) {
        seen.up = Math.max(seen.up, c.up ? 1 : 0);
        seen.reconnects += c.reconnects;
      } else
        byName.set(key, {
          connection: c.connection,
          type: c.type,
          up: c.up ? 1 : 0,
          reconnects: c.reconnects,
        });
    }
    return [...byName.values()];
  };
  new Gauge({
    name: 'junction_connection_up',
    help: '1 while the broker connection is up, 0 while it connects or is refused (the AMQP and Kafka connections the routes of this process use).',
    labelNames: ['connection', 'type'],
    registers,
    collect() {
      this.reset();
      for (const c of connections()) this.set({ connection: c.connection, type: c.type }, c.up);
    },
  });
  new Counter({
    name: 'junction_connection_reconnects_total',
    help: 'Times a broker connection came back after having been up.',
    labelNames: ['connection', 'type'],
    registers,
    collect() {
      this.reset();
      for (const c of connections())
        this.inc({ connection: c.connection, type: c.type }, c.reconnects);
    },
  });
  const writers = () => Object.entries(audit.stats());
  new Gauge({
    name: 'junction_audit_pending_records',
    help: 'Audit records waiting to be committed; messages are acknowledged only after theirs.',
    labelNames: ['table'],
    registers,
    collect() {
      for (const [table, stats] of writers()) this.set({ table }, stats.pending);
    },
  });
  new Gauge({
    name: 'junction_audit_failing',
    help: '1 while the audit database refuses or cannot be reached (routes then stop taking messages).',
    labelNames: ['table'],
    registers,
    collect() {
      for (const [table, stats] of writers()) this.set({ table }, stats.failing ? 1 : 0);
    },
  });
}
