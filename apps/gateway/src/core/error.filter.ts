import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { databaseInputError, JunctionError, JunctionErrorCode } from '@junction/common';
import { redactPans, redactPanText } from '@junction/pipeline';

function statusOf(code: JunctionErrorCode): number {
  switch (code) {
    case 'BAD_REQUEST':
    case 'ROUTE_INVALID':
    case 'UNKNOWN_CONNECTION':
      return HttpStatus.BAD_REQUEST;
    case 'UNPROCESSABLE':
      return HttpStatus.UNPROCESSABLE_ENTITY;
    case 'BAD_GATEWAY':
      return HttpStatus.BAD_GATEWAY;
    case 'UNAUTHENTICATED':
      return HttpStatus.UNAUTHORIZED;
    case 'FORBIDDEN':
      return HttpStatus.FORBIDDEN;
    case 'NOT_FOUND':
      return HttpStatus.NOT_FOUND;
    case 'CONFLICT':
      return HttpStatus.CONFLICT;
    case 'PRECONDITION_FAILED':
      return HttpStatus.PRECONDITION_FAILED;
    case 'PAYLOAD_TOO_LARGE':
      return HttpStatus.PAYLOAD_TOO_LARGE;
    case 'RATE_LIMITED':
    case 'SATURATED':
      return HttpStatus.TOO_MANY_REQUESTS;
    case 'UNAVAILABLE':
      return HttpStatus.SERVICE_UNAVAILABLE;
    case 'TIMEOUT':
      return HttpStatus.GATEWAY_TIMEOUT;
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
}

/**
 * Every error leaves in one shape, `{ statusCode, error, message, details? }`, never with a stack
 * and never with a card number: Nest's and Fastify's own messages quote what the caller sent
 * (`Cannot GET /x/4111...`), so every message and detail is redacted here, whoever made it.
 */
export function errorBody(exception: unknown, log: Logger): ErrorBody {
  const body = unredactedErrorBody(exception, log);
  const message = redactPanText(body.message);
  const details = body.details === undefined ? undefined : redactPans(body.details);
  if (message === body.message && details === body.details) return body;
  return { ...body, message, ...(details !== undefined ? { details } : {}) };
}

function unredactedErrorBody(exception: unknown, log: Logger): ErrorBody {
  if (!(exception instanceof JunctionError) && !(exception instanceof HttpException)) {
    // A value that reached Postgres unchecked (NUL, out of range, malformed): the caller's fault.
    const input = databaseInputError(exception);
    if (input) {
      log.warn(
        `request refused by the database: ${input.message} (SQLSTATE ${(input.details as { sqlState: string }).sqlState})`,
      );
      return unredactedErrorBody(input, log);
    }
  }
  if (exception instanceof JunctionError) {
    const statusCode = statusOf(exception.code);
    return {
      statusCode,
      error: REASONS[statusCode] ?? 'Error',
      message: exception.message,
      ...(exception.details !== undefined ? { details: exception.details } : {}),
    };
  }
  if (exception instanceof HttpException) {
    const statusCode = exception.getStatus();
    const response = exception.getResponse();
    let message = exception.message;
    let details: unknown;
    if (typeof response === 'object' && response !== null) {
      const m = (response as { message?: unknown }).message;
      if (Array.isArray(m)) {
        // class-validator's list: keep all of it, in one readable line and as details.
        message = m.join('; ');
        details = { problems: m };
      } else if (typeof m === 'string') {
        message = m;
      }
    }
    if (statusCode === 429) message = 'too many requests; try again later';
    return {
      statusCode,
      error: REASONS[statusCode] ?? 'Error',
      message,
      ...(details ? { details } : {}),
    };
  }
  const fastify = exception as { statusCode?: number; code?: string; message?: string };
  if (
    typeof fastify?.statusCode === 'number' &&
    fastify.statusCode >= 400 &&
    fastify.statusCode < 500
  ) {
    // Fastify's own request errors (body too large, bad JSON, wrong content type).
    const message =
      fastify.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'request body is larger than the limit'
        : (fastify.message ?? 'bad request');
    return {
      statusCode: fastify.statusCode,
      error: REASONS[fastify.statusCode] ?? 'Error',
      message,
    };
  }
  const incident = randomUUID();
  log.error(
    `unexpected error (incident ${incident}): ${(exception as Error)?.stack ?? String(exception)}`,
  );
  return { statusCode: 500, error: REASONS[500], message: `internal error (incident ${incident})` };
}

@Catch()
export class JunctionErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    sendError(host.switchToHttp().getResponse<FastifyReply>(), exception, this.log);
  }
}

/** Answers `exception` in the one error shape (the filter's, and ingest's, which Nest does not route). */
export function sendError(reply: FastifyReply, exception: unknown, log: Logger): void {
  const body = errorBody(exception, log);
  // A route that is saturated or restarting, say: worth trying again in a moment.
  if (exception instanceof JunctionError && exception.retryAfterSeconds !== undefined)
    void reply.header('retry-after', String(exception.retryAfterSeconds));
  void reply
    .status(body.statusCode)
    .header('content-type', 'application/json; charset=utf-8')
    .send(body);
}
