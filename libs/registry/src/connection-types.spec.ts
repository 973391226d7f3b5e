import { connectionConfigProblems } from './connection-types';

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
