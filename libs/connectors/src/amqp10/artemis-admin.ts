import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { create_container, type Connection, type Message, type Receiver, type Sender } from 'rhea';

/**
 * For tests: the ActiveMQ Artemis started by `scripts/artemis.sh` (the same environment
 * variables), and a management client that talks to it over AMQP 1.0 itself (Artemis'
 * `activemq.management` address), so the tests need no core port, no web console and no JMX.
 */
export const ARTEMIS = {
  host: '127.0.0.1',
  port: Number(process.env.JUNCTION_ARTEMIS_PORT ?? 25673),
  tlsPort: Number(process.env.JUNCTION_ARTEMIS_TLS_PORT ?? 25674),
  username: process.env.JUNCTION_ARTEMIS_USER ?? 'junction',
  password: process.env.JUNCTION_ARTEMIS_PASSWORD ?? 'junction-secret',
  /** The broker's self-signed certificate (PEM), made by the script. */
  certificatePath: resolve(
    process.env.JUNCTION_ARTEMIS_HOME ?? resolve(__dirname, '../../../../.cache/artemis'),
    'tls/broker.pem',
  ),
};

interface Waiter {
  resolve(message: Message): void;
  reject(err: Error): void;
}

export class ArtemisAdmin {
  private readonly waiting = new Map<string, Waiter>();

  private constructor(
    private readonly connection: Connection,
    private readonly sender: Sender,
    private readonly replyTo: string,
  ) {}

  static async open(timeoutMs = 10_000): Promise<ArtemisAdmin> {
    const container = create_container({ id: `junction-test-admin-${randomUUID()}` });
    const connection = container.connect({
      host: ARTEMIS.host,
      port: ARTEMIS.port,
      username: ARTEMIS.username,
      password: ARTEMIS.password,
      reconnect: false,
    });
    try {
      return await new Promise<ArtemisAdmin>((done, fail) => {
        const timer = setTimeout(() => fail(new Error('artemis admin: no connection')), timeoutMs);
        connection.once('connection_error', () => fail(new Error('artemis admin: refused')));
        connection.once('disconnected', (context) =>
          fail(new Error(`artemis admin: disconnected: ${String(context.error ?? '')}`)),
        );
        connection.once('connection_open', () => {
          const receiver: Receiver = connection.open_receiver({
            source: { address: '', dynamic: true },
            credit_window: 100,
          });
          receiver.once('receiver_open', () => {
            const replyTo = (receiver.source as { address: string }).address;
            const sender = connection.open_sender({ target: { address: 'activemq.management' } });
            sender.once('sender_open', () => {
              clearTimeout(timer);
              const admin = new ArtemisAdmin(connection, sender, replyTo);
              receiver.on('message', (context) => admin.onReply(context.message!));
              done(admin);
            });
          });
        });
      });
    } catch (err) {
      connection.close();
      throw err;
    }
  }

  /** Invokes a management operation; resolves with its result (parsed JSON where it is JSON). */
  async call(resource: string, operation: string, params: unknown[] = []): Promise<unknown> {
    return this.request({ _AMQ_ResourceName: resource, _AMQ_OperationName: operation }, params);
  }

  async attribute(resource: string, name: string): Promise<unknown> {
    return this.request({ _AMQ_ResourceName: resource, _AMQ_Attribute: name }, []);
  }

  /** Messages in a queue, and of those the ones out to consumers and not yet settled. */
  async queueCounts(queue: string): Promise<{ messages: number; delivering: number }> {
    const messages = Number(await this.attribute(`queue.${queue}`, 'messageCount'));
    const delivering = Number(await this.attribute(`queue.${queue}`, 'deliveringCount'));
    return { messages, delivering };
  }

  async queueExists(queue: string): Promise<boolean> {
    const names = (await this.call('broker', 'getQueueNames', [])) as string[];
    return names.includes(queue);
  }

  /** Closes every connection whose container id is `clientId`; resolves with how many. */
  async closeConnections(clientId: string): Promise<number> {
    const ids = await this.connectionIds(clientId);
    for (const id of ids) await this.call('broker', 'closeConnectionWithID', [id]);
    return ids.length;
  }

  async connectionIds(clientId: string): Promise<string[]> {
    const filter = JSON.stringify({ field: 'clientID', operation: 'EQUALS', value: clientId });
    const listed = (await this.call('broker', 'listConnections', [filter, 1, 100])) as {
      data: Array<{ connectionID: string }>;
    };
    return listed.data.map((c) => c.connectionID);
  }

  /** Deletes a queue, its consumers closed; no error if it is not there. */
  async destroyQueue(queue: string): Promise<void> {
    if (await this.queueExists(queue)) await this.call('broker', 'destroyQueue', [queue, true]);
  }

  /** Deletes an address with its queues; no error if it is not there. */
  async deleteAddress(address: string): Promise<void> {
    const names = (await this.call('broker', 'getAddressNames', [])) as string[];
    if (names.includes(address)) await this.call('broker', 'deleteAddress', [address, true]);
  }

  async close(): Promise<void> {
    await new Promise<void>((done) => {
      const timer = setTimeout(done, 5_000);
      this.connection.once('connection_close', () => {
        clearTimeout(timer);
        done();
      });
      this.connection.close();
    });
  }

  private request(properties: Record<string, string>, params: unknown[]): Promise<unknown> {
    const id = randomUUID();
    return new Promise<unknown>((done, fail) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        fail(new Error(`artemis admin: no answer to ${JSON.stringify(properties)}`));
      }, 10_000);
      this.waiting.set(id, {
        resolve: (reply) => {
          clearTimeout(timer);
          const props = reply.application_properties ?? {};
          const body = typeof reply.body === 'string' ? reply.body : String(reply.body);
          if (props._AMQ_OperationSucceeded !== true)
            return fail(new Error(`artemis admin: ${JSON.stringify(properties)} failed: ${body}`));
          // The result is a JSON array of one item (null for void operations), itself JSON text
          // for operations that answer with JSON.
          let result: unknown;
          try {
            const parsed: unknown = JSON.parse(body);
            result = Array.isArray(parsed) ? parsed[0] : parsed;
          } catch {
            result = body;
          }
          if (typeof result !== 'string') return done(result);
          try {
            done(JSON.parse(result));
          } catch {
            done(result);
          }
        },
        reject: fail,
      });
      this.sender.send({
        message_id: id,
        reply_to: this.replyTo,
        application_properties: properties,
        body: JSON.stringify(params),
      });
    });
  }

  private onReply(message: Message): void {
    const id = message.correlation_id;
    const waiter = typeof id === 'string' ? this.waiting.get(id) : undefined;
    if (!waiter) return;
    this.waiting.delete(id as string);
    waiter.resolve(message);
  }
}
