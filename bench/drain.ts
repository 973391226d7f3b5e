/**
 * The consumer of a bench's output queues, in its own process (its CPU is not counted as the
 * gateway's or the baseline's): it declares each queue it is sent, as the destination will, and
 * takes and drops what lands there (noAck). A production destination queue has a consumer, and
 * RabbitMQ confirms a persistent message once it is on disk or once the queue's consumers have
 * taken it, whichever is first: a queue nobody reads confirms at the disk's pace, and slower as
 * it grows deep. See {@link startDrain}.
 */
import { fork } from 'node:child_process';
import * as amqp from 'amqplib';

interface DrainRequest {
  queue: string;
  options: amqp.Options.AssertQueue;
}

type DrainAnswer = { ready: true } | { queue: string; error?: string };

export interface Drain {
  /** Declares `queue` with `options` and consumes it; resolves once the consumer is on. */
  consume(queue: string, options?: amqp.Options.AssertQueue): Promise<void>;
  close(): Promise<void>;
}

/**
 * Forks this file as the drain process on `url`; resolves once it is connected. If it ends before
 * `close`, every request waiting and every later one fails, and so does the bench: rows measured
 * on queues nobody reads any more would be the other setup's figures under this one's name.
 */
export async function startDrain(url: string): Promise<Drain> {
  const child = fork(__filename, [url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, { resolve(): void; reject(err: Error): void }>();
  let ended: Error | undefined;
  let closing = false;
  let ready!: () => void;
  let failed!: (err: Error) => void;
  const connected = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const end = (err: Error) => {
    ended ??= err;
    failed(ended);
    for (const pending of waiting.values()) pending.reject(ended);
    waiting.clear();
  };
  child.on('error', (err) => end(new Error(`the drain process failed: ${err.message}`)));
  child.once('exit', (code, signal) => {
    end(new Error(`the drain process ended (${signal ?? `exit code ${code}`})`));
    if (!closing) console.error(ended!.message);
  });
  child.on('message', (answer: DrainAnswer) => {
    if ('ready' in answer) return ready();
    const pending = waiting.get(answer.queue);
    waiting.delete(answer.queue);
    if (answer.error) pending?.reject(new Error(`drain ${answer.queue}: ${answer.error}`));
    else pending?.resolve();
  });
  await connected;
  return {
    consume: (queue, options = { durable: true }) =>
      new Promise<void>((resolve, reject) => {
        if (ended) return reject(ended);
        waiting.set(queue, { resolve, reject });
        child.send({ queue, options } satisfies DrainRequest);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        if (ended || !child.connected) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

async function drainProcess(url: string): Promise<void> {
  const connection = await amqp.connect(url, { noDelay: true });
  // A connection or channel the broker closes ends the process: the bench then fails.
  const fail = (err: Error) => {
    console.error(`drain: ${err.message}`);
    process.exit(1);
  };
  connection.on('error', fail);
  const channel = await connection.createChannel();
  channel.on('error', fail);
  process.on('message', (request: DrainRequest) => {
    channel
      .assertQueue(request.queue, request.options)
      .then(() => channel.consume(request.queue, () => undefined, { noAck: true }))
      .then(
        () => process.send!({ queue: request.queue } satisfies DrainAnswer),
        (err: unknown) =>
          process.send!({ queue: request.queue, error: String(err) } satisfies DrainAnswer),
      );
  });
  process.once('disconnect', () => {
    void connection.close().finally(() => process.exit(0));
  });
  process.send!({ ready: true } satisfies DrainAnswer);
}

if (require.main === module) {
  drainProcess(process.argv[2]).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
