import {
  CallHandler,
  ExecutionContext,
  HttpException,
  Injectable,
  NestInterceptor,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { catchError, from, mergeMap, Observable, throwError } from 'rxjs';
import type { Principal } from '@junction/auth';
import {
  ADMIN_CHANGES,
  AdminChange,
  ChangeRequest,
  NOT_CHANGES,
  StateReader,
} from './admin-changes';
import { AuditEventInput } from './audit-rows';
import { AuditTrail } from './audit-trail';
import type { AuditStatePorts } from './audit-ports';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

async function quietly<T>(read: () => Promise<T> | undefined): Promise<T | undefined> {
  try {
    return await read();
  } catch {
    return undefined; // not there (yet, or any more): the change itself says what happened
  }
}

/** Reads states through the ports of the parts that own them (see audit-ports.ts). */
export class ServiceStateReader implements StateReader {
  constructor(private readonly ports: AuditStatePorts) {}

  /** The route with its latest document: an edit's diff shows the version it stored, activated or not. */
  route(id: string): Promise<unknown> {
    return quietly(() => this.ports.routes?.get(id, 'latest'));
  }

  async routeSummary(id: string): Promise<unknown> {
    const view = (await this.route(id)) as Record<string, unknown> | undefined;
    if (!view) return undefined;
    const { document: _document, ...summary } = view;
    return summary;
  }

  connection(name: string): Promise<unknown> {
    return quietly(() => this.ports.connections?.get(name));
  }

  user(id: string): Promise<unknown> {
    return quietly(() => this.ports.users?.get(id));
  }

  /** An API key's state: what it is and whether it is revoked (no use times, never its hash). */
  async apiKey(id: string): Promise<unknown> {
    const key = await quietly(() => this.ports.apiKeys?.get(id));
    if (!key) return undefined;
    const { name, prefix, roles, createdBy, createdAt, expiresAt, revokedAt } = key;
    return { id: key.id, name, prefix, roles, createdBy, createdAt, expiresAt, revokedAt };
  }
}

function failureOf(err: unknown): Record<string, unknown> {
  const e = err as { code?: unknown; message?: unknown };
  return {
    status: err instanceof HttpException ? err.getStatus() : undefined,
    code: typeof e?.code === 'string' ? e.code : undefined,
    message: typeof e?.message === 'string' ? e.message.slice(0, 1000) : 'failed',
  };
}

/**
 * Records every change made through the API (routes, versions, activations, run state,
 * connections, users and their roles, API keys, dead letters): who, when, what, the state
 * before and after and the diff, secrets removed. Denied requests never get here (the guard
 * runs first and reports them to the auth event sink). The answer leaves only once the event
 * is committed, so a change the caller saw succeed is in the trail.
 */
@Injectable()
export class AdminAuditInterceptor implements NestInterceptor {
  constructor(
    private readonly trail: AuditTrail,
    private readonly states: ServiceStateReader,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context
      .switchToHttp()
      .getRequest<FastifyRequest & { user?: Principal; params?: unknown }>();
    const method = request.method.toUpperCase();
    const pattern = request.routeOptions?.url ?? request.url.split('?')[0];
    const key = `${method} ${pattern}`;
    if (!MUTATING.has(method) || !pattern.startsWith('/api/v1/') || NOT_CHANGES.has(key)) {
      return next.handle();
    }
    const change: AdminChange = ADMIN_CHANGES[key] ?? {
      type: 'api.changed',
      targetType: 'api',
      targetId: () => undefined,
      details: () => ({ method, path: pattern }),
    };
    const req: ChangeRequest = {
      params: (request.params ?? {}) as Record<string, string>,
      query: (request.query ?? {}) as Record<string, unknown>,
      body: request.body,
    };
    const base = (): Omit<AuditEventInput, 'type' | 'outcome'> => {
      const user = request.user;
      return {
        actor: user?.name ?? '(anonymous)',
        actorKind: user ? user.kind : 'anonymous',
        provider: user?.provider ?? null,
        ip: request.ip,
      };
    };
    return from(change.before ? change.before(this.states, req) : Promise.resolve(undefined)).pipe(
      mergeMap((before) =>
        next.handle().pipe(
          mergeMap(async (result: unknown) => {
            const after = change.after ? await change.after(this.states, req, result) : result;
            await this.trail.recordEvent({
              ...base(),
              type: change.type,
              outcome: 'success',
              target: this.target(change, req, result),
              details: change.details?.(req, result),
              before,
              after,
            });
            return result;
          }),
          catchError((err: unknown) =>
            from(
              this.trail.recordEvent({
                ...base(),
                type: change.type,
                outcome: 'failure',
                target: this.target(change, req, undefined),
                details: { ...safeDetails(change, req), error: failureOf(err) },
                before,
              }),
            ).pipe(mergeMap(() => throwError(() => err))),
          ),
        ),
      ),
    );
  }

  private target(
    change: AdminChange,
    req: ChangeRequest,
    result: unknown,
  ): AuditEventInput['target'] {
    const id = change.targetId(req, result);
    return id === undefined ? null : { type: change.targetType, id };
  }
}

function safeDetails(change: AdminChange, req: ChangeRequest): Record<string, unknown> {
  try {
    return change.details?.(req, undefined) ?? {};
  } catch {
    return {};
  }
}
