import { createHash } from 'node:crypto';
import {
  CONNECTORS,
  ConnectorError,
  type DeliveryReceipt,
  type Destination,
  type InboundMessage,
  type MessageHandler,
  type OutboundMessage,
  type Reply,
  type RouteSpec,
  type SentRequest,
  type Source,
} from '@junction/connectors';
import { testResources } from '@junction/pipeline';
import { MAX_KEPT_PAYLOAD_BYTES, type DeadLettersRepository } from './dead-letters.repository';
import { DIGEST_SLICE_BYTES } from './payload-digest';
import type { MessageRecord } from './message-audit';
import {
  DEAD_LETTER_HOLD_STALE_MS,
  RouteWorker,
  type ProcessResult,
  type WorkerDeps,
} from './route-worker';

/** A source the test feeds by hand: what its handler resolves or rejects is the ack or the nack. */
class FakeSource implements Source {
  handler?: MessageHandler;
  stopped = false;
  start(handler: MessageHandler): Promise<void> {
    this.handler = handler;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
  deliver(message: InboundMessage): Promise<unknown> {
    return this.handler!(message);
  }
}

/** A destination that answers each send with the next outcome of its script (then confirms). */
class FakeDestination implements Destination {
  readonly sent: OutboundMessage[] = [];
  closed = false;
  constructor(
    private readonly script: Array<'confirm' | 'fail' | 'wait'> = [],
    private readonly reply?: Reply,
  ) {}
  /** Resolves the sends the script told to wait. */
  readonly waiting: Array<() => void> = [];
  send(message: OutboundMessage): Promise<DeliveryReceipt> {
    this.sent.push(message);
    const step = this.script.shift() ?? 'confirm';
    if (step === 'fail')
      return Promise.reject(new ConnectorError('UNREACHABLE', 'broker away', true));
    const receipt: DeliveryReceipt = { kind: 'amqp', exchange: '', routingKey: 'q' };
    if (step === 'wait') return new Promise((resolve) => this.waiting.push(() => resolve(receipt)));
    return Promise.resolve(receipt);
  }
  async request(message: OutboundMessage): Promise<SentRequest> {
    const receipt = await this.send(message);
    return { receipt, reply: Promise.resolve(this.reply!) };
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function message(body: unknown, extra: Partial<InboundMessage> = {}): InboundMessage {
  return {
    id: 'm-1',
    headers: { 'x-test': 'yes' },
    payload: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    source: { type: 'amqp', name: 'orders.in' },
    redelivered: false,
    ...extra,
  };
}

const route = (doc: Partial<RouteSpec> = {}): RouteSpec => ({
  id: 'orders',
  source: { type: 'amqp', connection: 'rabbit', queue: 'orders.in' },
  pipeline: [{ filter: 'total > 0' }],
  destinations: [{ type: 'amqp', connection: 'rabbit', queue: 'orders.out' }],
  errors: { retry: { attempts: 2, backoffMs: 0, maxBackoffMs: 0 } },
  ...doc,
});

/** WorkerDeps of fakes: every record, dead letter and log line is kept for the test to read. */
function fakeDeps(destinations: FakeDestination[], deadLetter?: FakeDestination) {
  const source = new FakeSource();
  const records: MessageRecord[] = [];
  const parked: Array<{ messageId: string; reasonCode: string }> = [];
  const made = [...destinations];
  const deps: WorkerDeps = {
    connectors: {
      source: () => source,
      destination: (spec) =>
        (spec.type === 'amqp' && spec.queue === 'orders.dlq' ? deadLetter : made.shift())!,
    },
    connection: (name) => Promise.resolve({ name, config: {}, secrets: {} }),
    resources: testResources({ protocols: CONNECTORS }),
    deadLetters: {
      park: (row: { messageId: string; reasonCode: string }) => {
        parked.push(row);
        return Promise.resolve(`dl-${parked.length}`);
      },
    } as unknown as DeadLettersRepository,
    audit: {
      record: (r) => {
        records.push(r);
        return Promise.resolve();
      },
    },
    log: { log: () => undefined, warn: () => undefined, error: () => undefined },
    jitter: () => 0,
  };
  return { deps, source, records, parked };
}

/** Lets the event loop turn until `done` holds (no clock involved; gives up after many turns: work off the main thread, such as settling expressions, may need thousands under a loaded CI). */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 200_000 && !done(); turn++)
    await new Promise((resolve) => setImmediate(resolve));
  if (!done()) throw new Error('the condition never held');
}

async function started(doc: RouteSpec, deps: WorkerDeps): Promise<RouteWorker> {
  const worker = await RouteWorker.create({ id: doc.id, version: 3, document: doc }, deps);
  await worker.start();
  return worker;
}

describe('RouteWorker', () => {
  it('sends a message that carries a turn only after the previous one, and gives its turn on once sent or dropped', async () => {
    const out = new FakeDestination(['wait', 'wait']);
    const { deps, source } = fakeDeps([out]);
    await started(route(), deps);
    let releaseFirst!: () => void;
    const first = new Promise<void>((resolve) => (releaseFirst = resolve));
    const turns = { second: false, dropped: false };
    const second = source.deliver(
      message(
        { total: 2 },
        { id: 'm-2', order: { previous: () => first, issued: () => (turns.second = true) } },
      ),
    );
    const dropped = source.deliver(
      message(
        { total: 0 },
        { id: 'm-3', order: { previous: () => first, issued: () => (turns.dropped = true) } },
      ),
    );
    // A filtered message sends nothing: its turn is given on without waiting for the one before.
    await until(() => turns.dropped);
    await dropped;
    expect(out.sent).toEqual([]);
    expect(turns.second).toBe(false);
    releaseFirst();
    await until(() => out.sent.length === 1);
    // Given on once the send is issued, before it is confirmed.
    expect(turns.second).toBe(true);
    out.waiting.shift()!();
    await expect(second).resolves.toMatchObject({ id: 'm-2', outcome: 'delivered' });
  });

  it('decodes, runs, delivers and records a message before its source may acknowledge it', async () => {
    const out = new FakeDestination();
    const { deps, source, records } = fakeDeps([out]);
    const worker = await started(route(), deps);
    const result = (await source.deliver(message({ total: 5 }))) as ProcessResult;
    expect(result).toMatchObject({ id: 'm-1', outcome: 'delivered', body: { total: 5 } });
    expect(out.sent).toHaveLength(1);
    expect(JSON.parse(out.sent[0].body.toString())).toEqual({ total: 5 });
    expect(records).toEqual([
      expect.objectContaining({
        messageId: 'm-1',
        routeVersion: 3,
        outcome: 'delivered',
        receipts: [{ destination: 0, receipt: { kind: 'amqp', exchange: '', routingKey: 'q' } }],
      }),
    ]);
    expect(worker.status()).toMatchObject({ state: 'running', processed: 1, inFlight: 0 });
    await worker.stop();
    expect(source.stopped).toBe(true);
    expect(out.closed).toBe(true);
  });

  it("never takes a source's message id that holds a card number (AMQP messageId, Kafka junction-id)", async () => {
    const out = new FakeDestination();
    const { deps, source, records } = fakeDeps([out]);
    const worker = await started(route(), deps);
    const result = (await source.deliver(
      message({ total: 5 }, { id: '4111111111111111' }),
    )) as ProcessResult;
    expect(result.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(out.sent[0].id).toBe(result.id);
    expect(records[0].messageId).toBe(result.id);
    await worker.stop();
  });

  it('counts the routes a message passed through, and dead-letters one that went round too often', async () => {
    const out = new FakeDestination();
    const { deps, source, records, parked } = fakeDeps([out]);
    deps.maxHops = 4;
    const worker = await started(route(), deps);
    const hops = (value?: string) =>
      source.deliver(
        message({ total: 5 }, { headers: value === undefined ? {} : { 'junction-hops': value } }),
      ) as Promise<ProcessResult>;
    // None, a count, and a sender's junk (read as none): each goes on with its count plus one.
    for (const [came, goes] of [
      [undefined, '1'],
      ['2', '3'],
      ['3', '4'],
      ['-1', '1'],
      ['1e3', '1'],
      ['99999999999', '1'],
    ]) {
      expect((await hops(came)).outcome).toBe('delivered');
      expect(out.sent.pop()!.headers).toMatchObject({ 'junction-hops': goes });
    }
    // At the limit: dead-lettered unrun, and nothing is sent on.
    for (const came of ['4', '5', '123456789']) {
      const result = await hops(came);
      expect(result.outcome).toBe('dead-lettered');
      expect(out.sent).toHaveLength(0);
    }
    expect(parked.map((p) => p.reasonCode)).toEqual([
      'INPUT_REJECTED',
      'INPUT_REJECTED',
      'INPUT_REJECTED',
    ]);
    expect(records.at(-1)).toMatchObject({
      outcome: 'dead-lettered',
      error: {
        code: 'INPUT_REJECTED',
        where: 'input',
        message: expect.stringMatching(/passed through 123456789 routes .* 4 is the most allowed/),
      },
    });
    await worker.stop();
  });

  it('records a filtered message without delivering it', async () => {
    const out = new FakeDestination();
    const { deps, source, records } = fakeDeps([out]);
    const worker = await started(route(), deps);
    await expect(source.deliver(message({ total: 0 }))).resolves.toMatchObject({
      outcome: 'filtered',
    });
    expect(out.sent).toHaveLength(0);
    expect(records.map((r) => r.outcome)).toEqual(['filtered']);
    await worker.stop();
  });

  it('keeps a dead letter its destination refused for good in the table only', async () => {
    const out = new FakeDestination();
    const dlq = new FakeDestination();
    const { deps, source, parked } = fakeDeps([out], dlq);
    const doc = route({
      errors: { deadLetter: { type: 'amqp', connection: 'rabbit', queue: 'orders.dlq' } },
    });
    const worker = await started(doc, deps);
    const refused = message(
      { total: 5 },
      { undeliverable: 'refused: too large', deadLetterRefused: 'refused: too large' },
    );
    expect(await source.deliver(refused)).toMatchObject({ outcome: 'dead-lettered' });
    expect(parked).toEqual([expect.objectContaining({ messageId: 'm-1' })]);
    expect(out.sent).toHaveLength(0);
    expect(dlq.sent).toHaveLength(0);
    // Refused once: the dead letter is sent as always.
    expect(await source.deliver(message({ total: 5 }, { undeliverable: 'refused' }))).toMatchObject(
      { outcome: 'dead-lettered' },
    );
    expect(dlq.sent).toHaveLength(1);
    await worker.stop();
  });

  it('dead-letters a payload that is no JSON, and acknowledges it', async () => {
    const out = new FakeDestination();
    const dlq = new FakeDestination();
    const { deps, source, records, parked } = fakeDeps([out], dlq);
    const doc = route({
      errors: { deadLetter: { type: 'amqp', connection: 'rabbit', queue: 'orders.dlq' } },
    });
    const worker = await started(doc, deps);
    const result = (await source.deliver(message('{not json'))) as ProcessResult;
    expect(result).toMatchObject({ outcome: 'dead-lettered', deadLetterId: 'dl-1' });
    expect(parked).toEqual([expect.objectContaining({ messageId: 'm-1' })]);
    expect(out.sent).toHaveLength(0);
    expect(dlq.sent[0].headers).toMatchObject({
      'x-test': 'yes',
      'x-junction-route': 'orders',
      'x-junction-dead-letter': 'dl-1',
    });
    expect(records.map((r) => r.outcome)).toEqual(['dead-lettered']);
    expect(worker.status()).toMatchObject({ failed: 1 });
    await worker.stop();
  });

  it('sends a message over the size limit to the dead-letter destination cut as the dead letter keeps it, hashed once without holding the event loop', async () => {
    const dlq = new FakeDestination();
    const { deps, source, records, parked } = fakeDeps([new FakeDestination()], dlq);
    const doc = route({
      errors: { deadLetter: { type: 'amqp', connection: 'rabbit', queue: 'orders.dlq' } },
    });
    const worker = await started(doc, deps);
    // A broker hands over far more than a route runs (Mosquitto up to 256 MB).
    const payload = Buffer.alloc(8 * DIGEST_SLICE_BYTES + 5, 0x20);
    const whole = createHash('sha256').update(payload).digest('hex');
    let turns = 0;
    let turning = true;
    const tick = (): void => {
      turns += 1;
      if (turning) setImmediate(tick);
    };
    setImmediate(tick);
    const result = (await source.deliver(message('', { payload }))) as ProcessResult;
    turning = false;
    expect(result).toMatchObject({ outcome: 'dead-lettered', error: { code: 'INPUT_REJECTED' } });
    // The event loop turned between the slices of the one hash.
    expect(turns).toBeGreaterThanOrEqual(8);
    expect(dlq.sent).toHaveLength(1);
    expect(dlq.sent[0].body.length).toBe(MAX_KEPT_PAYLOAD_BYTES);
    expect(dlq.sent[0].body.equals(payload.subarray(0, MAX_KEPT_PAYLOAD_BYTES))).toBe(true);
    expect(dlq.sent[0].headers).toMatchObject({
      'x-junction-payload-bytes': String(payload.length),
      'x-junction-payload-sha256': whole,
    });
    expect(parked).toEqual([expect.objectContaining({ payloadSha256: whole })]);
    expect(records).toEqual([expect.objectContaining({ payloadSha256: whole })]);
    // A message within the limit goes to the dead-letter destination whole, without those headers.
    await source.deliver(
      message('{not json', { headers: { 'x-junction-payload-bytes': '99999999' } }),
    );
    expect(dlq.sent[1].body.toString()).toBe('{not json');
    expect(dlq.sent[1].headers['x-junction-payload-bytes']).toBeUndefined();
    // Nor does a sender's own x-junction-* header reach it, in whatever letter case (MQTT and
    // AMQP keep the sender's): a reader of dead letters takes those for the gateway's word.
    await source.deliver(
      message('{not json', {
        headers: {
          'X-Junction-Payload-Sha256': 'forged',
          'X-JUNCTION-ROUTE': 'another',
          'x-partner': 'kept',
        },
      }),
    );
    const names = Object.keys(dlq.sent[2].headers);
    expect(names.filter((n) => /^x-junction-/i.test(n)).sort()).toEqual([
      'x-junction-dead-letter',
      'x-junction-error',
      'x-junction-route',
    ]);
    expect(dlq.sent[2].headers['x-junction-route']).not.toBe('another');
    expect(dlq.sent[2].headers['x-partner']).toBe('kept');
    await worker.stop();
  });

  it('dead-letters, unrun, a message its source could not read (a Kafka batch it could not decode), and acknowledges it', async () => {
    const out = new FakeDestination();
    const { deps, source, records, parked } = fakeDeps([out]);
    const worker = await started(route(), deps);
    const why =
      'the record batch at offsets 1-3 of orders partition 0 (3 records) could not be decoded';
    // Its payload would pass the route: the mark alone sends it to the dead letters.
    const result = (await source.deliver(
      message({ total: 5 }, { unreadable: why }),
    )) as ProcessResult;
    expect(result).toMatchObject({
      outcome: 'dead-lettered',
      error: { code: 'INPUT_REJECTED', message: why, where: 'input' },
    });
    expect(parked).toEqual([expect.objectContaining({ reasonCode: 'INPUT_REJECTED' })]);
    expect(out.sent).toHaveLength(0);
    expect(records).toEqual([
      expect.objectContaining({
        outcome: 'dead-lettered',
        error: expect.objectContaining({ message: why }),
      }),
    ]);
    await worker.stop();
  });

  it('retries a failing destination, then dead-letters with every attempt counted', async () => {
    const out = new FakeDestination(['fail', 'fail']);
    const { deps, source, records, parked } = fakeDeps([out]);
    const worker = await started(route(), deps);
    const result = (await source.deliver(message({ total: 1 }))) as ProcessResult;
    expect(out.sent).toHaveLength(2);
    expect(result).toMatchObject({
      outcome: 'dead-lettered',
      error: { code: 'DELIVERY_FAILED', where: 'destinations/0' },
    });
    expect(parked).toEqual([expect.objectContaining({ reasonCode: 'DELIVERY_FAILED' })]);
    expect(records[0]).toMatchObject({ outcome: 'dead-lettered', attempts: 2 });
    await worker.stop();
  });

  it('gives a broker message back when stopped while it waits to retry, and parks a final one', async () => {
    const retrying = route({
      errors: { retry: { attempts: 5, backoffMs: 3_600_000, maxBackoffMs: 3_600_000 } },
    });
    // Jitter 1 makes the wait the whole hour (the fakes' default of 0 retries at once, which
    // would race the stop below).
    const waitWholeBackoff = () => 1;
    const failing = new FakeDestination(['fail']);
    const broker = fakeDeps([failing]);
    broker.deps.jitter = waitWholeBackoff;
    const worker = await started(retrying, broker.deps);
    const taken = broker.source.deliver(message({ total: 1 }));
    // The first attempt failed; the worker waits an hour for the second, then is stopped.
    await until(() => failing.sent.length === 1);
    await worker.stop();
    await expect(taken).rejects.toThrow(/stopped while message m-1 waited to retry/);
    expect(broker.records).toEqual([]);

    const refusing = new FakeDestination(['fail']);
    const http = fakeDeps([refusing]);
    http.deps.jitter = waitWholeBackoff;
    const other = await started(retrying, http.deps);
    const request = http.source.deliver(message({ total: 1 }, { final: true }));
    await until(() => refusing.sent.length === 1);
    await other.stop();
    await expect(request).resolves.toMatchObject({ outcome: 'dead-lettered' });
    expect(http.parked).toHaveLength(1);
  });

  it('waits for the messages in flight before it stops', async () => {
    const out = new FakeDestination(['wait']);
    const { deps, source } = fakeDeps([out]);
    const worker = await started(route(), deps);
    const taken = source.deliver(message({ total: 1 }));
    await until(() => out.waiting.length === 1);
    expect(worker.status().inFlight).toBe(1);
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    out.waiting.shift()!();
    await expect(taken).resolves.toMatchObject({ outcome: 'delivered' });
    await stopping;
    expect(worker.status().state).toBe('stopped');
  });

  it("sends in the message's transaction, and gives back (not dead-letters) a message whose transaction failed", async () => {
    const transaction = { failed: false };
    const out = new FakeDestination(['confirm', 'fail']);
    const dlq = new FakeDestination();
    const { deps, source, records, parked } = fakeDeps([out], dlq);
    const doc = route({
      errors: { deadLetter: { type: 'amqp', connection: 'rabbit', queue: 'orders.dlq' } },
    });
    const worker = await started(doc, deps);
    await expect(source.deliver(message({ total: 1 }, { transaction }))).resolves.toMatchObject({
      outcome: 'delivered',
    });
    expect(out.sent[0].transaction).toBe(transaction);
    // A failed send in a transaction dooms it (the destination says so, and refuses retries).
    const send = out.send.bind(out);
    out.send = (m) =>
      send(m).catch((err: unknown) => {
        transaction.failed = true;
        throw new ConnectorError('UNREACHABLE', (err as Error).message, false);
      });
    await expect(source.deliver(message({ total: 2 }, { transaction }))).rejects.toThrow(
      /transaction of message m-1 failed .*broker away.*; it is aborted and redone/,
    );
    expect(out.sent).toHaveLength(2);
    expect(parked).toEqual([]);
    expect(dlq.sent).toEqual([]);
    expect(records.map((r) => r.outcome)).toEqual(['delivered']);
    // A dead letter joins the transaction too (a validation failure inside it).
    transaction.failed = false;
    await source.deliver(message('{not json', { transaction }));
    expect(dlq.sent[0].transaction).toBe(transaction);
    await worker.stop();
  });

  /**
   * An exactly-once route whose destination fails `fails` sends and whose dead-letter destination
   * refuses every dead letter for a reason outside the record: `held()` is the Kafka record it holds.
   */
  async function degradedRoute(fails: number) {
    const dlq = new FakeDestination();
    const { deps, source } = fakeDeps([new FakeDestination(Array(fails).fill('fail'))], dlq);
    const lines: string[] = [];
    const text = (line: string | { msg: string }) => (typeof line === 'string' ? line : line.msg);
    deps.log = { log: (line) => lines.push(text(line)), warn: () => {}, error: () => {} };
    deps.deadLetters.delete = () => Promise.resolve(true);
    const clock = { now: 1_000 };
    deps.monotonicNow = () => clock.now;
    dlq.send = (m) => {
      (m.transaction as { failed: boolean }).failed = true;
      return Promise.reject(
        new ConnectorError('UNREACHABLE', 'kafka produce to dead: away', false),
      );
    };
    const doc = route({
      pipeline: [],
      errors: {
        retry: { attempts: 2, backoffMs: 0, maxBackoffMs: 0 },
        deadLetter: { type: 'amqp', connection: 'rabbit', queue: 'orders.dlq' },
      },
    });
    const worker = await started(doc, deps);
    const held = () =>
      message(
        { id: 1, total: 5 },
        {
          source: { type: 'kafka', name: 'orders.in', partition: 0, offset: '7' },
          transaction: { failed: false, recordRefused: false },
        },
      );
    return { worker, source, held, lines, clock };
  }

  it('a route degraded by a held message is running again once that message goes through without a dead letter', async () => {
    // The destination is away, then back: the first try dead-letters, the redo delivers.
    const { worker, source, held, lines } = await degradedRoute(2);
    await expect(source.deliver(held())).rejects.toThrow(/aborted and redone/);
    expect(worker.status().state).toBe('degraded');
    await expect(source.deliver(held())).resolves.toMatchObject({ outcome: 'delivered' });
    // Nothing waits any more: not 'degraded' until the next dead letter, which may never come.
    expect(worker.status().state).toBe('running');
    expect(lines.filter((l) => /no longer degraded/.test(l))).toHaveLength(1);
    await worker.stop();
  });

  it('a route degraded by a held message no try renews (its partition went to another process) is running again after a minute', async () => {
    const { worker, source, held, lines, clock } = await degradedRoute(4);
    await expect(source.deliver(held())).rejects.toThrow(/aborted and redone/);
    // Tried again within the minute: still held, still degraded.
    clock.now += DEAD_LETTER_HOLD_STALE_MS - 1;
    expect(worker.status().state).toBe('degraded');
    await expect(source.deliver(held())).rejects.toThrow(/aborted and redone/);
    clock.now += DEAD_LETTER_HOLD_STALE_MS;
    expect(worker.status().state).toBe('degraded');
    // Then no try for over a minute: the message is no longer this process's to hold.
    clock.now += 1;
    expect(worker.status().state).toBe('running');
    expect(lines.filter((l) => /not tried here for 60 s/.test(l))).toHaveLength(1);
    expect(worker.status().state).toBe('running');
    await worker.stop();
  });

  it('a transaction whose dead letter is refused for a reason that is not the record degrades the route once, holds the message and recovers', async () => {
    const dlq = new FakeDestination();
    const { deps, source, parked, records } = fakeDeps([new FakeDestination()], dlq);
    const warnings: string[] = [];
    const lines: string[] = [];
    const text = (line: string | { msg: string }) => (typeof line === 'string' ? line : line.msg);
    deps.log = {
      log: (line) => lines.push(text(line)),
      warn: (line) => warnings.push(text(line)),
      error: (line) => warnings.push(text(line)),
    };
    const deleted: string[] = [];
    deps.deadLetters.delete = (id: string) => {
      deleted.push(id);
      return Promise.resolve(true);
    };
    // As the Kafka destination does: a failed send dooms the transaction, and says whether the
    // record itself was refused.
    let refusal: 'environment' | 'record' | undefined = 'environment';
    const send = dlq.send.bind(dlq);
    dlq.send = (m) => {
      if (!refusal) return send(m);
      const tx = m.transaction as { failed: boolean; recordRefused: boolean };
      tx.failed = true;
      tx.recordRefused = refusal === 'record';
      return Promise.reject(
        new ConnectorError(
          'UNREACHABLE',
          `kafka produce to dead: not hosted; card 4111111111111111`,
          false,
        ),
      );
    };
    const doc = route({
      errors: { deadLetter: { type: 'amqp', connection: 'rabbit', queue: 'orders.dlq' } },
    });
    const worker = await started(doc, deps);
    const held = () =>
      message('{not json', {
        source: { type: 'kafka', name: 'orders.in', partition: 2, offset: '41' },
        transaction: { failed: false, recordRefused: false },
      });
    await expect(source.deliver(held())).rejects.toThrow(/aborted and redone/);
    const first = worker.status();
    expect(first).toMatchObject({ state: 'degraded', deadLetterFailures: 1 });
    expect(first.reason).toMatch(
      /^the dead-letter destination refuses dead letters \(kafka produce to dead: not hosted; card \[PAN REDACTED\]\): the message at kafka orders.in partition 2 offset 41 waits/,
    );
    // Its row goes: the message waits in its source and parks again on the redo.
    expect(deleted).toEqual(['dl-1']);
    await expect(source.deliver(held())).rejects.toThrow(/aborted and redone/);
    await expect(source.deliver(held())).rejects.toThrow(/aborted and redone/);
    expect(worker.status()).toMatchObject({
      state: 'degraded',
      deadLetterFailures: 3,
      since: first.since,
    });
    expect(deleted).toEqual(['dl-1', 'dl-2', 'dl-3']);
    expect(records).toEqual([]);
    // One warning for the state change, not one per try.
    expect(warnings.filter((w) => /degraded/.test(w))).toHaveLength(1);
    expect(warnings.join('\n')).not.toContain('4111111111111111');
    // The cause goes away: the dead letter goes, the route is running again, and says so once.
    refusal = undefined;
    await expect(source.deliver(held())).resolves.toMatchObject({ outcome: 'dead-lettered' });
    expect(worker.status()).toMatchObject({ state: 'running', deadLetterFailures: 3 });
    expect(lines.filter((l) => /takes dead letters again/.test(l))).toHaveLength(1);
    expect(parked).toHaveLength(4);
    // A refusal of the record itself is the source's to mark on the redo: nothing to degrade.
    refusal = 'record';
    await expect(source.deliver(held())).rejects.toThrow(/aborted and redone/);
    expect(worker.status()).toMatchObject({ state: 'running', deadLetterFailures: 4 });
    await worker.stop();
  });

  it('returns the answer of the reply destination to a source that awaits one', async () => {
    const answer: Reply = { body: Buffer.from('{"ok":true}'), contentType: 'application/json' };
    const out = new FakeDestination([], answer);
    const { deps, source } = fakeDeps([out]);
    const doc = route({
      source: { type: 'http', path: 'orders', mode: 'sync', auth: 'none' },
      destinations: [{ type: 'amqp', connection: 'rabbit', queue: 'orders.out', reply: true }],
    });
    const worker = await started(doc, deps);
    const result = (await source.deliver(
      message({ total: 1 }, { final: true, replyBy: Date.now() + 1000 }),
    )) as ProcessResult;
    expect(result).toMatchObject({ outcome: 'delivered', reply: answer });
    await worker.stop();
  });
});
