import Ajv2020 from 'ajv/dist/2020';
import {
  CONNECTOR_KINDS,
  CONNECTORS,
  type ConnectionTarget,
  type ConnectorKind,
} from '@junction/connectors';
import { containsPan, type JsonSchema, useLinearUniqueItems } from '@junction/pipeline';
import { canonicalJson } from './canonical-json';

/** The connection types: the connector kinds (`CONNECTORS` in libs/connectors). */
export type ConnectionType = ConnectorKind;
export type { ConnectionTarget };

function byKind<T>(pick: (kind: ConnectorKind) => T): Record<ConnectorKind, T> {
  return Object.fromEntries(CONNECTOR_KINDS.map((kind) => [kind, pick(kind)])) as Record<
    ConnectorKind,
    T
  >;
}

/** What each connection type's `config` may hold. Secrets never go here: they go in `secrets`. */
export const CONNECTION_CONFIG_SCHEMAS: Record<ConnectorKind, JsonSchema> = byKind(
  (kind) => CONNECTORS[kind].connection.configSchema,
);

/** Secret names each type understands; others are refused so a typo does not silently store nothing useful. */
export const CONNECTION_SECRET_KEYS: Record<ConnectorKind, readonly string[]> = byKind(
  (kind) => CONNECTORS[kind].connection.secretKeys,
);

/** Why `key` is not a secret of this type, or undefined when it is one. */
export function secretKeyProblem(type: ConnectorKind, key: string): string | undefined {
  const connection = CONNECTORS[type].connection;
  const prefixed = 'prefixedSecret' in connection ? connection.prefixedSecret : undefined;
  if (prefixed && key.startsWith(prefixed.prefix))
    return prefixed.problem(key.slice(prefixed.prefix.length));
  if (connection.secretKeys.includes(key)) return undefined;
  return `is not a secret of ${type} connections; expected one of ${connection.secretKeys.join(', ')}`;
}

/**
 * Why a secret's value cannot be used, or undefined. A secret sent as an HTTP header value (a
 * `header:<name>` secret, a bearer token) cannot hold a line break or NUL: Node refuses such a
 * header at the first request, so the route would fail at run time, not when it is saved. The
 * message never repeats the value.
 */
export function secretValueProblem(key: string, value: string): string | undefined {
  const inHeader = key.startsWith('header:') || key === 'bearerToken';
  return inHeader && /[\r\n\0]/.test(value)
    ? 'is sent as an HTTP header value, which cannot hold a line break or NUL'
    : undefined;
}

/**
 * The config fields of each type that decide where its secrets go and whom the gateway trusts
 * with them: the address (URL, brokers, base URL, virtual host), the TLS trust and client identity,
 * and the user name a password pairs with. Secrets were entered for one value of these: a change
 * of any of them must come with the secrets again (or their removal), never keep them silently.
 */
export const CONNECTION_TARGET_FIELDS: Record<ConnectorKind, readonly string[]> = byKind(
  (kind) => CONNECTORS[kind].connection.targetFields,
);

/** Which target fields differ between two configs of one type, as JSON pointers. */
export function changedTargetFields(
  type: ConnectorKind,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): string[] {
  return CONNECTION_TARGET_FIELDS[type]
    .filter((field) => canonicalJson(before[field] ?? null) !== canonicalJson(after[field] ?? null))
    .map((field) => `/config/${field}`);
}

/** Every host and port a (valid) config of this type connects to first. */
export function connectionTargets(
  type: ConnectorKind,
  config: Record<string, unknown>,
): ConnectionTarget[] {
  return CONNECTORS[type].connection.egressTargets(config);
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
useLinearUniqueItems(ajv);
const validators = byKind((kind) => ajv.compile(CONNECTION_CONFIG_SCHEMAS[kind]));

/**
 * Config values and keys holding a card number, wherever in config (a vhost, a client id, a
 * header, a URL's path): config is stored and shown back as it was written (GET /connections,
 * the console's connection screen), as route documents are, so it is refused at save like them,
 * never redacted, and never quoted back. A key is named by its object (its own pointer would
 * quote it). PEM blocks are read like any text: skipping what stood between BEGIN and END lines
 * let any text, a card number included, be saved and shown back, and a real certificate's base64
 * holds no card number (letters break digit runs: none of Node's root certificates does, nor
 * megabytes of random base64). `stored` is the config as saved before this check came in: a
 * value or key it already holds at the same place is not refused, so such a connection can still
 * be edited (a secret rotated) without that value changing, which is often a partner's (a
 * numeric merchant id in a base URL).
 */
export function cardNumberProblems(
  value: unknown,
  pointer = '/config',
  stored?: unknown,
): Array<{ pointer: string; message: string }> {
  if (typeof value === 'string')
    return value !== stored && containsPan(value)
      ? [{ pointer, message: 'must not hold a card number' }]
      : [];
  if (typeof value === 'number' || typeof value === 'bigint')
    return value !== stored && containsPan(value)
      ? [{ pointer, message: 'must not hold a card number' }]
      : [];
  if (value === null || typeof value !== 'object') return [];
  const before =
    stored !== null && typeof stored === 'object' && Array.isArray(stored) === Array.isArray(value)
      ? (stored as Record<string, unknown>)
      : undefined;
  const problems: Array<{ pointer: string; message: string }> = [];
  for (const [key, child] of Object.entries(value)) {
    const kept = before !== undefined && Object.prototype.hasOwnProperty.call(before, key);
    if (!Array.isArray(value) && containsPan(key)) {
      if (!kept)
        problems.push({ pointer, message: 'a key of this object must not hold a card number' });
      // A key kept from before: what it holds is checked all the same, named by the object.
      else if (cardNumberProblems(child, pointer, before[key]).length > 0)
        problems.push({ pointer, message: 'a value of this object must not hold a card number' });
    } else
      problems.push(
        ...cardNumberProblems(
          child,
          `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`,
          kept ? before[key] : undefined,
        ),
      );
  }
  return problems;
}

/** A PEM private key block, of any algorithm (PKCS#8, RSA, EC, encrypted). */
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * Config fields holding a PEM private key, wherever in config (a key pasted with its certificate
 * into `tls.cert` is the usual slip): config is stored and shown in plain text, and kept in the
 * audit trail's `connection.*` events for good. The message never repeats the value.
 */
export function privateKeyProblems(
  value: unknown,
  pointer = '/config',
): Array<{ pointer: string; message: string }> {
  if (typeof value === 'string')
    return PEM_PRIVATE_KEY.test(value)
      ? [
          {
            pointer,
            message:
              'holds a PEM private key: config is stored and shown in plain text; put the key in the secrets (tlsKey, or sslKey for Kafka) and only the certificate here',
          },
        ]
      : [];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) =>
    privateKeyProblems(child, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`),
  );
}

export function connectionConfigProblems(
  type: ConnectorKind,
  config: unknown,
  /** The config stored before (an edit): card numbers it holds already are not refused again. */
  stored?: unknown,
): Array<{ pointer: string; message: string }> {
  const validate = validators[type];
  if (validate(config)) {
    const connection = CONNECTORS[type].connection;
    // Secrets written into config would be stored in plaintext and shown by every read.
    return [
      ...privateKeyProblems(config),
      ...cardNumberProblems(config, '/config', stored),
      ...('embeddedSecretProblems' in connection && connection.embeddedSecretProblems
        ? connection.embeddedSecretProblems(config as Record<string, unknown>)
        : []),
    ];
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
