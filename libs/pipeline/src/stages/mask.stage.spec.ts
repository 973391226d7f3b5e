// The engine's own specs check it against the real protocol map (see eslint.config.mjs).
import { CONNECTORS } from '@junction/connectors';
import { createHmac } from 'node:crypto';
import { compileRoute } from '../compile';
import { PipelineError } from '../pipeline.error';
import { envelopeOf, testResources } from '../testing';

const resources = testResources({ protocols: CONNECTORS });

async function mask(rules: Array<{ path: string; with: string }>, body: unknown) {
  const route = await compileRoute(
    {
      id: 'm',
      source: { type: 'http', path: 'm' },
      pipeline: [{ mask: rules }],
      destinations: [{ type: 'log' }],
    },
    resources,
  );
  const result = await route.run(envelopeOf(body));
  if (result.outcome === 'error') throw result.error;
  if (result.outcome !== 'deliver') throw new Error(`unexpected ${result.outcome}`);
  return result.deliveries[0].envelope.body;
}

const hmac = (text: string) => createHmac('sha256', resources.hmacKey).update(text).digest('hex');

describe('mask stage', () => {
  it.each([
    ['redact', { a: 'secret' }, { a: '[REDACTED]' }],
    ['redact', { a: 42 }, { a: '[REDACTED]' }],
    ['redact', { a: { nested: true } }, { a: '[REDACTED]' }],
    ['remove', { a: 'secret', b: 1 }, { b: 1 }],
    ['pan', { a: '4111111111111111' }, { a: '411111******1111' }],
    ['pan', { a: '4111 1111 1111 1111' }, { a: '411111******1111' }],
    ['pan', { a: '5500-0000-0000-0004' }, { a: '550000******0004' }],
    ['pan', { a: 4111111111111111 }, { a: '411111******1111' }],
    ['pan', { a: '4000000000000000006' }, { a: '400000*********0006' }],
    ['last4', { a: '4111111111111111' }, { a: '************1111' }],
    ['last4', { a: 'abc' }, { a: '***' }],
    ['last4', { a: 123456 }, { a: '**3456' }],
    ['hash', { a: 'jane@example.com' }, { a: hmac('jane@example.com') }],
    ['hash', { a: 42 }, { a: hmac('42') }],
    ['email', { a: 'jane.doe@example.com' }, { a: 'j***@example.com' }],
    ['email', { a: 'x@y.org' }, { a: 'x***@y.org' }],
  ])('%s: %j -> %j', async (strategy, input, expected) => {
    expect(await mask([{ path: 'a', with: strategy }], input)).toEqual(expected);
  });

  it.each([
    [
      'card.pan',
      { card: { pan: '4111111111111111', exp: '12/30' } },
      { card: { pan: '[REDACTED]', exp: '12/30' } },
    ],
    [
      'items[*].note',
      { items: [{ note: 'a' }, { note: 'b' }, {}] },
      { items: [{ note: '[REDACTED]' }, { note: '[REDACTED]' }, {}] },
    ],
    ['tags[*]', { tags: ['x', 'y'] }, { tags: ['[REDACTED]', '[REDACTED]'] }],
    [
      'grid[*][*]',
      { grid: [['a'], ['b', 'c']] },
      { grid: [['[REDACTED]'], ['[REDACTED]', '[REDACTED]']] },
    ],
    [
      'orders[*].lines[*].card',
      { orders: [{ lines: [{ card: '1' }] }, { lines: [] }] },
      { orders: [{ lines: [{ card: '[REDACTED]' }] }, { lines: [] }] },
    ],
  ])('path %s', async (path, input, expected) => {
    expect(await mask([{ path, with: 'redact' }], input)).toEqual(expected);
  });

  it.each([
    ['absent field', 'a.b', { x: 1 }],
    ['null field', 'a', { a: null }],
    ['absent array', 'items[*].note', {}],
  ])('leaves an %s alone (nothing to leak)', async (_name, path, input) => {
    expect(await mask([{ path, with: 'pan' }], input)).toEqual(input);
  });

  it('removes every element for remove on [*]', async () => {
    expect(await mask([{ path: 'tags[*]', with: 'remove' }], { tags: [1, 2] })).toEqual({
      tags: [],
    });
  });

  it('never mutates the input body', async () => {
    const body = { card: { pan: '4111111111111111' }, items: [{ note: 'n' }], keep: { x: 1 } };
    const copy = structuredClone(body);
    const out = (await mask(
      [
        { path: 'card.pan', with: 'pan' },
        { path: 'items[*].note', with: 'remove' },
      ],
      body,
    )) as typeof body;
    expect(body).toEqual(copy);
    expect(out.keep).toBe(body.keep); // untouched branches are shared, not copied
  });

  describe('fails closed', () => {
    it.each([
      [
        'pan on an object',
        [{ path: 'a', with: 'pan' }],
        { a: { n: 1 } },
        /'pan' applies to a string or number, found an object/,
      ],
      ['pan on too few digits', [{ path: 'a', with: 'pan' }], { a: '1234' }, /12 to 19 digits/],
      [
        'pan on letters',
        [{ path: 'a', with: 'pan' }],
        { a: 'not a card number' },
        /12 to 19 digits/,
      ],
      ['email without @', [{ path: 'a', with: 'email' }], { a: 'jane' }, /e-mail address/],
      ['email on a number', [{ path: 'a', with: 'email' }], { a: 5 }, /string or number|e-mail/],
      ['last4 on an array', [{ path: 'a', with: 'last4' }], { a: [1] }, /found an array/],
      [
        'path through a string',
        [{ path: 'card.pan', with: 'pan' }],
        { card: '4111111111111111' },
        /expected an object at 'card', found a string/,
      ],
      [
        '[*] on an object',
        [{ path: 'items[*].note', with: 'redact' }],
        { items: { note: 'x' } },
        /expected an array at 'items', found an object/,
      ],
      [
        'body is not an object',
        [{ path: 'a', with: 'redact' }],
        'a string body',
        /expected an object/,
      ],
    ])('%s', async (_name, rules, input, message) => {
      const error = await mask(rules, input).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PipelineError);
      expect((error as PipelineError).code).toBe('MASK_FAILED');
      expect((error as PipelineError).message).toMatch(message);
      expect((error as PipelineError).where).toBe('/pipeline/0 (mask)');
    });
  });
});
