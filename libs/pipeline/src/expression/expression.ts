/**
 * The one seam between stages and the expression language. JSONata dominates the cost of a
 * message, so everything that evaluates an expression goes through this interface and a faster
 * engine can replace jsonata-js without touching a stage.
 */
export interface Expression {
  readonly source: string;
  /** Evaluates with `$` bound to `input`; rejects with a PipelineError on failure or limit. */
  evaluate(input: unknown, bindings: ExpressionBindings): Promise<unknown>;
  /**
   * Evaluates as `evaluate` does, and says which engine gave the result (the exact fast path, or
   * jsonata-js): for the console's expression tester.
   */
  evaluateExplained?(
    input: unknown,
    bindings: ExpressionBindings,
  ): Promise<{ value: unknown; engine: 'fast' | 'jsonata' }>;
}

export interface ExpressionBindings {
  headers: Record<string, string>;
  meta: unknown;
}

export interface ExpressionLimits {
  /** Wall-clock budget of one evaluation, in ms. */
  timeoutMs: number;
  /** Deepest nesting of evaluation (recursion) allowed. */
  maxDepth: number;
  /** Longest sequence an evaluation may build. */
  maxSequence: number;
  /** Largest string an evaluation may build or return, in characters. */
  maxStringLength: number;
  /** Most values (array items, object members, scalars) in a result. */
  maxResultNodes: number;
  /**
   * Worst-case backtracking steps a regex may take. Patterns that can take exponential time are
   * refused at compile time; polynomial ones run only on inputs short enough to stay within this.
   */
  regexStepBudget: number;
}

export const DEFAULT_LIMITS: ExpressionLimits = {
  timeoutMs: 50,
  maxDepth: 250,
  maxSequence: 100_000,
  maxStringLength: 1_000_000,
  maxResultNodes: 200_000,
  regexStepBudget: 4e8,
};

/** A syntax or safety problem found while compiling; `position` is a character offset. */
export class ExpressionCompileError extends Error {
  override readonly name = 'ExpressionCompileError';
  constructor(
    message: string,
    readonly position?: number,
    /** The engine's own error code (JSONata: S0201 and so on), when it gives one. */
    readonly engineCode?: string,
    /** The token at the problem, when the engine names it. */
    readonly token?: string,
  ) {
    super(message);
  }
}

export interface ExpressionEngine {
  /** Compiles once; throws ExpressionCompileError with the position of the problem. */
  compile(source: string): Expression;
  /** The limits every evaluation runs within, when the engine has them. */
  readonly limits?: ExpressionLimits;
}
