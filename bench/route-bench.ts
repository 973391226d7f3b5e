/**
 * Shared by the broker benches: runs a route through the real runtime worker (RouteWorker with
 * the ConnectorPool) on a real broker, in this process, and times N messages end to end.
 */
import {
  CONNECTORS,
  ConnectorPool,
  type ConnectorConnection,
  type RouteSpec,
} from '@junction/connectors';
import { JsonataEngine } from '@junction/pipeline';
import {
  RouteWorker,
  type MessageAuditSink,
  NO_AUDIT,
  type DeadLettersRepository,
} from '@junction/runtime';
import { countWireBytes, type WireBytes } from './wire-bytes';
import { nodeFlags, nodeFlagsLine } from './gateway-node';
import { processCpuSeconds } from './process-stats';

export interface Timed {
  name: string;
  messages: number;
  seconds: number;
  perSecond: number;
  /** This process's CPU (user + system) per message, in microseconds, when measured. */
  cpuUsPerMessage?: number;
  /** The local broker's CPU per message over the row, in microseconds, when measured. */
  brokerCpuUsPerMessage?: number;
  /** Bytes on the wire per message (the route's broker connections), when counted. */
  wire?: { readPerMessage: number; writtenPerMessage: number };
  /** More columns for this row (the audit's costs), printed after the ratio. */
  note?: string;
}

/** The wire columns of a row from the bytes counted over its messages. */
export function perMessage(bytes: WireBytes, messages: number): Timed['wire'] {
  return {
    readPerMessage: Math.round(bytes.read / messages),
    writtenPerMessage: Math.round(bytes.written / messages),
  };
}

export function timed(
  name: string,
  messages: number,
  startedNs: bigint,
  cpuFrom?: NodeJS.CpuUsage,
): Timed {
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  const cpu = cpuFrom && process.cpuUsage(cpuFrom);
  return {
    name,
    messages,
    seconds,
    perSecond: messages / seconds,
    ...(cpu ? { cpuUsPerMessage: (cpu.user + cpu.system) / messages } : {}),
  };
}

/**
 * A row with a local broker's CPU per message since `from` (its user + system seconds, from
 * /proc), read at the same moment as the row's own CPU; without a broker pid, the row as it is.
 */
export function withBrokerCpu(row: Timed, pid: number | null, from: number | null): Timed {
  const to = pid === null ? null : processCpuSeconds(pid);
  if (from === null || to === null) return row;
  return { ...row, brokerCpuUsPerMessage: ((to - from) * 1e6) / row.messages };
}

/** The faster of two runs of the raw baseline (one before the routes, one after). */
export function fastest(a: Timed, b: Timed): Timed {
  return a.perSecond >= b.perSecond ? a : b;
}

/**
 * Prints the rows against the baseline; with `--json` on the command line, one JSON document
 * instead (for tracking figures across runs).
 */
export function report(title: string, rows: Timed[], baseline: Timed): void {
  const ratio = (r: Timed) => r.perSecond / baseline.perSecond;
  if (process.argv.includes('--json')) {
    console.log(
      JSON.stringify({
        title,
        node: process.version,
        nodeFlags: nodeFlags(),
        baseline: baseline.name,
        rows: rows.map((r) => ({ ...r, ratioToBaseline: Number(ratio(r).toFixed(4)) })),
      }),
    );
    return;
  }
  console.log(title);
  console.log(`${nodeFlagsLine()}; baseline: ${baseline.name}\n`);
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(58)} ${r.perSecond.toFixed(0).padStart(7)} msg/s  (${r.messages} in ${r.seconds.toFixed(2)} s)  ${(ratio(r) * 100).toFixed(0).padStart(4)}% of raw` +
        (r.cpuUsPerMessage === undefined
          ? ''
          : `  ${r.cpuUsPerMessage.toFixed(0).padStart(4)} us CPU/msg`) +
        (r.brokerCpuUsPerMessage === undefined
          ? ''
          : ` (broker ${r.brokerCpuUsPerMessage.toFixed(1)})`) +
        (r.wire === undefined
          ? ''
          : `  wire ${r.wire.writtenPerMessage} B out + ${r.wire.readPerMessage} B in /msg`),
    );
    if (r.note) console.log(`  ${r.note}`);
  }
}

/** A realistic ~1 KB order, varied per message. */
export function order(i: number): Record<string, unknown> {
  return {
    id: `ORD-${i}`,
    createdAt: new Date(1_764_000_000_000 + i * 1000).toISOString(),
    total: 20 + (i % 500),
    currency: 'EUR',
    customer: {
      id: `CUS-${i % 9973}`,
      firstName: 'Jana',
      lastName: 'Schmidt',
      email: `jana.${i}@example.com`,
      phone: '+49 30 1234 5678',
      country: ['DE', 'FR', 'NL', 'IT'][i % 4],
    },
    shipping: {
      method: i % 3 === 0 ? 'express' : 'standard',
      street: 'Torstrasse 1',
      city: 'Berlin',
      postcode: '10119',
      country: 'DE',
    },
    billing: { street: 'Torstrasse 1', city: 'Berlin', postcode: '10119', country: 'DE' },
    items: [
      {
        sku: 'SKU-1001',
        name: 'Espresso machine',
        quantity: 1,
        price: 199.9,
        giftNote: 'Happy birthday, Tom!',
      },
      { sku: 'SKU-2002', name: 'Coffee beans 1kg', quantity: 2, price: 25.0 },
    ],
    payment: { method: 'card', card: { pan: '4111111111111111', brand: 'visa', expiry: '12/29' } },
    tags: ['web', 'newsletter'],
  };
}

/** validate + filter + a field-renaming transform + mask: the shape the 70% aim is about. */
export function renamingPipeline(): RouteSpec['pipeline'] {
  return [
    { validate: { schema: { type: 'object', required: ['id', 'total', 'customer'] } } },
    { filter: 'total > 0' },
    {
      transform:
        '{ "orderId": id, "amount": total, "currency": currency, "email": customer.email, "country": customer.country, "card": payment.card }',
    },
    {
      mask: [
        { path: 'card.pan', with: 'pan' },
        { path: 'email', with: 'hash' },
      ],
    },
  ];
}

/**
 * Runs `document` in a RouteWorker until `count` messages were processed; returns the time from
 * the worker's start to the last one.
 */
export async function runWorker(
  name: string,
  document: RouteSpec,
  connection: ConnectorConnection,
  count: number,
  options: {
    audit?: MessageAuditSink;
    /** The local broker's process, whose CPU over the same window goes in the row. */
    brokerPid?: number | null;
  } = {},
): Promise<Timed> {
  const { audit = NO_AUDIT, brokerPid = null } = options;
  // The pool's connections are opened in here: their bytes are the route's.
  const wire = countWireBytes();
  const pool = new ConnectorPool();
  let processed = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const counting: MessageAuditSink = {
    record: async (record) => {
      await audit.record(record);
      if (record.outcome !== 'delivered')
        throw new Error(
          `bench message ${record.messageId} was ${record.outcome}: ${record.error?.message}`,
        );
      if (++processed === count) done();
    },
  };
  const noDeadLetters = {
    park: () => Promise.reject(new Error('the bench expects no dead letters')),
  } as unknown as DeadLettersRepository;
  const worker = await RouteWorker.create(
    { id: document.id, version: 1, document },
    {
      connectors: {
        source: (spec, conn, opts) => pool.source(spec, conn, opts),
        destination: (spec, conn) => {
          if (spec.type === 'log' || !conn) throw new Error('bench destinations are brokers');
          return pool.destination(spec, conn);
        },
      },
      connection: () => Promise.resolve(connection),
      resources: {
        expressions: new JsonataEngine(),
        hmacKey: Buffer.from('bench'),
        protocols: CONNECTORS,
      },
      deadLetters: noDeadLetters,
      audit: counting,
      // Warnings and errors only: a debug line per message to stdout would be timed as the route's.
      log: { log: () => undefined, warn: console.warn, error: console.error },
    },
  );
  const brokerFrom = brokerPid === null ? null : processCpuSeconds(brokerPid);
  const started = process.hrtime.bigint();
  const cpuFrom = process.cpuUsage();
  await worker.start();
  await finished;
  const result = withBrokerCpu(timed(name, count, started, cpuFrom), brokerPid, brokerFrom);
  await worker.stop();
  await pool.close();
  return { ...result, wire: perMessage(wire.stop(), count) };
}
