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
   * Evaluates as `evaluate` does, but gives the value itself when nothing had to wait (the exact
   * fast path), and a Promise only otherwise: a stage then needs no promise per message. Throws
   * the PipelineError `evaluate` would reject with.
   */
  evaluateNow?(input: unknown, bindings: ExpressionBindings): unknown;
  /**
   * Evaluates as `evaluate` does, and says which engine gave the result (the exact fast path, or
   * jsonata-js): for the console's expression tester.
   */
  evaluateExplained?(
    input: unknown,
    bindings: ExpressionBindings,
  ): Promise<{ value: unknown; engine: 'fast' | 'jsonata' }>;
}

/** `expression.evaluateNow`, or `evaluate` for an expression without it: a value, or a Promise of one. */
export function evaluateNow(
  expression: Expression,
  input: unknown,
  bindings: ExpressionBindings,
): unknown {
  return expression.evaluateNow
    ? expression.evaluateNow(input, bindings)
    : expression.evaluate(input, bindings);
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
  /**
   * Wall-clock budget for the ReDoS analysis of every regular expression in one route document,
   * in ms. The analysis runs on a worker thread; a document over budget is refused.
   */
  regexBudgetMs: number;
  /** Most time the analysis of one regular expression may take, in ms. */
  regexPerPatternMs: number;
  /** Most regular expression literals one route document may hold. */
  maxRegexes: number;
  /**
   * Longest expression source, in characters. Parsing is synchronous and grows with the source
   * (about 1-2 ms per thousand characters): this bounds the time one expression holds the thread.
   */
  maxSourceLength: number;
}

export const DEFAULT_LIMITS: ExpressionLimits = {
  timeoutMs: 50,
  maxDepth: 250,
  maxSequence: 100_000,
  maxStringLength: 1_000_000,
  maxResultNodes: 200_000,
  regexStepBudget: 4e8,
  regexBudgetMs: 3000,
  regexPerPatternMs: 1500,
  maxRegexes: 100,
  maxSourceLength: 8_192,
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

/**
 * A regular expression a route matches message data against outside its expressions (a JSON
 * Schema `pattern` in a validate stage). Like an expression's regexes, it runs only once settled.
 */
export interface DataPattern {
  readonly source: string;
  /** Whether `text` matches; throws when the pattern may not run on it (not settled, too long). */
  test(text: string): boolean;
}

/** A part (expression or data pattern) that {@link ExpressionEngine.settle} refused. */
export interface ExpressionProblem {
  part: Expression | DataPattern;
  message: string;
  /** Character offset in the expression's source, where known. */
  position?: number;
}

/**
 * What the expressions of one route document have used so far of the limits they share: passed
 * to every compile of the document, so that a document over a limit is refused at the first
 * expression that crosses it, before the rest are parsed.
 */
export interface DocumentScope {
  regexes: number;
}

/** A compile problem that refuses the whole document: nothing more of it is compiled. */
export class DocumentLimitError extends ExpressionCompileError {}

export interface ExpressionEngine {
  /**
   * Compiles once; throws ExpressionCompileError with the position of the problem. What cannot
   * be checked on this thread without stalling it (the ReDoS analysis of regular expressions) is
   * left to {@link settle}: until then the expression refuses to run those parts.
   */
  compile(source: string, document?: DocumentScope): Expression;
  /** A data pattern (JSON Schema `pattern`); throws ExpressionCompileError if it is no regex. */
  pattern(source: string, flags: string): DataPattern;
  /**
   * Finishes the checks of the expressions and data patterns of one route document off the
   * event loop, under one budget for them all: resolves with one problem per refused part, and
   * lets the others run.
   */
  settle(parts: ReadonlyArray<Expression | DataPattern>): Promise<ExpressionProblem[]>;
  /** The limits every evaluation runs within, when the engine has them. */
  readonly limits?: ExpressionLimits;
}
