import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { OperationObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { ROUTE_SCHEMA } from '@junction/connectors';
import { ErrorDto, ProblemDto, ROUTE_DOCUMENT_SCHEMA } from '@junction/registry';

/**
 * The OpenAPI document, generated from the controllers and DTOs, with the route document's
 * JSON Schema (draft 2020-12, derived from the stage registry) as a component. OpenAPI 3.1 is
 * used because its schemas are JSON Schema 2020-12, so the route schema needs no translation.
 */
export function buildOpenApi(app: INestApplication, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Junction API')
    .setDescription(
      'Enterprise integration gateway. Errors always have the shape `{ statusCode, error, message, details? }`. ' +
        'Authenticate with `Authorization: Bearer <token>` from POST /api/v1/auth/login, or with `X-API-Key`. ' +
        'Browsers (the console) may instead use the `junction_session` cookie that sign-in sets; every POST, PUT, ' +
        'PATCH or DELETE authenticated by that cookie must send the `junction_csrf` cookie value in `X-CSRF-Token` (else 403).',
    )
    .setVersion(version)
    .addBearerAuth()
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'apiKey')
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-Junction-Signature',
        description:
          'HMAC-signed ingest (routes with `auth: hmac`): `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>\\n<Idempotency-Key or nothing>\\n<raw body>">`, keyed with the `hmacKey` secret of the connection the route names; 300 s tolerance; several values allowed while keys rotate. A route with `signature: v2` takes only `v2=<hex HMAC-SHA256 of "v2\\n<t>\\n<route path as normalised>\\n<Idempotency-Key or nothing>\\n<raw body>">`, which names the path.',
      },
      'ingestSignature',
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    extraModels: [ErrorDto, ProblemDto],
  });
  const { $schema: _schema, $id: _id, ...routeSchema } = ROUTE_SCHEMA;
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, [ROUTE_DOCUMENT_SCHEMA]: routeSchema },
  };
  document.paths['/ingest/{path}'] = { post: ingestOperation() };
  document.components.schemas!.IngestAccepted = INGEST_ACCEPTED;
  addErrorResponses(document);
  yamlAsText(document);
  return toOpenApi31(document);
}

/**
 * A route document sent or read as YAML is text: where an operation takes or answers YAML, its
 * schema there is a string, not the JSON object of the other content type.
 */
function yamlAsText(document: OpenAPIObject): void {
  const text = {
    type: 'string',
    description: 'The route document as YAML text (kept verbatim with its version).',
  };
  for (const item of Object.values(document.paths))
    for (const op of Object.values(item) as OperationObject[]) {
      if (!op || typeof op !== 'object' || !('responses' in op)) continue;
      const contents = [
        (op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content,
        ...Object.values(op.responses ?? {}).map(
          (r) => (r as { content?: Record<string, { schema?: unknown }> }).content,
        ),
      ];
      for (const content of contents)
        for (const type of ['application/yaml', 'text/yaml', 'application/x-yaml'])
          if (content?.[type]) content[type] = { schema: text };
    }
}

const INGEST_ACCEPTED = {
  type: 'object',
  description: 'What became of a message sent to an async route (or a sync one that dropped it).',
  required: ['id', 'routeId', 'version', 'status'],
  properties: {
    id: { type: 'string', description: 'Message id: the Idempotency-Key, or one given to it.' },
    routeId: { type: 'string' },
    version: { type: 'integer', description: 'The route version that took it.' },
    status: {
      enum: ['delivered', 'filtered', 'unroutable', 'dead-lettered'],
      description:
        'delivered: every matching destination confirmed. filtered: a filter dropped it. unroutable: no destination matched. dead-lettered: delivery failed after the retries; kept for replay.',
    },
    deadLetterId: { type: 'string', description: 'With status dead-lettered.' },
  },
};

/**
 * POST /ingest/{path}: a catch-all handler in the app (one per route path, registered at run
 * time), so it is described here by hand, for the client systems that send messages.
 */
function ingestOperation(): OperationObject {
  const json = (schema: object, description: string) => ({
    description,
    content: { 'application/json': { schema } },
  });
  return {
    tags: ['ingest'],
    operationId: 'ingest',
    summary: 'Send a message to the HTTP route that takes this path',
    description:
      "Authentication is the route's own (`source.auth`): an API key, an HMAC signature, or none. " +
      'An API key needs an ingest grant (the `ingest` role, or admin) and, when the key names routes (`ingestRoutes`), this route: any other valid key gets 403. ' +
      'async routes answer 202 once the message is delivered or safely dead-lettered; sync routes answer 200 with the result, ' +
      'or with the reply of the destination marked `reply` (its own content type), within the route `timeoutMs`. ' +
      'A message the route rejects (not JSON, schema, expression, mask) is dead-lettered and answered 422 with `details.deadLetterId`. ' +
      'Answers 429 when the route has too many messages in flight; 502 when a sync delivery failed after its retries (dead-lettered); ' +
      '503 when the route is stopped, stopping, starting or restarting (not taken: send it again, with the same Idempotency-Key; 429 and 503 carry Retry-After); ' +
      '404 when no route holds the path. ' +
      '504 when a sync answer did not come in time (`details.id` names the message, which still goes on).',
    parameters: [
      {
        name: 'path',
        in: 'path',
        required: true,
        description:
          "The route's `source.path`; it may contain `/` (e.g. `partner/orders`). Compared case-insensitively, percent-decoded once, Unicode NFKC, without empty or `.` segments: `Partner//Orders/` is `partner/orders`.",
        schema: { type: 'string' },
      },
      {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description:
          'Becomes the message id, carried to every destination (AMQP messageId, Kafka junction-id, HTTP Idempotency-Key) so receivers can drop duplicates of a retried request.',
        schema: { type: 'string', maxLength: 200 },
      },
    ],
    security: [{ apiKey: [] }, { ingestSignature: [] }, {}],
    requestBody: {
      required: true,
      description: 'The message: JSON, as the route expects it.',
      content: { 'application/json': { schema: {} } },
    },
    responses: {
      '200': json({}, 'sync route: the final body, or the reply of the `reply` destination.'),
      '202': json({ $ref: '#/components/schemas/IngestAccepted' }, 'async route: done with it.'),
    },
  };
}

/** Every operation may answer with the error shape; say so once, for all of them. */
function addErrorResponses(document: OpenAPIObject): void {
  const error = {
    description: 'Error',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorDto' } } },
  };
  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = item[method];
      if (!operation) continue;
      operation.responses ??= {};
      operation.responses['4XX'] ??= {
        ...error,
        description: 'The request was refused; `message` says why.',
      };
      operation.responses['5XX'] ??= {
        ...error,
        description: 'The gateway failed; `message` carries an incident id.',
      };
    }
  }
}

/** Nest emits OpenAPI 3.0 (`nullable`); 3.1 says the same with a `null` type. */
function toOpenApi31(document: OpenAPIObject): OpenAPIObject {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) out[key] = walk(value);
    if (out.nullable === true) {
      delete out.nullable;
      if (typeof out.type === 'string') out.type = [out.type, 'null'];
      else if (out.allOf || out.$ref)
        return { anyOf: [out.allOf ? { allOf: out.allOf } : { $ref: out.$ref }, { type: 'null' }] };
    }
    return out;
  };
  return { ...(walk(document) as OpenAPIObject), openapi: '3.1.0' };
}

export function serveOpenApi(app: INestApplication, document: OpenAPIObject): void {
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'openapi.json',
    yamlDocumentUrl: 'openapi.yaml',
  });
}
