// The engine's own specs check it against the real protocol map (see eslint.config.mjs).
import { CONNECTORS } from '@junction/connectors';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateRoute } from '../compile';
import { RouteValidationError } from '../pipeline.error';
import { testResources } from '../testing';
import { parseRouteText } from './route-validator';

const resources = testResources({ protocols: CONNECTORS });
const base = () => ({
  id: 'orders-eu',
  source: { type: 'amqp', connection: 'rabbit', queue: 'orders.in' },
  pipeline: [] as unknown[],
  destinations: [{ type: 'kafka', connection: 'kafka', topic: 'orders.eu' }] as unknown[],
});

async function problemsOf(doc: unknown): Promise<string[]> {
  return (await validateRoute(doc, resources)).map((p) => `${p.pointer || '/'}: ${p.message}`);
}

describe('route document validation', () => {
  it('accepts the shipped example', async () => {
    const doc = parseRouteText(
      readFileSync(join(__dirname, '../../../../examples/orders-eu.route.yaml'), 'utf8'),
    );
    expect(await problemsOf(doc)).toEqual([]);
  });

  it('accepts a signed sync source whose amqp destination gives the reply', async () => {
    expect(
      await problemsOf({
        id: 'quote',
        source: {
          type: 'http',
          path: 'quote',
          mode: 'sync',
          auth: 'hmac',
          connection: 'partner',
          timeoutMs: 5000,
        },
        destinations: [
          { type: 'log' },
          { type: 'amqp', connection: 'rabbit', queue: 'quotes', reply: true },
        ],
      }),
    ).toEqual([]);
  });

  it('accepts the smallest route', async () => {
    expect(
      await problemsOf({
        id: 'x',
        source: { type: 'http', path: 'in' },
        destinations: [{ type: 'log' }],
      }),
    ).toEqual([]);
  });

  it.each<[string, (doc: ReturnType<typeof base>) => unknown, string[]]>([
    ['not an object', () => 'text', ['/: must be an object']],
    [
      'missing required top-level fields',
      () => ({}),
      ['/id: is required', '/source: is required', '/destinations: is required'],
    ],
    [
      'unknown top-level field',
      (d) => ({ ...d, retries: 3 }),
      ['/retries: is not a known field here'],
    ],
    ['bad id', (d) => ({ ...d, id: 'Orders EU' }), ['/id: must match ^[a-z0-9][a-z0-9-]{0,62}$']],
    [
      'unknown source type',
      (d) => ({ ...d, source: { type: 'sqs' } }),
      ['/source/type: must be one of amqp, amqp10, kafka, http, mqtt'],
    ],
    [
      'source missing a field for its type',
      (d) => ({ ...d, source: { type: 'amqp', connection: 'rabbit' } }),
      ['/source/queue: is required'],
    ],
    [
      'source field of another type',
      (d) => ({ ...d, source: { type: 'amqp', connection: 'r', queue: 'q', topic: 't' } }),
      ['/source/topic: is not a known field here'],
    ],
    [
      'wrong field type',
      (d) => ({ ...d, source: { type: 'amqp', connection: 'r', queue: 'q', prefetch: 'many' } }),
      ['/source/prefetch: must be an integer'],
    ],
    [
      'out of range',
      (d) => ({ ...d, source: { type: 'amqp', connection: 'r', queue: 'q', prefetch: 0 } }),
      ['/source/prefetch: must be >= 1'],
    ],
    [
      'a compression the destination does not have',
      (d) => ({
        ...d,
        destinations: [
          { type: 'kafka', connection: 'kafka', topic: 'orders.eu', compression: 'brotli' },
          { type: 'http', connection: 'erp', path: '/orders', compression: 'zstd' },
        ],
      }),
      [
        '/destinations/0/compression: must be one of none, gzip, snappy, lz4, zstd',
        '/destinations/1/compression: must be one of none, gzip',
      ],
    ],
    [
      'unknown stage kind',
      (d) => ({ ...d, pipeline: [{ tranform: 'x' }] }),
      [
        '/pipeline/0/tranform: is not a known stage kind; must be one of validate, filter, transform, mask',
      ],
    ],
    [
      'stage with two kinds',
      (d) => ({ ...d, pipeline: [{ filter: 'a', transform: 'b' }] }),
      ['/pipeline/0: must have exactly one key: the stage kind'],
    ],
    [
      'empty stage',
      (d) => ({ ...d, pipeline: [{}] }),
      ['/pipeline/0: must have exactly one key: the stage kind'],
    ],
    [
      'bad mask strategy',
      (d) => ({
        ...d,
        pipeline: [{ filter: 'a' }, { filter: 'b' }, { mask: [{ path: 'a', with: 'scramble' }] }],
      }),
      ['/pipeline/2/mask/0/with: must be one of redact, remove, pan, last4, hash, email'],
    ],
    [
      'bad mask path',
      (d) => ({ ...d, pipeline: [{ mask: [{ path: 'items[0].note', with: 'redact' }] }] }),
      [
        "/pipeline/0/mask/0/path: 'items[0]' is not a field name (letters, digits, _ $ -) optionally followed by [*]",
      ],
    ],
    [
      'empty mask list',
      (d) => ({ ...d, pipeline: [{ mask: [] }] }),
      ['/pipeline/0/mask: must NOT have fewer than 1 items'],
    ],
    [
      'validate without schema',
      (d) => ({ ...d, pipeline: [{ validate: {} }] }),
      ['/pipeline/0/validate/schema: is required'],
    ],
    [
      'validate with an invalid schema',
      (d) => ({ ...d, pipeline: [{ validate: { schema: { type: 'thing' } } }] }),
      [
        '/pipeline/0/validate/schema: is not a valid JSON Schema: schema is invalid: data/type must be equal to one of the allowed values, data/type must be array, data/type must match a schema in anyOf',
      ],
    ],
    [
      'filter that is not a string',
      (d) => ({ ...d, pipeline: [{ filter: true }] }),
      ['/pipeline/0/filter: must be a string'],
    ],
    [
      'JSONata syntax error, with its position',
      (d) => ({ ...d, pipeline: [{ transform: '{ "a": b ' }] }),
      [
        '/pipeline/0/transform: JSONata syntax error at position 9: Expected "}" before end of expression (S0203)',
      ],
    ],
    [
      'catastrophic regex',
      (d) => ({ ...d, pipeline: [{ filter: '$contains(name, /(a+)+$/)' }] }),
      [
        '/pipeline/0/filter: regular expression /(a+)+$/ can take exponential time on some inputs (ReDoS); rewrite it without nested or overlapping repetition',
      ],
    ],
    [
      'no destinations',
      (d) => ({ ...d, destinations: [] }),
      ['/destinations: must NOT have fewer than 1 items'],
    ],
    [
      'destination missing fields',
      (d) => ({ ...d, destinations: [{ type: 'kafka' }] }),
      ['/destinations/0/connection: is required', '/destinations/0/topic: is required'],
    ],
    [
      'amqp destination with exchange and queue',
      (d) => ({
        ...d,
        destinations: [{ type: 'amqp', connection: 'r', exchange: 'x', queue: 'q' }],
      }),
      ['/destinations/0: an amqp destination needs exactly one of exchange or queue'],
    ],
    [
      'routingKey without exchange',
      (d) => ({
        ...d,
        destinations: [{ type: 'amqp', connection: 'r', queue: 'q', routingKey: '"k"' }],
      }),
      ['/destinations/0/routingKey: applies only with exchange'],
    ],
    [
      'bad when expression',
      (d) => ({ ...d, destinations: [{ type: 'log', when: 'a ==' }] }),
      [
        '/destinations/0/when: JSONata syntax error at position 4: The symbol "=" cannot be used as a unary operator (S0211)',
      ],
    ],
    [
      'bad key expression',
      (d) => ({
        ...d,
        destinations: [{ type: 'kafka', connection: 'k', topic: 't', key: 'orderId &' }],
      }),
      [
        '/destinations/0/key: JSONata syntax error at position 9: Unexpected end of expression (S0207)',
      ],
    ],
    [
      'http method',
      (d) => ({
        ...d,
        destinations: [{ type: 'http', connection: 'erp', path: '/o', method: 'GET' }],
      }),
      ['/destinations/0/method: must be one of POST, PUT, PATCH'],
    ],
    [
      'dead letter with when',
      (d) => ({ ...d, errors: { deadLetter: { type: 'log', when: 'x' } } }),
      ['/errors/deadLetter/when: is not a known field here'],
    ],
    [
      'retry backoff inverted',
      (d) => ({ ...d, errors: { retry: { backoffMs: 500, maxBackoffMs: 100 } } }),
      ['/errors/retry/maxBackoffMs: must be at least backoffMs'],
    ],
    [
      'hmac source without its connection',
      (d) => ({ ...d, source: { type: 'http', path: 'in', auth: 'hmac' } }),
      [
        '/source/connection: is required with auth: hmac (an http connection whose secret hmacKey signs)',
      ],
    ],
    [
      'source connection without hmac',
      (d) => ({
        ...d,
        source: { type: 'http', path: 'in', auth: 'apiKey', connection: 'partner' },
      }),
      ['/source/connection: applies only with auth: hmac'],
    ],
    [
      'sync timeout on an async source',
      (d) => ({ ...d, source: { type: 'http', path: 'in', timeoutMs: 5000 } }),
      ['/source/timeoutMs: applies only with mode: sync'],
    ],
    [
      'sync timeout out of range',
      (d) => ({ ...d, source: { type: 'http', path: 'in', mode: 'sync', timeoutMs: 10 } }),
      ['/source/timeoutMs: must be >= 100'],
    ],
    [
      'reply awaited by an amqp source',
      (d) => ({
        ...d,
        destinations: [{ type: 'amqp', connection: 'rabbit', queue: 'rpc', reply: true }],
      }),
      ['/destinations/0/reply: a reply is awaited only for an http source with mode: sync'],
    ],
    [
      'two replies',
      (d) => ({
        ...d,
        source: { type: 'http', path: 'in', mode: 'sync' },
        destinations: [
          { type: 'amqp', connection: 'rabbit', queue: 'rpc', reply: true },
          { type: 'http', connection: 'erp', path: '/o', reply: true },
        ],
      }),
      ['/destinations/1/reply: only one destination can give the reply (destinations/0 does)'],
    ],
    [
      'reply from kafka or a dead-letter destination',
      (d) => ({
        ...d,
        source: { type: 'http', path: 'in', mode: 'sync' },
        destinations: [{ type: 'kafka', connection: 'k', topic: 't', reply: true }],
        errors: { deadLetter: { type: 'amqp', connection: 'rabbit', queue: 'dlq', reply: true } },
      }),
      [
        '/destinations/0/reply: is not a known field here',
        '/errors/deadLetter/reply: is not a known field here',
      ],
    ],
    [
      'audit option',
      (d) => ({ ...d, audit: { payload: 'raw' } }),
      ['/audit/payload: must be one of masked, none'],
    ],
  ])('%s', async (_name, mutate, expected) => {
    expect(await problemsOf(mutate(base()))).toEqual(expected);
  });

  it('reports every problem at once, shape and compile problems together', async () => {
    const doc = parseRouteText(
      readFileSync(join(__dirname, '../../../../examples/broken.route.yaml'), 'utf8'),
    );
    expect(await problemsOf(doc)).toEqual([
      '/id: must match ^[a-z0-9][a-z0-9-]{0,62}$',
      '/source/queue: is required',
      '/pipeline/0/filter: JSONata syntax error at position 7: Unexpected end of expression (S0207)',
      '/pipeline/1/mask/0/with: must be one of redact, remove, pan, last4, hash, email',
      '/pipeline/2/transfrom: is not a known stage kind; must be one of validate, filter, transform, mask',
      '/destinations/0: an amqp destination needs exactly one of exchange or queue',
    ]);
  });

  it.each([
    ['YAML syntax', 'id: [unclosed', /cannot parse/],
    ['duplicate keys', 'id: a\nid: b', /cannot parse: Map keys must be unique/],
    ['JSON syntax', '{"id": "a",', /cannot parse/],
  ])('rejects unparseable text: %s', (_name, text, message) => {
    expect(() => parseRouteText(text)).toThrow(RouteValidationError);
    expect(() => parseRouteText(text)).toThrow(message);
  });

  it('parses JSON as well as YAML', async () => {
    expect(parseRouteText('{"id": "a", "destinations": []}')).toEqual({
      id: 'a',
      destinations: [],
    });
  });
});

describe('route document validation: card numbers', () => {
  it.each([
    ['an id', { id: '4111111111111111' }, ['/id: must not hold a card number']],
    [
      'a description',
      { description: 'test card 4111\n1111\n1111\n1111' },
      ['/description: must not hold a card number'],
    ],
  ])('refuses %s holding a card number, without quoting it', async (_name, extra, expected) => {
    const problems = await problemsOf({ ...base(), ...extra });
    expect(problems).toEqual(expected);
    expect(JSON.stringify(problems)).not.toMatch(/4111/);
  });

  it('accepts ids and descriptions with ordinary numbers', async () => {
    expect(
      await problemsOf({
        ...base(),
        id: 'orders-2026',
        description: 'since 2026-01-15, 12 queues',
      }),
    ).toEqual([]);
  });
});
