import { Envelope } from './envelope';
import { JsonataEngine } from './expression/jsonata.expression';
import { RouteResources } from './stages/stage';

/** Helpers for tests and dry runs: an envelope around a body, and default resources. */
export function envelopeOf(body: unknown, headers: Record<string, string> = {}): Envelope {
  return {
    id: 'test-message',
    headers,
    body,
    meta: {
      routeId: 'test',
      routeVersion: 1,
      source: { type: 'test', name: 'test' },
      receivedAt: new Date(0).toISOString(),
      redelivered: false,
    },
  };
}

/** Resources for tests; no protocol unless given (the engine's own specs pass libs/connectors' map). */
export function testResources(overrides: Partial<RouteResources> = {}): RouteResources {
  return {
    expressions: new JsonataEngine(),
    hmacKey: Buffer.from('test-hmac-key'),
    protocols: {},
    ...overrides,
  };
}
