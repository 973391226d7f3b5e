import Ajv2020 from 'ajv/dist/2020';
import { secretHeaderProblem } from '@junction/connectors';
import type { JsonSchema } from '@junction/pipeline';
import { canonicalJson } from './canonical-json';

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
        description:
          'Static headers that are not secrets. A credential header (X-Api-Key, Authorization, a token, a cookie) goes in secrets["header:<name>"].',
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
  http: ['bearerToken', 'basicPassword', 'hmacKey', 'tlsKey', 'header:<name>'],
};

/** http: a credential header of any name, sent with every request, kept as a secret. */
export const SECRET_HEADER_PREFIX = 'header:';

/** Why `key` is not a secret of this type, or undefined when it is one. */
export function secretKeyProblem(type: 'amqp' | 'kafka' | 'http', key: string): string | undefined {
  if (type === 'http' && key.startsWith(SECRET_HEADER_PREFIX)) {
    return secretHeaderProblem(key.slice(SECRET_HEADER_PREFIX.length));
  }
  if (CONNECTION_SECRET_KEYS[type].includes(key)) return undefined;
  return `is not a secret of ${type} connections; expected one of ${CONNECTION_SECRET_KEYS[type].join(', ')}`;
}

/**
 * The config fields of each type that decide where its secrets go and whom the gateway trusts
 * with them: the address (URL, brokers, base URL, virtual host), the TLS trust and client identity,
 * and the user name a password pairs with. Secrets were entered for one value of these: a change
 * of any of them must come with the secrets again (or their removal), never keep them silently.
 */
export const CONNECTION_TARGET_FIELDS: Record<'amqp' | 'kafka' | 'http', readonly string[]> = {
  amqp: ['url', 'vhost', 'username', 'tls'],
  kafka: ['brokers', 'ssl', 'sasl'],
  http: ['baseUrl', 'tls'],
};

/** Which target fields differ between two configs of one type, as JSON pointers. */
export function changedTargetFields(
  type: 'amqp' | 'kafka' | 'http',
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): string[] {
  return CONNECTION_TARGET_FIELDS[type]
    .filter((field) => canonicalJson(before[field] ?? null) !== canonicalJson(after[field] ?? null))
    .map((field) => `/config/${field}`);
}

/** A host and port a connection connects to, with the pointer of the field that names it. */
export interface ConnectionTarget {
  host: string;
  port: number;
  pointer: string;
}

const DEFAULT_PORTS: Record<string, number> = { amqp: 5672, amqps: 5671, http: 80, https: 443 };

function urlTarget(raw: unknown, pointer: string): ConnectionTarget[] {
  if (typeof raw !== 'string') return [];
  try {
    const url = new URL(raw);
    const scheme = url.protocol.replace(/:$/, '');
    return [
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port ? Number(url.port) : (DEFAULT_PORTS[scheme] ?? 0),
        pointer,
      },
    ];
  } catch {
    return [];
  }
}

/** Every host and port a (valid) config of this type connects to first. */
export function connectionTargets(
  type: 'amqp' | 'kafka' | 'http',
  config: Record<string, unknown>,
): ConnectionTarget[] {
  if (type === 'amqp') return urlTarget(config.url, '/config/url');
  if (type === 'http') return urlTarget(config.baseUrl, '/config/baseUrl');
  const brokers = Array.isArray(config.brokers) ? (config.brokers as unknown[]) : [];
  return brokers.flatMap((broker, i) => {
    if (typeof broker !== 'string') return [];
    const at = broker.lastIndexOf(':');
    return [
      {
        host: broker.slice(0, at),
        port: Number(broker.slice(at + 1)),
        pointer: `/config/brokers/${i}`,
      },
    ];
  });
}

/** Query parameters and header names that carry credentials. */
const CREDENTIAL_NAME =
  /auth|token|secret|passw|passwd|pwd|cookie|session|signature|credential|api[-_]?key|access[-_]?key|private[-_]?key|(^|[-_])(key|sig|pass)$/i;
/** Header values that are credentials whatever the header is called. */
const CREDENTIAL_VALUE = /^\s*(bearer|basic|digest|token|negotiate|hmac|aws4-hmac-sha256)\s+\S/i;

/**
 * Secrets written into config, where they would be stored in plaintext and shown by every read
 * and audit record: a password in a URL, a credential in a URL's query, a credential header.
 * Each problem names the secret slot to use instead.
 */
function embeddedSecretProblems(
  type: 'amqp' | 'kafka' | 'http',
  config: Record<string, unknown>,
): Array<{ pointer: string; message: string }> {
  const problems: Array<{ pointer: string; message: string }> = [];
  const field = type === 'amqp' ? 'url' : type === 'http' ? 'baseUrl' : undefined;
  const raw = field ? config[field] : undefined;
  if (field && typeof raw === 'string') {
    const pointer = `/config/${field}`;
    const slot = type === 'amqp' ? 'secrets.password' : 'secrets.basicPassword';
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#@]*:[^/?#@]*@/i.test(raw))
      problems.push({ pointer, message: `must not contain a password; put it in ${slot}` });
    try {
      const url = new URL(raw);
      const names = [...url.searchParams.keys()].filter((k) => CREDENTIAL_NAME.test(k));
      if (names.length > 0)
        problems.push({
          pointer,
          message: `must not carry credentials in its query (${names.join(', ')}); put them in ${
            type === 'amqp' ? 'secrets.password' : 'secrets.bearerToken or secrets["header:<name>"]'
          }`,
        });
    } catch {
      // the schema's pattern reports a URL that does not parse
    }
  }
  const headers = config.headers;
  if (type === 'http' && headers !== null && typeof headers === 'object')
    for (const [name, value] of Object.entries(headers as Record<string, unknown>))
      if (CREDENTIAL_NAME.test(name) || (typeof value === 'string' && CREDENTIAL_VALUE.test(value)))
        problems.push({
          pointer: `/config/headers/${name}`,
          message: `looks like a credential; put it in secrets["${SECRET_HEADER_PREFIX}${name}"] (write-only, encrypted)${
            name.toLowerCase() === 'authorization' ? ' or secrets.bearerToken' : ''
          }`,
        });
  return problems;
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
const validators = Object.fromEntries(
  Object.entries(CONNECTION_CONFIG_SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]),
);

export function connectionConfigProblems(
  type: 'amqp' | 'kafka' | 'http',
  config: unknown,
): Array<{ pointer: string; message: string }> {
  const validate = validators[type];
  if (validate(config)) return embeddedSecretProblems(type, config as Record<string, unknown>);
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
