import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { containsPan } from '@junction/pipeline';

/** What every log line written while handling one request carries. */
export interface RequestContext {
  requestId: string;
  /** Set by tracing once there is any (the hook for it: every line then carries `traceId`). */
  traceId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The context of the request being handled, if any. */
export function requestContext(): RequestContext | undefined {
  return storage.getStore();
}

/** Runs `fn` (and everything it starts) inside `context`. */
export function runInRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * Tracing's hook: the current request's lines from here on carry this trace id (never one whose
 * hex digits spell a card number: the logger's mixin writes it as is).
 */
export function setTraceId(traceId: string): void {
  const context = storage.getStore();
  if (context && !containsPan(traceId)) context.traceId = traceId;
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The caller's `X-Request-Id` when it is a plain token holding no card number (so one id follows
 * a request through a proxy and the gateway), else a new UUID: a header is never copied into logs
 * unchecked.
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  // A card number is a plain token too; it must not become a field of every line.
  return value !== undefined && SAFE_ID.test(value) && !containsPan(value) ? value : randomUUID();
}
