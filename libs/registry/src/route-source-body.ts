import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import type { SourceFormat } from '@junction/pipeline';

/** A YAML request body, kept as the text it was (the gateway's body parser makes these). */
export class RouteSourceText {
  constructor(readonly text: string) {}
}

/** Where the JSON body parser leaves the text of a route document it parsed. */
export const ROUTE_SOURCE_TEXT = Symbol.for('junction.routeSourceText');

/** Content types that carry a route document as YAML. */
export const YAML_CONTENT_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];

/** The endpoints that take a route document as their body (and so YAML, and keep its text). */
export function takesRouteSource(method: string, url: string): boolean {
  const path = url.split('?')[0];
  if (method === 'POST') return path === '/api/v1/routes' || path === '/api/v1/routes/validate';
  if (method === 'PUT') return /^\/api\/v1\/routes\/[^/]+$/.test(path);
  return false;
}

/** A route document as sent: parsed JSON (with its text when known) or YAML text. */
export interface RouteSourceInput {
  format: SourceFormat;
  /** The parsed JSON body (format json). */
  document?: unknown;
  /** The text as sent. */
  text?: string;
}

/** The route document of the request, as JSON or YAML (see `takesRouteSource`). */
export const RouteSource = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): RouteSourceInput => {
    const request = ctx
      .switchToHttp()
      .getRequest<{ body: unknown; [ROUTE_SOURCE_TEXT]?: string }>();
    if (request.body instanceof RouteSourceText) return { format: 'yaml', text: request.body.text };
    if (request.body === undefined)
      throw new JunctionError(
        'BAD_REQUEST',
        'send the route document as the request body (application/json or application/yaml)',
      );
    return { format: 'json', document: request.body, text: request[ROUTE_SOURCE_TEXT] };
  },
);
