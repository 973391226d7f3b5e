import { rootCertificates } from 'node:tls';
import {
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from 'kafkajs';
import { ConnectorError } from '../connector';
import { EgressPolicy } from '../egress/egress-policy';
import { consoleLogger } from '../logger';
import {
  kafkaBatchOptions,
  kafkaClientConfig,
  kafkaConnectorError,
  stringifyKafkaHeaders,
} from './kafka-client';

describe('kafkaClientConfig', () => {
  it('maps brokers, client id, SASL and TLS from config and secrets', () => {
    const config = kafkaClientConfig(
      {
        name: 'kafka',
        config: {
          brokers: ['b1:9093', 'b2:9093'],
          clientId: 'shop',
          ssl: true,
          sasl: { mechanism: 'scram-sha-512', username: 'svc' },
        },
        secrets: { saslPassword: 'pw' },
      },
      {},
      consoleLogger,
    );
    expect(config).toMatchObject({
      brokers: ['b1:9093', 'b2:9093'],
      clientId: 'shop',
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 'pw' },
    });
  });

  it('uses secrets.sslKey as the client key, and as the certificate when the PEM holds one', () => {
    const pem =
      '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----\n';
    const config = kafkaClientConfig(
      { name: 'kafka', config: { brokers: ['b:9093'], ssl: true }, secrets: { sslKey: pem } },
      {},
      consoleLogger,
    );
    expect(config.ssl).toEqual({ key: pem, cert: pem });
  });

  it('trusts a private CA and presents a client certificate from config.ssl, its key from secrets', () => {
    const ca = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';
    const cert = '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n';
    const key = '-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----\n';
    const connection = (ssl: unknown, secrets: Record<string, string> = {}) => ({
      name: 'kafka',
      config: { brokers: ['b:9093'], ssl },
      secrets,
    });
    const trusted = [...rootCertificates, ca]; // added to Node's roots, not instead of them
    expect(kafkaClientConfig(connection({ ca }), {}, consoleLogger).ssl).toEqual({ ca: trusted });
    expect(
      kafkaClientConfig(connection({ ca, cert }, { sslKey: key }), {}, consoleLogger).ssl,
    ).toEqual({ ca: trusted, cert, key });
    expect(() => kafkaClientConfig(connection({ cert }), {}, consoleLogger)).toThrow(
      'config.ssl.cert needs its private key in secrets.sslKey',
    );
    expect(() => kafkaClientConfig(connection({ ca: 'not pem' }), {}, consoleLogger)).toThrow(
      'config.ssl.ca must be PEM certificates',
    );
    expect(() => kafkaClientConfig(connection(true, { sslKey: key }), {}, consoleLogger)).toThrow(
      'secrets.sslKey needs its certificate in config.ssl.cert',
    );
  });

  it('leaves TLS and SASL off unless configured, and defaults the client id', () => {
    const config = kafkaClientConfig(
      { name: 'kafka', config: { brokers: ['b:9092'] }, secrets: { saslPassword: 'unused' } },
      {},
      consoleLogger,
    );
    expect(config.ssl).toBeUndefined();
    expect(config.sasl).toBeUndefined();
    expect(config.clientId).toBe('junction');
  });

  it.each([
    {},
    { brokers: [] },
    { brokers: 'b:9092' },
    { brokers: ['b:9092'], sasl: { mechanism: 'gssapi', username: 'x' } },
  ])('refuses config %j', (config) => {
    expect(() =>
      kafkaClientConfig({ name: 'kafka', config, secrets: {} }, {}, consoleLogger),
    ).toThrow(ConnectorError);
  });

  it.each([
    [['169.254.169.254:9092'], undefined],
    [['b:9092', '2852039166:9092'], undefined],
    [['metadata.google.internal:80'], undefined],
    [['10.0.0.1:9092'], new EgressPolicy(['10.0.0.2'], { strict: true })],
    [['b:9093'], new EgressPolicy(['b:9092'], { strict: true })],
  ])('refuses brokers %j before any socket (NOT_ALLOWED, final)', (brokers, egress) => {
    const refusal = (() => {
      try {
        kafkaClientConfig(
          { name: 'k', config: { brokers }, secrets: {} },
          { egress },
          consoleLogger,
        );
      } catch (err) {
        return err;
      }
    })();
    expect(refusal).toMatchObject({ code: 'NOT_ALLOWED', retryable: false });
    expect((refusal as Error).message).toContain('egress refused');
  });

  it('connects through the egress policy unless a test brings its own sockets', () => {
    const config = kafkaClientConfig(
      { name: 'k', config: { brokers: ['b:9092'] }, secrets: {} },
      {},
      consoleLogger,
    );
    expect(typeof config.socketFactory).toBe('function');
  });
});

describe('kafkaBatchOptions', () => {
  const connection = (batch?: Record<string, unknown>) => ({
    name: 'kafka',
    config: { brokers: ['b1:9092'], ...(batch ? { batch } : {}) },
    secrets: {},
  });

  it('sends on the next turn, up to 1000 messages or 1 MiB, unless the connection says else', () => {
    expect(kafkaBatchOptions(connection(), 30_000)).toEqual({
      lingerMs: 0,
      maxMessages: 1000,
      maxBytes: 1_048_576,
      timeoutMs: 30_000,
    });
    expect(kafkaBatchOptions(connection({ lingerMs: 5, maxMessages: 1 }), 1_000)).toEqual({
      lingerMs: 5,
      maxMessages: 1,
      maxBytes: 1_048_576,
      timeoutMs: 1_000,
    });
  });

  it('refuses a setting that is not a whole number in range, naming it', () => {
    expect(() => kafkaBatchOptions(connection({ lingerMs: -1 }), 1_000)).toThrow(
      /config\.batch\.lingerMs must be an integer >= 0/,
    );
    expect(() => kafkaBatchOptions(connection({ maxMessages: 0.5 }), 1_000)).toThrow(
      /config\.batch\.maxMessages must be an integer >= 1/,
    );
  });
});

describe('stringifyKafkaHeaders', () => {
  it('decodes buffers and joins repeated values', () => {
    expect(
      stringifyKafkaHeaders({
        a: Buffer.from('ä'),
        b: 'x',
        c: [Buffer.from('1'), '2'],
        d: undefined,
      }),
    ).toEqual({ a: 'ä', b: 'x', c: '1, 2' });
  });
});

describe('kafkaConnectorError', () => {
  it('is final for a protocol error Kafka calls non-retriable', () => {
    const err = kafkaConnectorError(
      // kafkajs builds protocol errors from its error-code table entries.
      new KafkaJSProtocolError({
        type: 'INVALID_TOPIC_EXCEPTION',
        code: 17,
        retriable: false,
        message: 'bad topic',
      } as unknown as Error),
      'produce',
    );
    expect(err).toMatchObject({ code: 'REJECTED', retryable: false });
  });

  it('is retryable for exhausted retries and connection trouble', () => {
    const exhausted = new KafkaJSNumberOfRetriesExceeded(
      new Error('Connection error: ECONNREFUSED'),
      {
        retryCount: 5,
        retryTime: 1000,
      },
    );
    expect(kafkaConnectorError(exhausted, 'produce')).toMatchObject({
      code: 'UNREACHABLE',
      retryable: true,
    });
    expect(
      kafkaConnectorError(new KafkaJSNonRetriableError(new Error('x')), 'produce').retryable,
    ).toBe(true);
  });

  it('passes a ConnectorError through', () => {
    const original = new ConnectorError('TIMEOUT', 'late', true);
    expect(kafkaConnectorError(original, 'produce')).toBe(original);
  });
});
