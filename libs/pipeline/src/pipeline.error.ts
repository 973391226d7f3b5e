import { redactPans, redactPanText } from './pan/pan-detector';

/** Why one message could not pass a route. The code tells the runtime what to do with it. */
export type PipelineErrorCode =
  /** The body failed its JSON Schema. Never retried: the same body fails again. */
  | 'SCHEMA_FAILED'
  /** A JSONata expression threw while evaluating. */
  | 'EXPRESSION_FAILED'
  /** A JSONata expression ran past a time, depth or size limit. */
  | 'EXPRESSION_LIMIT'
  /** A mask rule could not be applied; the message is stopped rather than leak. */
  | 'MASK_FAILED'
  /** The input itself is outside what the engine accepts (too deep, not JSON-like). */
  | 'INPUT_REJECTED'
  /** A bug: a stage threw something it should not have. The message fails, the worker goes on. */
  | 'INTERNAL';

/**
 * Errors quote values (`$error("...")`, a cast of `"4111 1111 ..."`, a JSON parse error, a key
 * in a schema error's path), and their text reaches the dead-letter table and API, route status,
 * the ingest reply, broker headers and logs. So card numbers are redacted here, where the text
 * is made, once for every later path.
 */
export class PipelineError extends Error {
  override readonly name = 'PipelineError';

  /** Structured detail safe to show an operator (never the payload; card numbers redacted). */
  readonly details?: unknown;

  constructor(
    readonly code: PipelineErrorCode,
    message: string,
    /** Which stage or destination failed, e.g. `pipeline/2 (mask)`. */
    readonly where?: string,
    details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(redactPanText(message), options);
    this.details = redactPans(details);
  }
}

/** One problem in a route document, located by the JSON pointer of the field. */
export interface RouteProblem {
  pointer: string;
  message: string;
  /** Where in the source text (1-based), when the document came as text. */
  line?: number;
  column?: number;
  /** The other route a conflict is with (`POST /routes/validate`: its path, or where it reads). */
  routeId?: string;
}

export class RouteValidationError extends Error {
  override readonly name = 'RouteValidationError';
  readonly code = 'ROUTE_INVALID' as const;

  constructor(readonly problems: RouteProblem[]) {
    super(
      `route document is invalid:\n${problems
        .map(
          (p) =>
            `  ${p.pointer || '/'}${p.line !== undefined ? ` (line ${p.line}, column ${p.column})` : ''}: ${p.message}`,
        )
        .join('\n')}`,
    );
  }
}
