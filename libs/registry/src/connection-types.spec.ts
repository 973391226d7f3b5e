import { rootCertificates } from 'node:tls';
import {
  CONNECTION_TARGET_FIELDS,
  changedTargetFields,
  connectionConfigProblems,
  connectionTargets,
  secretKeyProblem,
  secretValueProblem,
} from './connection-types';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('connection config', () => {
  it.each([
    ['amqp', { url: 'amqps://svc@rabbit.internal', vhost: '/', tls: { ca: CA, cert: CA } }],
    ['kafka', { brokers: ['k:9093'], ssl: true }],
    ['kafka', { brokers: ['k:9093'], ssl: { ca: CA } }],
    ['http', { baseUrl: 'https://erp.internal', timeoutMs: 5000, tls: { ca: CA } }],
  ] as const)('accepts %s %j', (type, config) => {
    expect(connectionConfigProblems(type, config)).toEqual([]);
  });

  it.each([
    ['amqp', { url: 'amqps://r', tls: { ca: 'not a certificate' } }, '/config/tls/ca'],
    ['amqp', { url: 'amqps://r', tls: { key: CA } }, '/config/tls/key'],
    ['kafka', { brokers: ['k:9093'], ssl: 'yes' }, '/config/ssl'],
    ['http', { baseUrl: 'https://erp', tls: { cert: 42 } }, '/config/tls/cert'],
  ] as const)('refuses %s %j, pointing at %s', (type, config, pointer) => {
    expect(connectionConfigProblems(type, config).map((p) => p.pointer)).toContain(pointer);
  });
});

describe('card numbers in config', () => {
  // Config is stored and shown back as written (GET /connections, the console), as a route is.
  it.each([
    ['amqp', { url: 'amqp://rabbit.internal', vhost: 'shop 4111 1111 1111 1111' }, '/config/vhost'],
    ['amqp', { url: 'amqp://rabbit.internal/5555555555554444' }, '/config/url'],
    ['kafka', { brokers: ['k:9093'], clientId: 'c-4111-1111-1111-1111' }, '/config/clientId'],
    ['http', { baseUrl: 'https://erp.internal/4111111111111111' }, '/config/baseUrl'],
    [
      'http',
      { baseUrl: 'https://erp.internal', headers: { 'x-tenant': '\u0034111111111111111' } },
      '/config/headers/x-tenant',
    ],
    [
      'http',
      { baseUrl: 'https://erp.internal', headers: { 'x-4111-1111-1111-1111': 'a' } },
      '/config/headers',
    ],
  ] as const)('refuses %s %j at %s, never quoting the number', (type, config, pointer) => {
    const problems = connectionConfigProblems(type, config);
    expect(problems).toContainEqual({
      pointer,
      message: expect.stringMatching(/must not hold a card number/),
    });
    expect(JSON.stringify(problems)).not.toMatch(/4111|5555|u0034/);
  });

  it('leaves certificates, ordinary numbers and dates alone', () => {
    // Every CA certificate Node trusts: real base64 bodies spell no card number.
    expect(
      connectionConfigProblems('http', {
        baseUrl: 'https://erp.internal/orders/2026-12-07/1733567400000',
        timeoutMs: 300000,
        headers: { 'x-tenant': 'eu-1234567' },
        tls: { ca: rootCertificates.join('\n') },
      }),
    ).toEqual([]);
    for (const cert of rootCertificates)
      expect(connectionConfigProblems('http', { baseUrl: 'https://e', tls: { ca: cert } })).toEqual(
        [],
      );
  });

  it('finds no card number in random base64 bodies (a certificate is random bytes to the detector)', () => {
    let seed = 20261207;
    const byte = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let i = 0; i < 300; i++) {
      const body = Buffer.from(Array.from({ length: 1200 }, byte))
        .toString('base64')
        .replace(/.{64}/g, '$&\n');
      const ca = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
      expect(connectionConfigProblems('http', { baseUrl: 'https://e', tls: { ca } })).toEqual([]);
    }
  });

  it.each([
    ['a card number as the body', '4111111111111111'],
    ['card numbers in base64 lines', '4111111111111111/'.repeat(4)],
    ['a card number within base64', `MIIB${'A'.repeat(60)}\nAAAA4111 1111 1111 1111AAAA\n`],
    ['a card number in a header line', 'Proc-Type: 4111-1111-1111-1111\n\nMIIB'],
  ])('refuses a PEM-looking block holding %s: it is shown back as written', (_name, body) => {
    const ca = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
    const problems = connectionConfigProblems('http', { baseUrl: 'https://e', tls: { ca } });
    expect(problems).toEqual([
      { pointer: '/config/tls/ca', message: 'must not hold a card number' },
    ]);
  });

  it('takes an edit of a connection stored before the rule, refusing only what is new', () => {
    // A partner's numeric merchant id that passes the Luhn check, saved before card numbers in
    // config were refused: its connection's token must still be rotatable (PUT, same config).
    const stored = {
      baseUrl: 'https://erp.internal/merchants/4539578763621486',
      headers: { 'x-4111-1111-1111-1111': 'a', 'x-ref': '5555555555554444' },
    };
    expect(connectionConfigProblems('http', structuredClone(stored), stored)).toEqual([]);
    expect(
      connectionConfigProblems(
        'http',
        {
          baseUrl: 'https://erp.internal/merchants/4539578763621486',
          headers: { 'x-4111-1111-1111-1111': 'a', 'x-ref': '4111111111111111' },
        },
        stored,
      ),
    ).toEqual([{ pointer: '/config/headers/x-ref', message: 'must not hold a card number' }]);
    // A kept key's value is checked all the same, named by its object.
    expect(
      connectionConfigProblems(
        'http',
        { ...stored, headers: { ...stored.headers, 'x-4111-1111-1111-1111': '4111111111111111' } },
        stored,
      ),
    ).toEqual([
      { pointer: '/config/headers', message: 'a value of this object must not hold a card number' },
    ]);
    // Moved elsewhere, or a new key: refused as in a new connection.
    expect(
      connectionConfigProblems(
        'http',
        {
          baseUrl: 'https://erp.internal',
          headers: { 'x-5555-5555-5555-4444': '4539578763621486' },
        },
        stored,
      ).map((p) => p.pointer),
    ).toEqual(['/config/headers']);
  });
});

describe('secrets written into config', () => {
  const KEYS = [
    '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
    '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n',
    '-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n',
    '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----\n',
  ];
  it.each(KEYS.map((key) => [key.split('\n')[0], key]))(
    'refuses a certificate field with a private key pasted in (%s), in every protocol, never repeating it',
    (_name, key) => {
      const cases = [
        ['amqp', { url: 'amqps://r', tls: { cert: CA + key } }, '/config/tls/cert'],
        ['amqp', { url: 'amqps://r', tls: { ca: key + CA } }, '/config/tls/ca'],
        ['http', { baseUrl: 'https://erp', tls: { cert: CA + key } }, '/config/tls/cert'],
        ['kafka', { brokers: ['k:9093'], ssl: { cert: CA + key } }, '/config/ssl/cert'],
        ['mqtt', { url: 'mqtts://broker:8883', tls: { cert: CA + key } }, '/config/tls/cert'],
      ] as const;
      for (const [type, config, pointer] of cases) {
        const problems = connectionConfigProblems(type, config);
        expect(problems.map((p) => p.pointer)).toContain(pointer);
        expect(JSON.stringify(problems)).not.toContain('MII');
        expect(JSON.stringify(problems)).not.toContain('MHc');
      }
    },
  );

  const secretHeaders = [
    'Authorization',
    'X-Api-Key',
    'api_key',
    'X-Auth-Token',
    'Cookie',
    'X-Session',
    'X-Signature',
    'X-Client-Secret',
    'Private-Key',
    'x-access-key',
    'X-Upstream-Credentials',
    'X-Pass',
  ];
  it.each(secretHeaders)('refuses a %s header, naming its secret slot', (name) => {
    const problems = connectionConfigProblems('http', {
      baseUrl: 'https://erp.internal',
      headers: { [name]: 'abc123', 'x-tenant': 'eu' },
    });
    expect(problems).toEqual([
      {
        pointer: `/config/headers/${name}`,
        message: expect.stringContaining(`secrets["header:${name}"]`),
      },
    ]);
  });

  it.each(['Bearer abc', 'basic dXNlcjpw', 'Token xyz', 'AWS4-HMAC-SHA256 Credential=x'])(
    'refuses a header of any name whose value is a credential (%s)',
    (value) => {
      expect(
        connectionConfigProblems('http', {
          baseUrl: 'https://erp.internal',
          headers: { 'x-forward': value },
        }).map((p) => p.pointer),
      ).toEqual(['/config/headers/x-forward']);
    },
  );

  it.each([
    ['Host', 'erp.attacker.example', /is set by Junction itself/],
    ['content-length', '0', /is set by Junction itself/],
    ['Transfer-Encoding', 'chunked', /is set by Junction itself/],
    ['Idempotency-Key', 'fixed', /is set by Junction itself/],
    ['x tenant', 'eu', /is not a valid header name/],
    ['x-tenant', 'eu\r\nx-injected: 1', /cannot be sent/],
  ])(
    'refuses a %s header when saved, as the destination would at start',
    (name, value, message) => {
      expect(
        connectionConfigProblems('http', {
          baseUrl: 'https://erp.internal',
          headers: { [name]: value, 'x-ok': 'fine' },
        }),
      ).toEqual([{ pointer: `/config/headers/${name}`, message: expect.stringMatching(message) }]);
    },
  );

  it('keeps ordinary headers', () => {
    expect(
      connectionConfigProblems('http', {
        baseUrl: 'https://erp.internal',
        headers: { 'x-tenant': 'eu', accept: 'application/json', 'x-request-source': 'junction' },
      }),
    ).toEqual([]);
  });

  it.each([
    ['amqp', 'url', 'amqp://user:pass@rabbit:5672', 'secrets.password'],
    ['amqp', 'url', 'amqps://u:p%40ss@rabbit', 'secrets.password'],
    ['amqp', 'url', 'amqp://:pass@rabbit', 'secrets.password'],
    ['amqp', 'url', 'amqp://rabbit/?password=x', 'secrets.password'],
    ['http', 'baseUrl', 'https://u:p@erp.internal', 'secrets.basicPassword'],
    ['http', 'baseUrl', 'https://erp.internal/api?access_token=abc', 'secrets.bearerToken'],
    ['http', 'baseUrl', 'https://erp.internal/?apiKey=abc&x=1', 'secrets.bearerToken'],
    ['http', 'baseUrl', 'https://erp.internal/?sig=abc', 'secrets.bearerToken'],
  ] as const)('refuses %s config.%s %s, naming %s', (type, field, url, slot) => {
    const problems = connectionConfigProblems(type, { [field]: url });
    expect(problems).toContainEqual({
      pointer: `/config/${field}`,
      message: expect.stringContaining(slot),
    });
  });

  it('keeps user names and harmless queries', () => {
    expect(connectionConfigProblems('amqp', { url: 'amqp://guest@127.0.0.1:5672' })).toEqual([]);
    expect(
      connectionConfigProblems('http', { baseUrl: 'https://shop@erp.internal/?region=eu' }),
    ).toEqual([]);
  });
});

describe('secret slots', () => {
  it.each([
    ['http', 'header:X-Api-Key', undefined],
    ['http', 'header:Authorization', undefined],
    ['http', 'bearerToken', undefined],
    ['amqp', 'password', undefined],
    ['kafka', 'saslPassword', undefined],
    ['http', 'header:Host', /set by Junction/],
    ['http', 'header:bad name', /valid header/],
    ['amqp', 'header:X-Api-Key', /not a secret of amqp/],
    ['kafka', 'password', /not a secret of kafka/],
  ] as const)('%s %s', (type, key, problem) => {
    const found = secretKeyProblem(type, key);
    if (problem) expect(found).toMatch(problem);
    else expect(found).toBeUndefined();
  });
});

describe('secret values', () => {
  it.each([
    ['header:X-Api-Key', 'abc\r\nX-Injected: 1', /line break/],
    ['header:X-Api-Key', 'abc\n', /line break/],
    ['bearerToken', 'abc\u0000', /line break or NUL/],
    ['header:X-Api-Key', 'abc def', undefined],
    ['bearerToken', 'eyJhbGciOi.x.y', undefined],
    ['password', 'line\nbreak', undefined], // not sent as a header
  ] as const)('%s %j', (key, value, problem) => {
    const found = secretValueProblem(key, value);
    if (problem) {
      expect(found).toMatch(problem);
      expect(found).not.toContain(value);
    } else expect(found).toBeUndefined();
  });
});

describe('target fields', () => {
  const base = {
    amqp: { url: 'amqp://svc@rabbit:5672', vhost: '/', username: 'svc', heartbeatSeconds: 10 },
    kafka: {
      brokers: ['k1:9092', 'k2:9092'],
      clientId: 'junction',
      ssl: true,
      sasl: { mechanism: 'plain', username: 'svc' },
    },
    http: { baseUrl: 'https://erp.internal', timeoutMs: 5000, headers: { 'x-tenant': 'eu' } },
  } as const;
  const targetChanges: Record<keyof typeof base, Array<Record<string, unknown>>> = {
    amqp: [
      { url: 'amqp://svc@127.0.0.2:5672' },
      { url: 'amqp://svc@rabbit:5673' },
      { url: 'amqps://svc@rabbit:5672' },
      { url: 'amqp://other@rabbit:5672' },
      { vhost: '/prod' },
      { username: 'admin' },
      { tls: { ca: CA } },
    ],
    kafka: [
      { brokers: ['k1:9092', 'evil:9092'] },
      { brokers: ['k1:9093', 'k2:9092'] },
      { ssl: false },
      { ssl: { ca: CA } },
      { sasl: { mechanism: 'plain', username: 'other' } },
      { sasl: { mechanism: 'scram-sha-256', username: 'svc' } },
    ],
    http: [
      { baseUrl: 'https://evil.example' },
      { baseUrl: 'http://erp.internal' },
      { baseUrl: 'https://erp.internal:8443' },
      { baseUrl: 'https://other@erp.internal' },
      { tls: { ca: CA } },
    ],
  };

  for (const type of ['amqp', 'kafka', 'http'] as const) {
    it.each(targetChanges[type])(`${type}: %j is a target change`, (change) => {
      const after = { ...base[type], ...change };
      expect(changedTargetFields(type, base[type], after)).toEqual(
        Object.keys(change).map((k) => `/config/${k}`),
      );
      expect(CONNECTION_TARGET_FIELDS[type]).toEqual(expect.arrayContaining(Object.keys(change)));
    });
  }

  it.each([
    ['amqp', { heartbeatSeconds: 30 }],
    ['kafka', { clientId: 'other' }],
    ['http', { timeoutMs: 100, headers: { 'x-tenant': 'us' } }],
  ] as const)('%s: %j is not a target change', (type, change) => {
    expect(changedTargetFields(type, base[type], { ...base[type], ...change })).toEqual([]);
  });

  it('names every host and port a config connects to, with the field', () => {
    expect(connectionTargets('amqp', { url: 'amqps://u@[::1]/v' })).toEqual([
      { host: '::1', port: 5671, pointer: '/config/url' },
    ]);
    expect(connectionTargets('amqp', { url: 'amqp://2852039166' })).toEqual([
      { host: '2852039166', port: 5672, pointer: '/config/url' },
    ]);
    expect(connectionTargets('kafka', { brokers: ['a:1', 'b:2'] })).toEqual([
      { host: 'a', port: 1, pointer: '/config/brokers/0' },
      { host: 'b', port: 2, pointer: '/config/brokers/1' },
    ]);
    expect(connectionTargets('http', { baseUrl: 'http://0251.0376.0251.0376/x' })).toEqual([
      { host: '169.254.169.254', port: 80, pointer: '/config/baseUrl' },
    ]);
  });
});

describe('amqp10 connections', () => {
  it('accepts a URL with a user name and TLS settings, and refuses a password in the URL, naming its secret', () => {
    expect(
      connectionConfigProblems('amqp10', {
        url: 'amqps://artemis.internal:5671',
        username: 'junction',
        tls: { ca: CA },
        idleTimeoutSeconds: 30,
      }),
    ).toEqual([]);
    expect(connectionConfigProblems('amqp10', { url: 'amqp://u:pw@artemis.internal' })).toEqual([
      { pointer: '/config/url', message: expect.stringContaining('secrets.password') },
    ]);
    expect(
      connectionConfigProblems('amqp10', { url: 'http://artemis' }).map((p) => p.pointer),
    ).toContain('/config/url');
  });

  it('takes password and tlsKey as secrets, and counts url, username, tls and virtualHost as its target', () => {
    expect(secretKeyProblem('amqp10', 'password')).toBeUndefined();
    expect(secretKeyProblem('amqp10', 'tlsKey')).toBeUndefined();
    expect(secretKeyProblem('amqp10', 'saslPassword')).toEqual(expect.any(String));
    const base = { url: 'amqp://artemis.internal', username: 'junction' };
    expect(
      changedTargetFields('amqp10', base, {
        ...base,
        url: 'amqp://elsewhere',
        idleTimeoutSeconds: 5,
      }),
    ).toEqual(['/config/url']);
    expect(connectionTargets('amqp10', { url: 'amqps://artemis.internal' })).toEqual([
      { host: 'artemis.internal', port: 5671, pointer: '/config/url' },
    ]);
  });
});

describe('mqtt connections', () => {
  it('accepts a broker URL, a user, a protocol version and a private CA', () => {
    expect(
      connectionConfigProblems('mqtt', {
        url: 'mqtts://broker.internal:8883',
        username: 'junction',
        protocolVersion: '3.1.1',
        tls: { ca: CA },
        keepaliveSeconds: 30,
      }),
    ).toEqual([]);
  });

  it('refuses a user or password in the URL, naming the slots, and another scheme', () => {
    expect(connectionConfigProblems('mqtt', { url: 'mqtt://svc:pw@broker:1883' })).toEqual([
      { pointer: '/config/url', message: expect.stringContaining('secrets.password') },
    ]);
    expect(
      connectionConfigProblems('mqtt', { url: 'ws://broker/mqtt' }).map((p) => p.pointer),
    ).toEqual(['/config/url']);
  });

  it('keeps the password and the TLS key as secrets, and names its target', () => {
    expect(secretKeyProblem('mqtt', 'password')).toBeUndefined();
    expect(secretKeyProblem('mqtt', 'tlsKey')).toBeUndefined();
    expect(secretKeyProblem('mqtt', 'saslPassword')).toMatch(/not a secret of mqtt/);
    const base = { url: 'mqtt://broker:1883', username: 'svc', keepaliveSeconds: 30 };
    expect(changedTargetFields('mqtt', base, { ...base, username: 'other' })).toEqual([
      '/config/username',
    ]);
    expect(changedTargetFields('mqtt', base, { ...base, keepaliveSeconds: 60 })).toEqual([]);
    expect(connectionTargets('mqtt', { url: 'mqtts://broker.internal' })).toEqual([
      { host: 'broker.internal', port: 8883, pointer: '/config/url' },
    ]);
  });
});
