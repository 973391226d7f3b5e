import { rootCertificates } from 'node:tls';
import { ConnectorError } from '../connector';
import { EgressPolicy } from '../egress/egress-policy';
import { consoleLogger } from '../logger';
import { AmqpClient, amqpConnectArgs } from './amqp-client';
import { stringifyHeaders } from './amqp.source';

describe('amqpConnectArgs', () => {
  it('takes the user from the URL or config and the password from the secrets', () => {
    const { url, safeUrl } = amqpConnectArgs({
      name: 'rabbit',
      config: { url: 'amqp://junction@rabbit.internal', vhost: '/' },
      secrets: { password: 's3cr:t@' },
    });
    expect(url).toMatchObject({
      protocol: 'amqp',
      hostname: 'rabbit.internal',
      port: 5672,
      username: 'junction',
      password: 's3cr:t@',
      vhost: '/',
      heartbeat: 10,
    });
    expect(safeUrl).toBe('amqp://junction@rabbit.internal/%2F');
    expect(safeUrl).not.toContain('s3cr');
  });

  it('prefers config.username and config.vhost, and defaults amqps to port 5671', () => {
    const { url } = amqpConnectArgs({
      name: 'rabbit',
      config: {
        url: 'amqps://other@rabbit.internal/ignored',
        username: 'svc',
        vhost: 'shop%eu',
        heartbeatSeconds: 30,
      },
      secrets: {},
    });
    expect(url).toMatchObject({
      protocol: 'amqps',
      port: 5671,
      username: 'svc',
      vhost: 'shop%25eu',
      heartbeat: 30,
    });
  });

  it('reads the vhost from the URL path when config has none, and falls back to guest', () => {
    const { url } = amqpConnectArgs({
      name: 'rabbit',
      config: { url: 'amqp://127.0.0.1:5673/orders' },
      secrets: {},
    });
    expect(url).toMatchObject({
      port: 5673,
      vhost: 'orders',
      username: 'guest',
      password: 'guest',
    });
  });

  it('takes a private CA and a client certificate for amqps, the key from secrets.tlsKey', () => {
    const ca = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';
    const cert = '-----BEGIN CERTIFICATE-----\nme\n-----END CERTIFICATE-----\n';
    const key = '-----BEGIN EC PRIVATE KEY-----\nk\n-----END EC PRIVATE KEY-----\n';
    const { tls } = amqpConnectArgs({
      name: 'rabbit',
      config: { url: 'amqps://svc@rabbit.internal', tls: { ca, cert } },
      secrets: { password: 'pw', tlsKey: key },
    });
    // The private CA adds to Node's roots (Node's `ca` alone would replace them).
    expect(tls).toEqual({ ca: [...rootCertificates, ca], cert, key });
    expect(() =>
      amqpConnectArgs({ name: 'rabbit', config: { url: 'amqp://r', tls: { ca } }, secrets: {} }),
    ).toThrow('config.tls applies only to an amqps:// URL');
  });

  it.each([{ url: 'http://rabbit' }, { url: 'not a url' }, {}])('refuses config %j', (config) => {
    expect(() => amqpConnectArgs({ name: 'rabbit', config, secrets: {} })).toThrow(ConnectorError);
  });
});

describe('AmqpClient egress', () => {
  it.each([
    ['amqp://svc@169.254.169.254', undefined],
    ['amqp://svc@0251.0376.0251.0376:5672', undefined],
    ['amqps://svc@[fe80::1]', undefined],
    ['amqp://svc@127.0.0.2:5672', new EgressPolicy(['127.0.0.1:5672'], { strict: true })],
    ['amqp://svc@127.0.0.1:5673', new EgressPolicy(['127.0.0.1:5672'], { strict: true })],
  ])('refuses %s before any socket (NOT_ALLOWED, final)', (url, egress) => {
    expect(
      () =>
        new AmqpClient(
          { name: 'r', config: { url }, secrets: { password: 'p' } },
          { egress },
          consoleLogger,
        ),
    ).toThrow(expect.objectContaining({ code: 'NOT_ALLOWED', retryable: false }));
  });
});

describe('stringifyHeaders', () => {
  it('turns every AMQP header value into a string', () => {
    expect(
      stringifyHeaders({
        s: 'text',
        n: 42,
        f: 1.5,
        b: false,
        bytes: Buffer.from('héllo'),
        big: 12345678901234567890n,
        date: new Date('2024-01-02T03:04:05.000Z'),
        list: [1, 'two', Buffer.from('3')],
        table: { count: 1, reason: 'rejected' },
        nothing: null,
        missing: undefined,
        nan: NaN,
        infinite: -Infinity,
      }),
    ).toEqual({
      s: 'text',
      n: '42',
      f: '1.5',
      b: 'false',
      bytes: 'héllo',
      big: '12345678901234567890',
      date: '2024-01-02T03:04:05.000Z',
      list: '[1,"two","3"]',
      table: '{"count":1,"reason":"rejected"}',
      nan: 'NaN',
      infinite: '-Infinity',
    });
    expect(stringifyHeaders(undefined)).toEqual({});
  });

  it('refuses, with a reason, a value nested deeper than a body may be', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 64; i++) deep = { a: deep };
    expect(stringifyHeaders({ deep })).toEqual({ deep: expect.stringMatching(/^\{"a":/) });
    // 100,000 levels (a table a sender fits in one frame is up to 18,000) overflowed the stack.
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => stringifyHeaders({ deep })).toThrow(
      'a header value is nested deeper than 64 levels',
    );
  });
});
