/**
 * One conformance suite for every broker connector, in the spirit of Redpanda Connect's
 * `integration.StreamTests`: each connector's integration test supplies a harness (how to make a
 * fresh queue or topic, a source and a destination on it, and how to cut its connection) and runs
 * the same cases against the real broker. Jest globals only; imported by `*.int-spec.ts` files.
 */
import { randomUUID } from 'node:crypto';
import {
  type DeliveryReceipt,
  type Destination,
  type InboundMessage,
  type MessageHandler,
  type OutboundMessage,
  type Source,
} from '../connector';
import { CONNECTOR_KINDS } from '../connectors';
import { deferred, sendWithRetry, until, type Deferred } from './eventually';

/** A fresh queue or topic, with sources and destinations on it. */
export interface ConformanceFixture {
  /**
   * A new source on the fixture (same consumer group each time, for Kafka). `prefetch`: AMQP's
   * prefetch, or Kafka's messages at once per partition (`concurrency`).
   */
  source(options?: { prefetch?: number }): Source;
  destination(): Destination;
  /** Messages the broker still holds back from consumers, if it can tell (AMQP: ready messages). */
  backlog?(): Promise<number>;
  /** Deletes what the fixture created. */
  dispose(): Promise<void>;
}

export interface ConformanceHarness {
  fixture(options: { partitions: number }): Promise<ConformanceFixture>;
  /** The order promised: all messages for one consumer with prefetch 1, or per key (and partition). */
  ordering: 'prefetch-1' | 'per-key';
  /** What bounds the handlers at once: the prefetch, or the prefetch per partition. */
  concurrency: 'prefetch' | 'per-partition';
  /** Ways to cut the connection under a running source and destination, by name (see ConformanceOptions). */
  disruptions: Record<string, () => Promise<void>>;
  /** Closes the shared clients (the pool) and anything else the harness opened. */
  close(): Promise<void>;
}

export interface ConformanceOptions {
  /** Longest wait for one expected state. */
  waitMs?: number;
  /** Names of the harness's disruptions to run (known before the harness exists). */
  disruptions?: string[];
}

/** A handler that records every delivery, and the ids whose handling finished, in order. */
class Recorder {
  readonly seen: InboundMessage[] = [];
  readonly done = new Set<string>();
  readonly doneOrder: string[] = [];
  behaviour: (message: InboundMessage) => Promise<void> = async () => undefined;

  readonly handler: MessageHandler = async (message) => {
    this.seen.push(message);
    await this.behaviour(message);
    if (message.id === undefined) throw new Error('conformance: a message arrived without its id');
    this.done.add(message.id);
    this.doneOrder.push(message.id);
  };

  hasAll(messages: OutboundMessage[]): boolean {
    return messages.every((m) => this.done.has(m.id));
  }
}

function seqOf(message: InboundMessage): number {
  return Number(message.headers['x-seq']);
}

/** Messages with ids, headers (one non-ASCII) and bytes that are not all valid UTF-8. */
export function testMessages(tag: string, count: number, from = 0): OutboundMessage[] {
  const run = randomUUID().slice(0, 8);
  return Array.from({ length: count }, (_, k) => {
    const seq = from + k;
    return {
      id: `${tag}-${run}-${seq}`,
      headers: { 'x-seq': String(seq), 'x-key': `key-${seq % 5}`, 'x-text': 'grüße ✓' },
      body: Buffer.concat([
        Buffer.from(JSON.stringify({ seq, text: 'grüße ✓' })),
        Buffer.from([0x00, 0xff, 0xfe]),
      ]),
      key: `key-${seq % 5}`,
    };
  });
}

async function sendInOrder(
  destination: Destination,
  messages: OutboundMessage[],
): Promise<DeliveryReceipt[]> {
  const receipts: DeliveryReceipt[] = [];
  for (const message of messages) receipts.push(await destination.send(message));
  return receipts;
}

export function describeConformance(
  name: string,
  makeHarness: () => Promise<ConformanceHarness>,
  options: ConformanceOptions = {},
): void {
  const waitMs = options.waitMs ?? 20_000;

  describe(`${name} connector conformance`, () => {
    let harness: ConformanceHarness;
    const cleanups: Array<() => Promise<void>> = [];

    /** Everything a case opens is closed even when it fails. */
    async function open(partitions: number): Promise<{
      fixture: ConformanceFixture;
      source(prefetch?: number): Source;
      destination(): Destination;
    }> {
      const fixture = await harness.fixture({ partitions });
      cleanups.push(() => fixture.dispose());
      return {
        fixture,
        source: (prefetch) => {
          const source = fixture.source({ prefetch });
          cleanups.push(() => source.stop());
          return source;
        },
        destination: () => {
          const destination = fixture.destination();
          cleanups.push(() => destination.close());
          return destination;
        },
      };
    }

    beforeAll(async () => {
      harness = await makeHarness();
    }, 60_000);

    afterEach(async () => {
      // Last opened, first closed: sources and destinations before their fixture.
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    }, 60_000);

    afterAll(async () => {
      await harness?.close();
    }, 60_000);

    it(
      'opens and closes cleanly, and a closed destination refuses to send',
      async () => {
        const { source, destination } = await open(1);
        const [message] = testMessages('open', 1);
        const first = source();
        await first.start(async () => undefined);
        await first.stop();
        await first.stop();

        const dest = destination();
        const receipt = await dest.send(message);
        expect(CONNECTOR_KINDS).toContain(receipt.kind);
        await dest.close();
        await dest.close();
        await expect(dest.send(message)).rejects.toMatchObject({
          name: 'ConnectorError',
          code: 'CLOSED',
          retryable: false,
        });

        const recorder = new Recorder();
        const second = source();
        await second.start(recorder.handler);
        await until(() => recorder.done.has(message.id), 'the message sent after a stop', waitMs);
        await second.stop();
      },
      3 * waitMs,
    );

    it(
      'delivers a batch with ids, headers and bytes intact',
      async () => {
        const { source, destination } = await open(2);
        const recorder = new Recorder();
        const consumer = source(50);
        await consumer.start(recorder.handler);
        const messages = testMessages('batch', 40);
        const dest = destination();
        const receipts = await Promise.all(messages.map((m) => dest.send(m)));
        await until(() => recorder.hasAll(messages), 'all 40 messages', waitMs);

        messages.forEach((sent, i) => {
          const got = recorder.seen.find((m) => m.id === sent.id)!;
          expect(got.payload.equals(sent.body)).toBe(true);
          expect(got.headers).toMatchObject(sent.headers);
          expect(got.redelivered).toBe(false);
          const receipt = receipts[i];
          expect(got.source.type).toBe(receipt.kind);
          if (receipt.kind === 'kafka') {
            expect(got.source).toMatchObject({
              name: receipt.topic,
              partition: receipt.partition,
              offset: receipt.offset,
            });
          }
        });
        // Concurrent sends must not collapse into one record (an idempotent producer bug elsewhere).
        const kafkaReceipts = receipts.filter((r) => r.kind === 'kafka');
        const positions = new Set(kafkaReceipts.map((r) => `${r.partition}@${r.offset}`));
        expect(positions.size).toBe(kafkaReceipts.length);
      },
      3 * waitMs,
    );

    it(
      'keeps the order it promises',
      async () => {
        const perKey = harness.ordering === 'per-key';
        const { source, destination } = await open(perKey ? 3 : 1);
        const recorder = new Recorder();
        await source(1).start(recorder.handler);
        const messages = testMessages('order', 30);
        await sendInOrder(destination(), messages);
        await until(() => recorder.hasAll(messages), 'all 30 messages', waitMs);

        const groups = new Map<string, number[]>();
        for (const message of recorder.seen) {
          const group = perKey ? message.headers['x-key'] : 'all';
          groups.set(group, [...(groups.get(group) ?? []), seqOf(message)]);
        }
        for (const [group, seqs] of groups)
          expect({ group, seqs }).toEqual({ group, seqs: [...seqs].sort((a, b) => a - b) });
        if (perKey) {
          const partitions = new Map<number, bigint[]>();
          for (const { source: ref } of recorder.seen) {
            expect(ref.partition).toEqual(expect.any(Number));
            partitions.set(ref.partition!, [
              ...(partitions.get(ref.partition!) ?? []),
              BigInt(ref.offset!),
            ]);
          }
          for (const offsets of partitions.values())
            expect(offsets.every((o, i) => i === 0 || o > offsets[i - 1])).toBe(true);
        }
      },
      3 * waitMs,
    );

    it(
      'gives a message whose handler rejected back, and keeps the order around it',
      async () => {
        const { source, destination } = await open(1);
        const recorder = new Recorder();
        const messages = testMessages('reject', 6);
        let failures = 0;
        recorder.behaviour = async (message) => {
          if (message.id === messages[2].id && failures < 2) {
            failures += 1;
            throw new Error('not done yet');
          }
        };
        await source(1).start(recorder.handler);
        await sendInOrder(destination(), messages);
        await until(() => recorder.hasAll(messages), 'all 6 messages', waitMs);

        const deliveries = recorder.seen.filter((m) => m.id === messages[2].id);
        expect(deliveries).toHaveLength(3);
        expect(deliveries.map((m) => m.redelivered)).toEqual([false, true, true]);
        expect(recorder.doneOrder).toEqual(messages.map((m) => m.id));
      },
      3 * waitMs,
    );

    it(
      'acknowledges only what was handled: unfinished messages come back after a stop',
      async () => {
        const { source, destination } = await open(1);
        const messages = testMessages('stop', 10);
        await sendInOrder(destination(), messages);
        const finished = 4;
        const recorder = new Recorder();
        const held: Array<Deferred> = [];
        recorder.behaviour = async (message) => {
          if (seqOf(message) < finished) return;
          const gate = deferred();
          held.push(gate);
          await gate.promise;
        };
        const first = source(10);
        await first.start(recorder.handler);
        await until(
          () => recorder.hasAll(messages.slice(0, finished)) && held.length > 0,
          'the first 4 handled and the next one in its handler',
          waitMs,
        );

        let stopped = false;
        const stopping = first.stop().then(() => {
          stopped = true;
        });
        await new Promise((resolve) => setImmediate(resolve));
        expect(stopped).toBe(false); // stop() waits for the handlers in flight
        for (const gate of held) gate.reject(new Error('shutting down'));
        await stopping;

        const again = new Recorder();
        await source(10).start(again.handler);
        await until(() => again.hasAll(messages.slice(finished)), 'the 6 unfinished ones', waitMs);
        expect(again.seen.filter((m) => seqOf(m) < finished).map((m) => m.id)).toEqual([]);
      },
      3 * waitMs,
    );

    it(
      'bounds the handlers running at once',
      async () => {
        const byPartition = harness.concurrency === 'per-partition';
        const { fixture, source, destination } = await open(byPartition ? 3 : 1);
        const messages = testMessages('bound', 12);
        const receipts = await sendInOrder(destination(), messages);
        const prefetch = 4;
        const perPartition = new Map<number, number>();
        for (const r of receipts) {
          const partition = r.kind === 'kafka' ? r.partition : 0;
          perPartition.set(partition, (perPartition.get(partition) ?? 0) + 1);
        }
        const inEach = [...perPartition.values()].map((n) => Math.min(n, prefetch));
        const bound = byPartition ? inEach.reduce((a, b) => a + b, 0) : prefetch;

        let running = 0;
        let most = 0;
        let mostInOnePartition = 0;
        const runningIn = new Map<number, number>();
        const pending: Deferred[] = [];
        const recorder = new Recorder();
        recorder.behaviour = async (message) => {
          const partition = message.source.partition ?? 0;
          running += 1;
          runningIn.set(partition, (runningIn.get(partition) ?? 0) + 1);
          most = Math.max(most, running);
          mostInOnePartition = Math.max(mostInOnePartition, runningIn.get(partition)!);
          const gate = deferred();
          pending.push(gate);
          await gate.promise;
          running -= 1;
          runningIn.set(partition, runningIn.get(partition)! - 1);
        };
        await source(prefetch).start(recorder.handler);
        await until(() => running === bound, `${bound} handlers running`, waitMs);
        if (fixture.backlog) {
          // The broker itself holds the rest back: proof that no more can arrive right now.
          await until(
            async () => (await fixture.backlog!()) === messages.length - bound,
            'the broker to hold back the rest',
            waitMs,
          );
          expect(running).toBe(bound);
        }
        for (let released = 0; released < messages.length; released += 1) {
          await until(() => pending.length > 0, 'a handler to release', waitMs);
          pending.shift()!.resolve();
        }
        await until(() => recorder.hasAll(messages), 'all 12 messages', waitMs);
        expect(most).toBe(bound);
        if (byPartition) expect(mostInOnePartition).toBe(Math.max(...inEach));
      },
      3 * waitMs,
    );

    for (const disruption of options.disruptions ?? [])
      it(
        `recovers from ${disruption} without losing a message`,
        async () => {
          const disrupt = harness.disruptions[disruption];
          if (!disrupt) throw new Error(`the harness has no disruption named ${disruption}`);
          const { source, destination } = await open(1);
          const before = testMessages('before', 10);
          const [caught] = testMessages('caught', 1);
          const after = testMessages('after', 10);
          const gate = deferred();
          const recorder = new Recorder();
          recorder.behaviour = async (message) => {
            // The first delivery of `caught` is in its handler while the connection goes.
            if (message.id === caught.id && !message.redelivered) await gate.promise;
          };
          await source(10).start(recorder.handler);
          const dest = destination();
          for (const message of before) await sendWithRetry(dest, message, waitMs);
          await until(() => recorder.hasAll(before), 'the first 10 messages', waitMs);
          await sendWithRetry(dest, caught, waitMs);
          await until(
            () => recorder.seen.some((m) => m.id === caught.id),
            'the caught one',
            waitMs,
          );

          await disrupt();
          // Its acknowledgement now goes to a connection that is gone (or races the reconnect).
          gate.resolve();
          for (const message of after) await sendWithRetry(dest, message, 3 * waitMs);
          await until(
            () => recorder.hasAll([...before, caught, ...after]),
            'every message, after the reconnect',
            3 * waitMs,
          );
        },
        6 * waitMs,
      );
  });
}
