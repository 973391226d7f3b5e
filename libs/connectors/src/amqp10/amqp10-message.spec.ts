import { message as rheaMessage, types } from 'rhea';
import type { ConnectorConnection } from '../connector';
import { amqp10ConnectOptions, amqp10Target } from './amqp10-client';
import { fromAmqp10Message, toAmqp10Message, type ReceivedAmqp10Message } from './amqp10-message';
import { AMQP10_SOURCE, describeAmqp10Source, subscriptionName } from './amqp10.protocol';

/** Through the wire format and back, as a receiver gets it. */
function roundTrip(fields: object): ReceivedAmqp10Message {
  return rheaMessage.decode(rheaMessage.encode(fields)) as ReceivedAmqp10Message;
}

describe('amqp10 messages', () => {
  const outbound = {
    id: 'm-1',
    headers: { 'x-seq': '1' },
    body: Buffer.from([0x7b, 0x00, 0xff]),
  };

  it('sends the bytes as one data section, durable, with id and headers (route headers win over static ones)', () => {
    const message = toAmqp10Message(outbound, { headers: { 'x-seq': 'static', 'x-from': 'spec' } });
    expect(message).toMatchObject({
      message_id: 'm-1',
      content_type: 'application/json',
      durable: true,
      application_properties: { 'x-seq': '1', 'x-from': 'spec' },
    });
    const decoded = fromAmqp10Message(roundTrip(message));
    expect(decoded.payload.equals(outbound.body)).toBe(true);
    expect(toAmqp10Message(outbound, { durable: false }).durable).toBe(false);
  });

  it('reads every body kind as bytes and every id kind as text', () => {
    const read = (fields: Record<string, unknown>) => fromAmqp10Message(roundTrip(fields));
    expect(read({ body: 'grüße' }).payload.toString()).toBe('grüße');
    expect(read({ body: { a: 1, b: [true] } }).payload.toString()).toBe('{"a":1,"b":[true]}');
    expect(
      read({
        body: rheaMessage.data_sections([Buffer.from('ab'), Buffer.from('cd')]),
      }).payload.toString(),
    ).toBe('abcd');
    expect(read({ body: rheaMessage.sequence_section([1, 'x']) }).payload.toString()).toBe(
      '[1,"x"]',
    );
    expect(read({}).payload.length).toBe(0);
    expect(read({ message_id: 7 }).id).toBe('7');
    expect(read({ body: 'x' }).id).toBeUndefined();
    expect(read({ delivery_count: 2 }).redelivered).toBe(true);
    expect(read({ application_properties: { n: 1, ok: false } }).headers).toEqual({
      n: '1',
      ok: 'false',
    });
  });

  it('reads a typed body it cannot carry as JSON exactly as unreadable, not changed', () => {
    const bytes = (hex: string) => Buffer.from(hex, 'hex');
    // rhea's typings leave the decimal types out.
    const decimal128 = (types as unknown as { Decimal128(bytes: Buffer): unknown }).Decimal128;
    const read = (value: unknown) =>
      fromAmqp10Message(roundTrip({ body: types.wrap_map({ value }) }));
    // Each went on changed: the long and the decimal as garbage text, the double as null.
    for (const [value, why] of [
      [types.wrap_long(bytes('112210f47de98115')), /bytes that are not text/], // 1234567890123456789
      [types.wrap_ulong(bytes('ffffffffffffffff')), /bytes that are not text/],
      [decimal128(bytes('3040000000000000000000000000079f')), /bytes that are not text/],
      [decimal128(bytes('30400000000000000000000000000064')), /bytes that are not text/],
      [types.wrap_uuid(bytes('0123456789abcdef0123456789abcdef')), /bytes that are not text/],
      [types.wrap_binary(bytes('ff00fe')), /bytes that are not text/],
      [types.wrap_ulong(bytes('0020000000000001')), /64-bit integer beyond 2\^53/], // rounded to ...992
      [types.wrap_double(Infinity), /Infinity, which JSON cannot carry/],
      [types.wrap_double(NaN), /NaN, which JSON cannot carry/],
    ] as const) {
      const decoded = read(value);
      expect(decoded.unreadable).toMatch(why);
      expect(decoded.payload.length).toBe(0);
    }
    // What JSON carries goes on as before.
    expect(read(types.wrap_binary(Buffer.from('grüße\n'))).payload.toString()).toBe(
      '{"value":"grüße\\n"}',
    );
    expect(read(types.wrap_long(bytes('001fffffffffffff'))).payload.toString()).toBe(
      '{"value":9007199254740991}',
    );
    expect(read(types.wrap_double(19.99)).payload.toString()).toBe('{"value":19.99}');
  });

  it('reads every message-id type as its own stable text, never [object Object]', () => {
    const bytes = (hex: string) => Buffer.from(hex, 'hex');
    const idOf = (message_id: unknown) => fromAmqp10Message(roundTrip({ message_id })).id;
    const map = { order: 'o-1', seq: 2 };
    const cases: Array<[string, unknown, string]> = [
      ['string', 'm-1', 'm-1'],
      ['ulong', types.wrap_ulong(42), '42'],
      ['ulong past 2^53', types.wrap_ulong(bytes('112210f47de98115')), '1234567890123456789'],
      ['largest ulong', types.wrap_ulong(bytes('ffffffffffffffff')), '18446744073709551615'],
      [
        'uuid',
        types.wrap_uuid(bytes('0123456789abcdef0123456789abcdef')),
        '01234567-89ab-cdef-0123-456789abcdef',
      ],
      ['binary', types.wrap_binary(bytes('ff00fe')), 'ff00fe'],
      ['map', types.wrap_map(map), '{"order":"o-1","seq":2}'],
      ['other map', types.wrap_map({ order: 'o-2', seq: 2 }), '{"order":"o-2","seq":2}'],
      ['list', types.wrap_list([1, 'x', bytes('00ff')]), '[1,"x","00ff"]'],
      ['list of a list', types.wrap_list([[1, 'x']]), '[[1,"x"]]'],
      ['timestamp', types.wrap_timestamp(Date.UTC(2026, 0, 2)), '2026-01-02T00:00:00.000Z'],
    ];
    const seen = cases.map(([what, id, text]) => [what, idOf(id), text]);
    expect(seen).toEqual(cases.map(([what, , text]) => [what, text, text]));
    // The same id on every delivery; a huge one as a digest of its whole text.
    expect(idOf(types.wrap_map(map))).toBe(idOf(types.wrap_map({ ...map })));
    const big = (last: string) => types.wrap_list([...Array<string>(300).fill('abcd'), last]);
    expect(idOf(big('a'))).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(idOf(big('a'))).toBe(idOf(big('a')));
    expect(idOf(big('a'))).not.toBe(idOf(big('b')));
    expect(idOf(types.wrap_binary(Buffer.alloc(4096, 1)))).toMatch(/^sha256:[0-9a-f]{64}$/);
    // One nested too deep has no text: the message is unreadable, its id made up by the runtime.
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(fromAmqp10Message({ message_id: deep, body: 'x' })).toMatchObject({
      unreadable: 'it cannot be read: the message-id is nested deeper than 64 levels',
    });
    expect(fromAmqp10Message({ message_id: deep, body: 'x' }).id).toBeUndefined();
  });

  it('reads a message nested too deep as unreadable, without throwing', () => {
    // Read recursively, a map nested 100,000 levels overflowed the stack: the source never
    // settled the message nor gave its credit back (a few such messages and the link took no more).
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(fromAmqp10Message({ message_id: 'm-1', delivery_count: 1, body: deep })).toEqual({
      id: 'm-1',
      headers: {},
      payload: Buffer.alloc(0),
      redelivered: true,
      unreadable: 'it cannot be read: the body is nested deeper than 64 levels',
    });
    expect(
      fromAmqp10Message({ application_properties: { ok: 1, deep }, body: 'x' }).unreadable,
    ).toBe('it cannot be read: a header value is nested deeper than 64 levels');
    expect(fromAmqp10Message({ application_properties: { ok: 1 }, body: 'x' }).unreadable).toBe(
      undefined,
    );
  });

  it('reads a body holding NaN or an infinity as unreadable: JSON would send it on as null', () => {
    for (const bad of [NaN, Infinity, -Infinity])
      expect(fromAmqp10Message({ body: { amount: bad, id: 'o-1' } }).unreadable).toBe(
        `it cannot be read: the body holds ${String(bad)}, which JSON cannot carry`,
      );
    expect(
      fromAmqp10Message({
        body: rheaMessage.sequence_section([1.5, -0, 1e308]),
      }).payload.toString(),
    ).toBe('[1.5,0,1e+308]');
  });
});

describe('amqp10 connections', () => {
  const connection = (
    config: Record<string, unknown>,
    secrets: Record<string, string> = {},
  ): ConnectorConnection => ({
    name: 'artemis',
    config,
    secrets,
  });

  it('connects with SASL PLAIN from the user name and the password secret, never naming the password', () => {
    const { options, target } = amqp10ConnectOptions(
      connection(
        { url: 'amqp://broker.example:25673', username: 'junction' },
        { password: 's3cret' },
      ),
    );
    expect(options).toMatchObject({
      host: 'broker.example',
      port: 25673,
      transport: 'tcp',
      username: 'junction',
      password: 's3cret',
      container_id: 'junction:artemis',
      idle_time_out: 30_000,
      reconnect: false,
    });
    expect(target.safeUrl).toBe('amqp://junction@broker.example:25673');
  });

  it('uses TLS for amqps:// with the default port, SNI by name only, and refuses TLS settings on amqp://', () => {
    expect(
      amqp10ConnectOptions(connection({ url: 'amqps://broker.example' })).options,
    ).toMatchObject({
      transport: 'tls',
      port: 5671,
      servername: 'broker.example',
    });
    expect(
      amqp10ConnectOptions(connection({ url: 'amqps://127.0.0.1:25674' })).options,
    ).toMatchObject({
      servername: '',
    });
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    expect(() => amqp10ConnectOptions(connection({ url: 'amqp://h', tls: { ca } }))).toThrow(
      /applies only to an amqps/,
    );
    expect(() => amqp10Target(connection({ url: 'http://h' }))).toThrow(/amqp:\/\/ or amqps:\/\//);
    expect(() => amqp10Target(connection({ url: 'not a url' }))).toThrow(/not a URL/);
  });

  it('takes no user name as SASL ANONYMOUS, and a container id and virtual host from config', () => {
    const { options } = amqp10ConnectOptions(
      connection({
        url: 'amqp://h',
        containerId: 'gw-1',
        virtualHost: 'tenant-a',
        idleTimeoutSeconds: 0,
      }),
    );
    expect(options).not.toHaveProperty('username');
    expect(options).toMatchObject({ container_id: 'gw-1', hostname: 'tenant-a', idle_time_out: 0 });
  });
});

describe('amqp10 route specs', () => {
  it('reads a topic through the named subscription, or one per route', () => {
    const spec = {
      type: 'amqp10' as const,
      connection: 'artemis',
      address: 'prices',
      capability: 'topic' as const,
    };
    expect(subscriptionName(spec, 'r1')).toBe('junction.r1');
    expect(subscriptionName({ ...spec, subscription: 'shared' }, 'r1')).toBe('shared');
    expect(describeAmqp10Source({ ...spec, subscription: 'shared' })).toBe(
      'amqp10 artemis topic prices subscription shared',
    );
  });

  it('refuses a subscription on a queue source', () => {
    const problems: string[] = [];
    AMQP10_SOURCE.check({ address: 'q', subscription: 's' }, (pointer, message) =>
      problems.push(`${pointer} ${message}`),
    );
    expect(problems).toEqual(['/subscription applies only with capability topic']);
  });
});
