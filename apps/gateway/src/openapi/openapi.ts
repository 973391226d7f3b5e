import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ROUTE_SCHEMA } from '@junction/pipeline';
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
        'Authenticate with `Authorization: Bearer <token>` from POST /api/v1/auth/login, or with `X-API-Key`.',
    )
    .setVersion(version)
    .addBearerAuth()
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'apiKey')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    extraModels: [ErrorDto, ProblemDto],
  });
  const { $schema: _schema, $id: _id, ...routeSchema } = ROUTE_SCHEMA;
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, [ROUTE_DOCUMENT_SCHEMA]: routeSchema },
  };
  addErrorResponses(document);
  return toOpenApi31(document);
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
