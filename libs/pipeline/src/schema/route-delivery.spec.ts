// The engine's own specs check it against the real protocol map (see eslint.config.mjs).
import { CONNECTORS } from '@junction/connectors';
import { compileRoute, validateRoute } from '../compile';
import { RouteValidationError } from '../pipeline.error';
import { testResources } from '../testing';

const resources = testResources({ protocols: CONNECTORS });
const NEEDS =
  '/delivery: exactly-once needs a kafka source and only kafka destinations on the same connection';

/** Kafka to Kafka on one connection, exactly once: the one combination that is accepted. */
const kafkaToKafka = () => ({
  id: 'payments',
  delivery: 'exactly-once',
  source: { type: 'kafka', connection: 'kafka', topic: 'payments.in' },
  destinations: [
    { type: 'kafka', connection: 'kafka', topic: 'payments.out', key: 'id' },
    { type: 'kafka', connection: 'kafka', topic: 'payments.big', when: 'amount > 1000' },
  ] as unknown[],
  errors: {
    deadLetter: { type: 'kafka', connection: 'kafka', topic: 'payments.dlq' } as unknown,
  },
});

async function problemsOf(doc: unknown): Promise<string[]> {
  return (await validateRoute(doc, resources)).map((p) => `${p.pointer || '/'}: ${p.message}`);
}

describe('route delivery: exactly-once', () => {
  it('is accepted from kafka to kafka on one connection, dead letters included', async () => {
    expect(await problemsOf(kafkaToKafka())).toEqual([]);
    await expect(compileRoute(kafkaToKafka(), resources)).resolves.toBeDefined();
  });

  it('is optional, and at-least-once is accepted anywhere', async () => {
    const { delivery: _omitted, ...rest } = kafkaToKafka();
    expect(await problemsOf(rest)).toEqual([]);
    expect(
      await problemsOf({
        id: 'web',
        delivery: 'at-least-once',
        source: { type: 'http', path: 'in' },
        destinations: [{ type: 'log' }],
      }),
    ).toEqual([]);
  });

  it.each<[string, (doc: ReturnType<typeof kafkaToKafka>) => unknown, string[]]>([
    [
      'an unknown mode',
      (d) => ({ ...d, delivery: 'at-most-once' }),
      ['/delivery: must be one of at-least-once, exactly-once'],
    ],
    [
      'a source of another kind',
      (d) => ({ ...d, source: { type: 'amqp', connection: 'rabbit', queue: 'payments.in' } }),
      [`${NEEDS}; /source is amqp`],
    ],
    [
      'an http source (its caller is outside any transaction)',
      (d) => ({ ...d, source: { type: 'http', path: 'payments' } }),
      [`${NEEDS}; /source is http`],
    ],
    [
      'a destination of another kind',
      (d) => ({
        ...d,
        destinations: [...d.destinations, { type: 'amqp', connection: 'rabbit', queue: 'q' }],
      }),
      [`${NEEDS}; /destinations/2 is amqp`],
    ],
    [
      'the log destination',
      (d) => ({ ...d, destinations: [{ type: 'log' }, ...d.destinations] }),
      [`${NEEDS}; /destinations/0 is log`],
    ],
    [
      'a destination on another connection (another cluster, maybe)',
      (d) => ({
        ...d,
        destinations: [d.destinations[0], { type: 'kafka', connection: 'other', topic: 'x' }],
      }),
      [`${NEEDS}; /destinations/1 is on connection other, the source on kafka`],
    ],
    [
      'a dead-letter destination of another kind',
      (d) => ({
        ...d,
        errors: { deadLetter: { type: 'amqp', connection: 'rabbit', queue: 'payments.dlq' } },
      }),
      [`${NEEDS}; /errors/deadLetter is amqp`],
    ],
    [
      'every side that does not fit, each named',
      (d) => ({
        ...d,
        destinations: [{ type: 'mqtt', connection: 'm', topic: 't' }, d.destinations[0]],
        errors: { deadLetter: { type: 'kafka', connection: 'k2', topic: 'dlq' } },
      }),
      [
        `${NEEDS}; /destinations/0 is mqtt`,
        `${NEEDS}; /errors/deadLetter is on connection k2, the source on kafka`,
      ],
    ],
  ])('refuses %s', async (_name, change, expected) => {
    expect(await problemsOf(change(kafkaToKafka()))).toEqual(expected);
  });

  it('refuses at compile time too, with the same pointer', async () => {
    const doc = { ...kafkaToKafka(), destinations: [{ type: 'log' }] };
    const err = await compileRoute(doc, resources).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouteValidationError);
    expect((err as RouteValidationError).problems).toEqual([
      { pointer: '/delivery', message: expect.stringContaining('/destinations/0 is log') },
    ]);
  });
});
