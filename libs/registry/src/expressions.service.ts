import { Inject, Injectable } from '@nestjs/common';
import {
  ExpressionCompileError,
  PipelineError,
  redactPans,
  redactPanText,
  RouteResources,
  type Expression,
} from '@junction/pipeline';
import { ROUTE_RESOURCES } from './registry.tokens';

export interface EvaluateInput {
  expression: string;
  input: unknown;
  headers?: Record<string, string>;
  meta?: unknown;
}

export interface EvaluateResult {
  /** Absent when the expression gives nothing (JSONata's undefined). */
  result?: unknown;
  engine: 'fast' | 'jsonata';
  elapsedMs: number;
  budgetMs: number;
  error?: { message: string; code: string; position?: number; token?: string };
}

/**
 * One expression, evaluated as a route evaluates it: the same engine, limits and guards (a
 * console never evaluates in the browser). Card numbers in a result or a message are redacted.
 */
@Injectable()
export class ExpressionsService {
  constructor(@Inject(ROUTE_RESOURCES) private readonly resources: RouteResources) {}

  async evaluate(input: EvaluateInput): Promise<EvaluateResult> {
    const budgetMs = this.resources.expressions.limits?.timeoutMs ?? 0;
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
    let expression: Expression;
    try {
      expression = this.resources.expressions.compile(input.expression);
      // Its regular expressions are analysed off the event loop, as at a route's save.
      const [refused] = await this.resources.expressions.settle([expression]);
      if (refused) throw new ExpressionCompileError(refused.message, refused.position);
    } catch (err) {
      if (!(err instanceof ExpressionCompileError)) throw err;
      return {
        engine: 'jsonata',
        elapsedMs: elapsed(),
        budgetMs,
        error: {
          message: redactPanText(err.message),
          code: err.engineCode ?? 'EXPRESSION_UNSAFE',
          ...(err.position !== undefined ? { position: err.position } : {}),
          ...(err.token !== undefined ? { token: redactPanText(String(err.token)) } : {}),
        },
      };
    }
    const bindings = {
      headers: Object.fromEntries(
        Object.entries(input.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
      ),
      meta: input.meta ?? {},
    };
    try {
      const { value, engine } = expression.evaluateExplained
        ? await expression.evaluateExplained(input.input, bindings)
        : { value: await expression.evaluate(input.input, bindings), engine: 'jsonata' as const };
      return {
        ...(value !== undefined ? { result: redactPans(value) } : {}),
        engine,
        elapsedMs: elapsed(),
        budgetMs,
      };
    } catch (err) {
      if (!(err instanceof PipelineError)) throw err;
      const details = (err.details ?? {}) as { jsonata?: string; position?: number };
      return {
        engine: 'jsonata',
        elapsedMs: elapsed(),
        budgetMs,
        error: {
          message: redactPanText(err.message),
          code: details.jsonata ?? err.code,
          ...(typeof details.position === 'number' ? { position: details.position } : {}),
        },
      };
    }
  }
}
