/**
 * The consumer of a bench's output queues, in its own process (its CPU is not counted as the
 * gateway's or the baseline's): it declares each queue it is sent, as the destination will, and
 * takes and drops what lands there (noAck). A production destination queue has a consumer, and
 * RabbitMQ confirms a persistent message once it is on disk or once the queue's consumers have
 * taken it, whichever is first: a queue nobody reads confirms at the disk's pace, and slower as
 * it grows deep. See {@link startDrain}.
 */
import { fork, type ChildProcess } from 'node:child_process';
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

/** Forks this file as the drain process on `url`; resolves once it is connected. */
export async function startDrain(url: string): Promise<Drain> {
  const child: ChildProcess = fork(__filename, [url], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<string, { resolve(): void; reject(err: Error): void }>();
  let ready!: () => void;
  const connected = new Promise<void>((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => reject(new Error(`the drain process exited (${code})`)));
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
        waiting.set(queue, { resolve, reject });
        child.send({ queue, options } satisfies DrainRequest);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

async function drainProcess(url: string): Promise<void> {
  const connection = await amqp.connect(url, { noDelay: true });
  const channel = await connection.createChannel();
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
