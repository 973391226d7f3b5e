import { compileRoute, envelopeOf, testResources, validateRoute } from '@junction/pipeline';
import { CONNECTORS } from '../connectors';

/** Message priority in route documents: which destinations take it, and what an expression may give. */
const resources = testResources({ protocols: CONNECTORS });
const source = { type: 'amqp', connection: 'rabbit', queue: 'calls.in' };

async function problemsOf(destination: unknown, src: unknown = source): Promise<string[]> {
  return (
    await validateRoute({ id: 'calls', source: src, destinations: [destination] }, resources)
  ).map((p) => `${p.pointer || '/'}: ${p.message}`);
}

async function deliver(priority: string, body: unknown) {
  const compiled = await compileRoute(
    {
      id: 'calls',
      source,
      destinations: [
        { type: 'amqp', connection: 'rabbit', queue: 'calls.out', maxPriority: 10, priority },
        { type: 'amqp10', connection: 'artemis', address: 'calls.out', priority },
      ],
    },
    resources,
  );
  return compiled.run(envelopeOf(body, { 'x-priority': '7' }));
}

describe('message priority in routes', () => {
  it('takes a priority expression on amqp and amqp10 destinations, and a priority queue on both sides', async () => {
    expect(
      await problemsOf(
        { type: 'amqp', connection: 'rabbit', queue: 'calls.out', maxPriority: 10, priority: '9' },
        { ...source, maxPriority: 10, prefetch: 1 },
      ),
    ).toEqual([]);
    expect(
      await problemsOf({ type: 'amqp10', connection: 'artemis', address: 'a', priority: '9' }),
    ).toEqual([]);
  });

  it('refuses priority on an mqtt destination, saying why', async () => {
    const problems = await problemsOf({
      type: 'mqtt',
      connection: 'mosquitto',
      topic: 'calls',
      priority: '9',
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^\/destinations\/0\/priority: MQTT .* carries no message priority/,
    );
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'maxPriority without queue',
      { exchange: 'x', maxPriority: 5 },
      '/destinations/0/maxPriority: applies only with queue',
    ],
    [
      'maxPriority above 255',
      { queue: 'q', maxPriority: 256 },
      '/destinations/0/maxPriority: must be <= 255',
    ],
    [
      'a priority that does not compile',
      { queue: 'q', priority: 'urgent ?' },
      '/destinations/0/priority',
    ],
    [
      'a batch of 0',
      { queue: 'q', batch: { size: 0 } },
      '/destinations/0/batch/size: must be >= 1',
    ],
  ])('refuses %s', async (_, fields, expected) => {
    const problems = await problemsOf({ type: 'amqp', connection: 'rabbit', ...fields });
    expect(problems.join('\n')).toContain(expected);
  });

  it('evaluates the expression per message: a number, the text of one, or nothing', async () => {
    const urgent = await deliver('urgent ? 9 : 1', { urgent: true });
    expect(urgent.deliveries.map((d) => d.priority)).toEqual([9, 9]);
    const fromHeader = await deliver('$headers."x-priority"', {});
    expect(fromHeader.deliveries.map((d) => d.priority)).toEqual([7, 7]);
    const none = await deliver('missing', {});
    expect(none.outcome).toBe('deliver');
    expect(none.deliveries.map((d) => d.priority)).toEqual([undefined, undefined]);
  });

  it.each<[unknown, string]>([
    [256, 'gave 256'],
    [-1, 'gave -1'],
    [4.5, 'gave 4.5'],
    ['high', 'gave text that is not one'],
    [true, 'gave a boolean'],
  ])('fails the message (dead-letter reason) for a priority of %p', async (value, gave) => {
    const result = await deliver('p', { p: value });
    expect(result.outcome).toBe('error');
    if (result.outcome !== 'error') return;
    expect(result.error.code).toBe('EXPRESSION_FAILED');
    expect(result.error.message).toBe(
      `priority must give an integer from 0 to 255 (or nothing), ${gave}`,
    );
    expect(result.error.where).toBe('/destinations/0');
  });
});
