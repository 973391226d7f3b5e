import Ajv2020 from 'ajv/dist/2020';
import type { JsonSchema } from '@junction/pipeline';

/** What each connection type's `config` may hold. Secrets never go here: they go in `secrets`. */
const PEM_CERTIFICATES = {
  type: 'string',
  pattern: '-----BEGIN CERTIFICATE-----',
  description: 'PEM certificate(s).',
};
/** A private CA to trust and a client certificate (its private key is a secret). */
const tls = (keySecret: string) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    ca: {
      ...PEM_CERTIFICATES,
      description: 'PEM CA certificate(s) trusted besides the system ones.',
    },
    cert: {
      ...PEM_CERTIFICATES,
      description: `PEM client certificate for mutual TLS; its private key goes in secrets.${keySecret}.`,
    },
  },
  description: `TLS: a private CA to trust, a client certificate (key in secrets.${keySecret}).`,
});

export const CONNECTION_CONFIG_SCHEMAS: Record<'amqp' | 'kafka' | 'http', JsonSchema> = {
  amqp: {
    type: 'object',
    required: ['url'],
    additionalProperties: false,
    properties: {
      url: {
        type: 'string',
        pattern: '^amqps?://',
        description: 'Broker URL without a password (put it in secrets.password).',
        examples: ['amqp://guest@127.0.0.1:5672'],
      },
      vhost: { type: 'string', description: 'Virtual host.', examples: ['/'] },
      tls: tls('tlsKey'),
      username: {
        type: 'string',
        description: 'User name, if not in the URL.',
        examples: ['junction'],
      },
      heartbeatSeconds: {
        type: 'integer',
        minimum: 0,
        maximum: 3600,
        description: 'AMQP heartbeat.',
        examples: [30],
      },
    },
  },
  kafka: {
    type: 'object',
    required: ['brokers'],
    additionalProperties: false,
    properties: {
      brokers: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', pattern: '^[^\\s:/]+:\\d+$' },
        description: 'Bootstrap brokers as host:port.',
        examples: [['127.0.0.1:9092']],
      },
      clientId: {
        type: 'string',
        description: 'Client id reported to the brokers.',
        examples: ['junction'],
      },
      ssl: {
        oneOf: [{ type: 'boolean' }, tls('sslKey')],
        description:
          'Use TLS: true, or { ca, cert } for a private CA and a client certificate (key in secrets.sslKey).',
        examples: [false],
      },
      sasl: {
        type: 'object',
        required: ['mechanism', 'username'],
        additionalProperties: false,
        properties: {
          mechanism: { enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
          username: { type: 'string' },
        },
        description: 'SASL user; its password goes in secrets.saslPassword.',
      },
    },
  },
  http: {
    type: 'object',
    required: ['baseUrl'],
    additionalProperties: false,
    properties: {
      baseUrl: {
        type: 'string',
        pattern: '^https?://',
        description: 'Base URL of the target system.',
        examples: ['https://erp.example.com'],
      },
      timeoutMs: {
        type: 'integer',
        minimum: 1,
        maximum: 300000,
        description: 'Request timeout.',
        examples: [5000],
      },
      headers: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description: 'Static headers (not secrets).',
        examples: [{ 'x-tenant': 'eu' }],
      },
      tls: tls('tlsKey'),
    },
  },
};

/** Secret names each type understands; others are refused so a typo does not silently store nothing useful. */
export const CONNECTION_SECRET_KEYS: Record<'amqp' | 'kafka' | 'http', string[]> = {
  amqp: ['password', 'tlsKey'],
  kafka: ['saslPassword', 'sslKey'],
  http: ['bearerToken', 'basicPassword', 'hmacKey', 'tlsKey'],
};

const ajv = new Ajv2020({ allErrors: true, strict: false });
const validators = Object.fromEntries(
  Object.entries(CONNECTION_CONFIG_SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]),
);

export function connectionConfigProblems(
  type: 'amqp' | 'kafka' | 'http',
  config: unknown,
): Array<{ pointer: string; message: string }> {
  const validate = validators[type];
  if (validate(config)) {
    const url =
      (config as { url?: string; baseUrl?: string }).url ??
      (config as { baseUrl?: string }).baseUrl;
    if (url && /^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(url)) {
      return [
        {
          pointer: `/config/${'url' in (config as object) ? 'url' : 'baseUrl'}`,
          message: 'must not contain a password; put it in secrets',
        },
      ];
    }
    return [];
  }
  return (validate.errors ?? []).map((e) => ({
    pointer: `/config${e.instancePath}${e.keyword === 'required' ? `/${(e.params as { missingProperty: string }).missingProperty}` : e.keyword === 'additionalProperties' ? `/${(e.params as { additionalProperty: string }).additionalProperty}` : ''}`,
    message:
      e.keyword === 'required'
        ? 'is required'
        : e.keyword === 'additionalProperties'
          ? 'is not a known field here'
          : (e.message ?? e.keyword),
  }));
}
