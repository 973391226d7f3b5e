import { Lane } from '../lane';
import {
  BAIL,
  compileFast,
  isSequence,
  jsonLongerThan,
  type FastBindings,
  type FastEvaluator,
} from './fast-path';
import { performance } from 'node:perf_hooks';
import jsonata from 'jsonata';
import { PipelineError } from '../pipeline.error';
import { canonicalJson } from '../schema/unique-items';
import {
  DEFAULT_LIMITS,
  Expression,
  ExpressionBindings,
  ExpressionCompileError,
  ExpressionEngine,
  ExpressionLimits,
  ExpressionProblem,
  DataPattern,
  DocumentLimitError,
  DocumentScope,
} from './expression';
import { RegexAnalyzer, sharedRegexAnalyzer } from './regex-analysis';
import {
  GuardedPattern,
  guardedRegexEngine,
  RegexInputTooLong,
  RegexLiteral,
  RegexSet,
  settleRegexes,
} from './regex-guard';

/** The error objects jsonata-js throws are plain objects, not Error instances. */
interface JsonataFault {
  code?: string;
  message?: string;
  position?: number;
  token?: string;
}

class LimitExceeded extends Error {}

/**
 * JSONata evaluation never waits on I/O here (no async functions are bound), so evaluations take
 * turns (see {@link Lane}): a deadline then measures one expression's own time, and memory does
 * not grow with the number in flight.
 */
const lane = new Lane();

export class JsonataEngine implements ExpressionEngine {
  readonly limits: ExpressionLimits;

  private readonly fastPath: boolean;

  private readonly analyzer: RegexAnalyzer;

  /**
   * `fastPath` (default true): expressions in the common subset (paths with predicates,
   * literals, comparisons, and/or, `in`, `? :`, `&`, arithmetic, object constructors, blocks
   * with variables, lambdas, and the common functions) are evaluated exactly without jsonata-js;
   * see fast-path.ts. `clock` (default Date.now): the time `$now()` and `$millis()` read, once
   * per evaluation, on either path. `stopwatch` (default performance.now): the monotonic
   * milliseconds the time limit is measured in (tests inject one to count instead of wait).
   */
  constructor(
    limits: Partial<ExpressionLimits> = {},
    options: {
      fastPath?: boolean;
      analyzer?: RegexAnalyzer;
      clock?: () => number;
      stopwatch?: () => number;
    } = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.fastPath = options.fastPath ?? true;
    this.analyzer = options.analyzer ?? sharedRegexAnalyzer();
    this.clock = options.clock ?? Date.now;
    this.stopwatch = options.stopwatch ?? (() => performance.now());
  }

  private readonly clock: () => number;

  private readonly stopwatch: () => number;

  compile(source: string, document?: DocumentScope): Expression {
    if (source.length > this.limits.maxSourceLength) {
      throw new ExpressionCompileError(
        `expression is ${source.length} characters long, over the ${this.limits.maxSourceLength}-character limit; split it across stages`,
      );
    }
    let compiled: jsonata.Expression;
    const guards = guardrails(this.limits, this.clock, this.stopwatch);
    try {
      compiled = jsonata(source, guards.options);
    } catch (err) {
      const fault = err as JsonataFault;
      const at = fault.position !== undefined ? ` at position ${fault.position}` : '';
      throw new ExpressionCompileError(
        `JSONata syntax error${at}: ${fault.message ?? String(err)}${fault.code ? ` (${fault.code})` : ''}`,
        fault.position,
        fault.code,
        fault.token,
      );
    }
    // Regexes are analysed off the event loop (settle); until then they refuse to run.
    const literals: RegexLiteral[] = [];
    forEachRegex(compiled.ast(), (regex, position) => literals.push({ regex, position }));
    if (document && (document.regexes += literals.length) > this.limits.maxRegexes) {
      throw new DocumentLimitError(
        `more than ${this.limits.maxRegexes} regular expressions in one route document; use fewer`,
      );
    }
    const regexes = new RegexSet(literals);
    // A match loop ($match, $replace, $split, $contains) is no step: each match is metered.
    guards.options.RegexEngine = guardedRegexEngine(regexes, () =>
      guards.spend(CALL_UNITS),
    ) as unknown as RegExpConstructor;
    // Every step's result is held to the size limits, and so is what `&` is about to stringify.
    compiled.assign(EVALUATE_ENTRY, watchConcat);
    compiled.assign(EVALUATE_EXIT, sizeGuard(this.limits));
    // These allocate their whole result in one call, before any guardrail could look: their
    // arguments are checked first.
    compiled.registerFunction('pad', boundedPad(this.limits.maxStringLength), '<s-ns?:s>');
    compiled.registerFunction('string', boundedString(this.limits.maxStringLength), '<x-b?:s>');
    compiled.registerFunction('join', boundedJoin(this.limits.maxStringLength), '<a<s>s?:s>');
    compiled.registerFunction(
      'fromMillis',
      boundedFromMillis(this.limits.maxStringLength),
      '<n-s?s?:s>',
    );
    // $eval parses code from data, and parsing is synchronous: held to the source limit.
    compiled.registerFunction('eval', boundedEval(this.limits.maxSourceLength), '<sx?:x>');
    // Quadratic in jsonata-js, in calls no time limit reaches: linear, or checked as they go.
    compiled.registerFunction('sort', boundedSort(guards), '<af?:a>');
    compiled.registerFunction('distinct', linearDistinct(guards, this.limits), '<x:x>');
    // One call does work no step measures: over every item, every key, or a function called per
    // item. Each is metered against the time limit as it goes (spreading was also quadratic).
    compiled.registerFunction('spread', meteredSpread(guards), '<x-:a<o>>');
    compiled.registerFunction(
      'replace',
      meteredReplace(guards, this.limits.maxStringLength),
      '<s-(sf)(sf)n?:s>',
    );
    compiled.registerFunction('zip', meteredZip(guards), '<a+>');
    compiled.registerFunction('merge', meteredMerge(guards), '<a<o>:o>');
    compiled.registerFunction('keys', meteredKeys(guards), '<x-:a<s>>');
    compiled.registerFunction('lookup', meteredLookup(guards), '<x-s:x>');
    for (const [name, signature] of HIGHER_ORDER) {
      compiled.registerFunction(name, meteredCalls(name, guards), signature);
    }
    // $now and $millis read the engine's clock, once per evaluation (as jsonata-js fixes them).
    compiled.registerFunction('now', clockedNow(guards, this.limits.maxStringLength), '<s?s?:s>');
    compiled.registerFunction('millis', () => guards.now(), '<:n>');
    return new JsonataExpression(
      source,
      compiled,
      guards,
      this.limits,
      this.fastPath ? compileFast(compiled.ast(), this.limits) : undefined,
      regexes,
      this.clock,
    );
  }

  pattern(source: string, flags: string): DataPattern {
    try {
      return new GuardedPattern(source, flags);
    } catch (err) {
      throw new ExpressionCompileError(
        `/${source}/ is not a valid regular expression: ${(err as Error).message}`,
      );
    }
  }

  async settle(parts: ReadonlyArray<Expression | DataPattern>): Promise<ExpressionProblem[]> {
    const owners = new Map<RegexSet, Expression | DataPattern>();
    for (const part of parts) {
      if (part instanceof JsonataExpression || part instanceof GuardedPattern)
        owners.set(part.regexes, part);
    }
    const problems = await settleRegexes([...owners.keys()], this.analyzer, {
      budgetMs: this.limits.regexBudgetMs,
      perPatternMs: this.limits.regexPerPatternMs,
      maxPatterns: this.limits.maxRegexes,
      stepBudget: this.limits.regexStepBudget,
    });
    return problems.map((p) => ({
      part: owners.get(p.set)!,
      message: p.message,
      position: p.position,
    }));
  }

  /** Compiles and settles one expression on its own: throws ExpressionCompileError if refused. */
  async compileChecked(source: string): Promise<Expression> {
    const expression = this.compile(source);
    const [problem] = await this.settle([expression]);
    if (problem) throw new ExpressionCompileError(problem.message, problem.position);
    return expression;
  }
}

/** jsonata-js's $pad (code-point aware), refusing widths over the string limit. */
function boundedPad(maxString: number) {
  return (str: string | undefined, width: number, char?: string): string | undefined => {
    if (str === undefined) return undefined;
    if (Math.abs(width) > maxString) {
      throw new LimitExceeded(`$pad width ${width} exceeds the ${maxString}-character limit`);
    }
    const fill = char === undefined || char.length === 0 ? ' ' : char;
    const padLength = Math.abs(width) - Array.from(str).length;
    if (padLength <= 0) return str;
    let padding = fill.repeat(padLength);
    if (fill.length > 1) padding = Array.from(padding).slice(0, padLength).join('');
    return width > 0 ? str + padding : padding + str;
  };
}

/** jsonata-js's own $eval, as its static frame binds it (a function object). */
const jsonataEval = jsonata('$eval').evaluate({}) as Promise<{
  implementation: (this: unknown, code: string, focus?: unknown) => Promise<unknown>;
}>;
jsonataEval.catch(() => undefined);

/**
 * jsonata-js's $eval (same frame, so the same time and depth guards, and the same regex guard:
 * a regex in the code was never analysed and is refused), refusing code longer than an
 * expression may be, whose parsing would hold the thread.
 */
function boundedEval(maxSource: number) {
  return async function (this: unknown, code: string | undefined, focus?: unknown) {
    if (typeof code === 'string' && code.length > maxSource) {
      throw new LimitExceeded(
        `$eval code is ${code.length} characters long, over the ${maxSource}-character limit of an expression`,
      );
    }
    const original = await jsonataEval;
    return arguments.length > 1
      ? original.implementation.call(this, code!, focus)
      : original.implementation.call(this, code!);
  };
}

/** A function object of jsonata-js's static frame. */
interface Native {
  implementation: (this: unknown, ...args: unknown[]) => unknown;
}

function native(name: string): Promise<Native> {
  const fn = jsonata(`$${name}`).evaluate({}) as Promise<Native>;
  fn.catch(() => undefined);
  return fn;
}

/** jsonata-js's own builtins that Junction calls after checking their arguments. */
const natives = {
  string: native('string'),
  join: native('join'),
  fromMillis: native('fromMillis'),
  replace: native('replace'),
  map: native('map'),
  filter: native('filter'),
  single: native('single'),
  reduce: native('reduce'),
  each: native('each'),
  sift: native('sift'),
};

/** jsonata-js's builtins that call a function per item or key, with their signatures. */
const HIGHER_ORDER = [
  ['map', '<af>'],
  ['filter', '<af>'],
  ['single', '<af?>'],
  ['reduce', '<afj?:j>'],
  ['each', '<o-f:a>'],
  ['sift', '<o-f?:o>'],
] as const;

/** jsonata-js's $now, at the evaluation's time as the engine's clock gave it. */
function clockedNow(guards: Guardrails, maxString: number) {
  return async function (this: unknown, picture?: string, timezone?: string) {
    checkPicture(picture, maxString, '$now');
    const fromMillis = await natives.fromMillis;
    return fromMillis.implementation.call(this, guards.now(), picture, timezone);
  };
}

/**
 * The longest array a step may build or hand on (from the input too): a sequence's limit. A
 * `$split` of the longest string into characters (a million) is refused: each builtin handed such
 * an array held the thread ten times as long in one call (`$zip` of two, 850 ms).
 */
export function maxArrayLength(limits: ExpressionLimits): number {
  return limits.maxSequence;
}

/** The symbols jsonata-js's evaluate looks up before and after every step. */
const EVALUATE_ENTRY = Symbol.for('jsonata.__evaluate_entry') as unknown as string;
const EVALUATE_EXIT = Symbol.for('jsonata.__evaluate_exit') as unknown as string;

/** Steps whose value `&` will stringify (jsonata-js's fn.string, which no argument check reaches). */
const concatOperands = new WeakSet<object>();

/** Marks the operands of a `&` as it starts (also in code `$eval` parsed from data). */
function watchConcat(expr: { type?: string; value?: unknown; lhs?: object; rhs?: object }): void {
  if (expr.type === 'binary' && expr.value === '&') {
    if (expr.lhs) concatOperands.add(expr.lhs);
    if (expr.rhs) concatOperands.add(expr.rhs);
  }
}

/**
 * Holds every step's value to the limits, so that no builtin is ever handed a string or an array
 * it would blow up in one synchronous call (`$length` makes an array of a string's characters:
 * past V8's largest array the process aborts). A step builds at most a few times the size of its
 * arguments, which were held to the limits in turn.
 */
function sizeGuard(limits: ExpressionLimits) {
  const maxString = limits.maxStringLength;
  const maxArray = maxArrayLength(limits);
  return (expr: object, _input: unknown, _environment: unknown, result: unknown): void => {
    if (typeof result === 'string') {
      if (result.length > maxString) throw stringTooLong(maxString);
    } else if (typeof result === 'object' && result !== null) {
      if (Array.isArray(result) && result.length > maxArray)
        throw new LimitExceeded(
          `expression built or read an array longer than ${maxArray} items (the sequence limit)`,
        );
      if (concatOperands.has(expr) && jsonLongerThan(result, maxString))
        throw new LimitExceeded(`& would build a string longer than ${maxString} characters`);
    }
  };
}

function stringTooLong(maxString: number): LimitExceeded {
  return new LimitExceeded(`expression built a string longer than ${maxString} characters`);
}

/** jsonata-js's $string, refusing a value whose JSON would be over the string limit. */
function boundedString(maxString: number) {
  // The parameters are jsonata-js's own: $reduce and $sort look at how many a function takes.
  // One declared parameter, as fn.string's `prettify = false`: $map hands it only the item.
  return async function (this: unknown, value: unknown, ...rest: [prettify?: boolean]) {
    if (typeof value === 'object' && value !== null && jsonLongerThan(value, maxString)) {
      throw stringTooLong(maxString);
    }
    const original = await natives.string;
    return original.implementation.call(this, value, rest[0]);
  };
}

/** jsonata-js's $join, refusing a join over the string limit before it is built. */
function boundedJoin(maxString: number) {
  return async function (this: unknown, strings?: string[], separator?: string) {
    if (Array.isArray(strings)) {
      let size = (separator?.length ?? 0) * Math.max(0, strings.length - 1);
      for (const item of strings) size += typeof item === 'string' ? item.length : 0;
      if (size > maxString) throw stringTooLong(maxString);
    }
    const original = await natives.join;
    return original.implementation.call(this, strings, separator);
  };
}

/**
 * jsonata-js's $sort: a stable merge sort making the same comparisons in the same order, without
 * its copying. jsonata-js merges by slicing off one item per step (`right.slice(1)`), quadratic in
 * time and memory, and its default comparator (or a native one such as `$contains`) is no step of
 * an evaluation, so no time limit looked: a viewer's `$sort([1..99999])` grew the heap past 4 GB
 * and the process died. The default order sorts in one call (V8's sort is stable, and `a > b` on
 * numbers alone or strings alone is a strict order); with a comparator, the evaluation's time
 * limit is checked before each comparison.
 */
function boundedSort(guards: Guardrails) {
  return async function (
    this: unknown,
    arr: unknown[] | undefined,
    comparator?: (a: unknown, b: unknown) => unknown,
  ): Promise<unknown[] | undefined> {
    if (arr === undefined) return undefined;
    if (arr.length <= 1) return arr;
    if (comparator === undefined) {
      const numbers = arr.every((v) => typeof v === 'number');
      if (!numbers && !arr.every((v) => typeof v === 'string'))
        throw { stack: new Error().stack, code: 'D3070', index: 1 };
      return arr.slice().sort((a, b) => ((a as number) > (b as number) ? 1 : a < b ? -1 : 0));
    }
    const compare = comparator;
    const msort = async (from: number, to: number): Promise<unknown[]> => {
      if (to - from <= 1) return arr.slice(from, to);
      const middle = from + Math.floor((to - from) / 2);
      const left = await msort(from, middle);
      const right = await msort(middle, to);
      const merged: unknown[] = [];
      let i = 0;
      let j = 0;
      while (i < left.length && j < right.length) {
        // The time limit, as every step of an evaluation reads it.
        if (guards.options.timeout) throw timeoutFault();
        if (await compare(left[i], right[j])) merged.push(right[j++]);
        else merged.push(left[i++]);
      }
      while (i < left.length) merged.push(left[i++]);
      while (j < right.length) merged.push(right[j++]);
      return merged;
    };
    return msort(0, arr.length);
  };
}

/**
 * jsonata-js's $distinct (the first of each value, in order; values equal as jsonata-js's deep
 * equality has it), in linear time: each JSON value is looked up by its canonical text. jsonata-js
 * compares every item with every value kept so far, in one synchronous call: 30,000 distinct
 * numbers held the event loop 1.7 s, and the 170,000 numbers of a 1 MiB message a route
 * de-duplicates would hold it a minute. Values that are not JSON data (functions) are compared
 * as jsonata-js does.
 */
function linearDistinct(guards: Guardrails, limits: ExpressionLimits) {
  return function (this: unknown, arr: unknown): unknown {
    return distinctOf(this as Focus, arr, guards, limits.maxStringLength);
  };
}

function distinctOf(focus: Focus, arr: unknown, guards: Guardrails, maxString: number): unknown {
  if (arr === undefined) return undefined;
  if (!Array.isArray(arr) || arr.length <= 1) return arr;
  const results = isSequence(arr) ? focus.createSequence() : [];
  // Strings, numbers, booleans and null by value (a Set's equality is ===, but for NaN, which
  // JSONata never makes); objects and arrays by canonical text.
  const primitives = new Set<unknown>();
  const seen = new Set<string>();
  const others: unknown[] = [];
  for (const value of arr) {
    guards.spend(1);
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
      if (primitives.has(value)) continue;
      primitives.add(value);
      results.push(value);
      continue;
    }
    // Each item's text is bounded (one object referred to many times would be written out whole
    // each time), and its length metered.
    if (jsonLongerThan(value, maxString)) {
      throw new LimitExceeded(
        `$distinct of a value whose JSON is longer than ${maxString} characters`,
      );
    }
    const key = jsonKey(value);
    guards.spend(key === undefined ? 1 : key.length >> 4);
    if (key === undefined) {
      if (others.some((other) => jsonataDeepEqual(value, other))) continue;
      others.push(value);
    } else {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    results.push(value);
  }
  return results;
}

/** What jsonata-js hands a builtin as `this`: the evaluation's sequence maker (a guarded push) and options. */
interface Focus {
  createSequence(): unknown[];
  options?: { sequence?: number };
}

/** jsonata-js's isFunction. */
function isJsonataFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (value === null || typeof value !== 'object') return false;
  const flags = value as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return flags._jsonata_function === true || flags._jsonata_lambda === true;
}

/**
 * jsonata-js's $spread (an object as objects of one key each; an array's items spread and
 * appended in turn), in linear time: jsonata-js appended each item's spread with `concat`, a
 * copy of everything so far, and `$spread([1..99999])` held the thread 77 s.
 */
function meteredSpread(guards: Guardrails) {
  const spread = (focus: Focus, arg: unknown): unknown => {
    if (Array.isArray(arg)) {
      // fn.append: an undefined spread is skipped; any other, even an empty array, makes the
      // result a plain array (concat's copy, no sequence).
      const max = focus.options?.sequence;
      let out: unknown[] | undefined;
      for (const item of arg) {
        guards.spend(1);
        const part = spread(focus, item);
        if (part === undefined) continue;
        out ??= [];
        const size = out.length + (Array.isArray(part) ? part.length : 1);
        if (max && size > max) throw { code: 'D2015', stack: new Error().stack, value: size };
        if (Array.isArray(part)) for (const value of part) out.push(value);
        else out.push(part);
      }
      return out ?? focus.createSequence();
    }
    if (
      arg !== null &&
      typeof arg === 'object' &&
      (arg as { _jsonata_lambda?: unknown })._jsonata_lambda !== true
    ) {
      const result = focus.createSequence();
      for (const key of Object.keys(arg)) {
        guards.spend(1);
        const one = Object.create(null) as Record<string, unknown>;
        one[key] = (arg as Record<string, unknown>)[key];
        result.push(one);
      }
      return result;
    }
    return arg;
  };
  return function (this: unknown, arg: unknown): unknown {
    return spread(this as Focus, arg);
  };
}

/**
 * jsonata-js's $replace. A string pattern is replaced here, metered per match and held to the
 * string limit as it grows (a million one-character matches held the thread 600 ms); a regex is
 * jsonata-js's, each match metered by the regex engine.
 */
function meteredReplace(guards: Guardrails, maxString: number) {
  return async function (
    this: unknown,
    str: string | undefined,
    pattern: unknown,
    replacement: unknown,
    limit?: number,
  ): Promise<unknown> {
    if (str === undefined) return undefined;
    if (typeof pattern !== 'string' || typeof replacement !== 'string' || pattern === '') {
      const original = await natives.replace;
      return arguments.length > 3
        ? original.implementation.call(this, str, pattern, replacement, limit)
        : original.implementation.call(this, str, pattern, replacement);
    }
    if (limit !== undefined && limit < 0)
      throw { code: 'D3011', stack: new Error().stack, value: limit, index: 4 };
    if (limit !== undefined && limit <= 0) return str;
    let result = '';
    let position = 0;
    let count = 0;
    let index = str.indexOf(pattern, position);
    while (index !== -1 && (limit === undefined || count < limit)) {
      guards.spend(1);
      result += str.substring(position, index) + replacement;
      if (result.length > maxString) throw stringTooLong(maxString);
      position = index + pattern.length;
      count++;
      index = str.indexOf(pattern, position);
    }
    return result + str.substring(position);
  };
}

/** jsonata-js's $zip (the i-th items of each array, up to the shortest), metered per item. */
function meteredZip(guards: Guardrails) {
  return function (): unknown[] {
    // Any number of arrays, and no named parameter (partial application reads them), as jsonata-js's.
    // eslint-disable-next-line prefer-rest-params
    const args = Array.prototype.slice.call(arguments) as unknown[];
    const result: unknown[] = [];
    const length = Math.min(...args.map((arg) => (Array.isArray(arg) ? arg.length : 0)));
    for (let i = 0; i < length; i++) {
      guards.spend(args.length);
      result.push(args.map((arg) => (arg as unknown[])[i]));
    }
    return result;
  };
}

/** jsonata-js's $merge (later keys win), metered per key: one big object may be listed many times. */
function meteredMerge(guards: Guardrails) {
  return function (arg: unknown[] | undefined): unknown {
    if (arg === undefined) return undefined;
    const result = Object.create(null) as Record<string, unknown>;
    for (const obj of arg) {
      const keys = typeof obj === 'object' && obj !== null ? Object.keys(obj) : [];
      guards.spend(1 + keys.length);
      for (const key of keys) result[key] = (obj as Record<string, unknown>)[key];
    }
    return result;
  };
}

/** jsonata-js's $keys (of an array: every item's keys, once each), metered per key. */
function meteredKeys(guards: Guardrails) {
  const keys = (focus: Focus, arg: unknown): unknown[] => {
    let result = focus.createSequence();
    if (Array.isArray(arg)) {
      const merged = Object.create(null) as Record<string, boolean>;
      for (const item of arg) {
        const all = keys(focus, item);
        guards.spend(1 + all.length);
        for (const key of all) merged[key as string] = true;
      }
      result = keys(focus, merged);
    } else if (arg !== null && typeof arg === 'object' && !isJsonataFunction(arg)) {
      const all = Object.keys(arg);
      guards.spend(all.length);
      for (const key of all) result.push(key);
    }
    return result;
  };
  return function (this: unknown, arg: unknown): unknown[] {
    return keys(this as Focus, arg);
  };
}

/** jsonata-js's $lookup (of an array: each item's value, arrays flattened), metered per item. */
function meteredLookup(guards: Guardrails) {
  const lookup = (focus: Focus, input: unknown, key: string): unknown => {
    if (Array.isArray(input)) {
      const result = focus.createSequence();
      for (const item of input) {
        guards.spend(1);
        const value = lookup(focus, item, key);
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const v of value) result.push(v);
        else result.push(value);
      }
      return result;
    }
    if (
      input !== null &&
      typeof input === 'object' &&
      Object.prototype.hasOwnProperty.call(input, key) &&
      !isJsonataFunction(input)
    )
      return (input as Record<string, unknown>)[key];
    return undefined;
  };
  return function (this: unknown, input: unknown, key: string): unknown {
    return lookup(this as Focus, input, key);
  };
}

/**
 * jsonata-js's own higher-order builtin `name`, with each call of its function argument metered:
 * a lambda's steps meet the time limit, but a builtin handed as the function (`$map(a,
 * $uppercase)`) is no step, and 100,000 calls of it held the thread.
 */
function meteredCalls(name: (typeof HIGHER_ORDER)[number][0], guards: Guardrails) {
  const call = async function (this: unknown, args: unknown[]): Promise<unknown> {
    const metered = args.map((arg) => {
      if (typeof arg !== 'function') return arg;
      const fn = arg as ((...a: unknown[]) => unknown) & { arity?: number };
      const wrapped = function (this: unknown, ...params: unknown[]): unknown {
        guards.spend(CALL_UNITS);
        return fn.apply(this, params);
      };
      // jsonata-js hands a function only the arguments its arity asks for.
      (wrapped as { arity?: number }).arity = fn.arity ?? fn.length;
      return wrapped;
    });
    const original = await natives[name];
    return original.implementation.apply(this, metered);
  };
  // Named parameters as jsonata-js's own: partial application (`$map(?, $f)`) reads them from the
  // function's source, and a function's arity is how many it declares.
  if (name === 'reduce') {
    return function (this: unknown, _sequence: unknown, _func: unknown, _init?: unknown) {
      // eslint-disable-next-line prefer-rest-params
      return call.call(this, Array.prototype.slice.call(arguments) as unknown[]);
    };
  }
  return function (this: unknown, _arr: unknown, _func: unknown) {
    // eslint-disable-next-line prefer-rest-params
    return call.call(this, Array.prototype.slice.call(arguments) as unknown[]);
  };
}

/** canonicalJson of a JSON value (plain objects, arrays, strings, finite numbers, booleans, null), else undefined. */
function jsonKey(value: unknown): string | undefined {
  return isJsonData(value, 0) ? canonicalJson(value) : undefined;
}

function isJsonData(value: unknown, depth: number): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (depth > 256) return false;
      if (Array.isArray(value)) return value.every((item) => isJsonData(item, depth + 1));
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      // Deep equality reads every own key (getOwnPropertyNames); JSON data has only enumerable ones.
      const names = Object.getOwnPropertyNames(value);
      if (names.length !== Object.keys(value).length) return false;
      return names.every((name) => {
        const item = (value as Record<string, unknown>)[name];
        return item !== undefined && isJsonData(item, depth + 1);
      });
    }
    default:
      return false;
  }
}

/** jsonata-js's isDeepEqual, for the values that are no JSON data. */
function jsonataDeepEqual(lhs: unknown, rhs: unknown): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs !== 'object' || typeof rhs !== 'object' || lhs === null || rhs === null)
    return false;
  if (Array.isArray(lhs) && Array.isArray(rhs)) {
    return lhs.length === rhs.length && lhs.every((item, i) => jsonataDeepEqual(item, rhs[i]));
  }
  const lkeys = Object.getOwnPropertyNames(lhs).sort();
  const rkeys = Object.getOwnPropertyNames(rhs).sort();
  if (lkeys.length !== rkeys.length || lkeys.some((key, i) => key !== rkeys[i])) return false;
  return lkeys.every((key) =>
    jsonataDeepEqual((lhs as Record<string, unknown>)[key], (rhs as Record<string, unknown>)[key]),
  );
}

/** jsonata-js's $fromMillis, refusing a picture whose widths alone pass the string limit. */
function boundedFromMillis(maxString: number) {
  return async function (this: unknown, millis?: number, picture?: string, timezone?: string) {
    checkPicture(picture, maxString, '$fromMillis');
    const original = await natives.fromMillis;
    return original.implementation.call(this, millis, picture, timezone);
  };
}

/**
 * A date picture's width modifiers (`[Y,8]`, `[Y,8-10]`) pad each component to at least that
 * many characters, in one call: their sum is refused over the string limit.
 */
function checkPicture(picture: unknown, maxString: number, name: string): void {
  if (typeof picture !== 'string' || !picture.includes(',')) return;
  let width = 0;
  // As jsonata-js reads a picture: `[[` and `]]` are literal brackets, spaces in a marker ignored.
  const markers = picture.replace(/\[\[|\]\]/g, '').match(/\[[^\]]*\]?/g) ?? [];
  for (const marker of markers) {
    const content = marker.replace(/[\s[\]]/g, '');
    const comma = content.lastIndexOf(',');
    if (comma === -1) continue;
    const min = parseInt(content.substring(comma + 1).split('-')[0], 10);
    if (Number.isFinite(min)) width += min;
  }
  if (width > maxString) {
    throw new LimitExceeded(
      `${name} picture pads to ${width} characters, over the ${maxString}-character limit`,
    );
  }
}

/** How many evaluation steps pass between two looks at the clock. */
const CLOCK_EVERY = 32;

interface Guardrails {
  options: jsonata.JsonataOptions;
  /** Starts the clock of one evaluation (evaluations take turns, so one clock per expression serves). */
  start(): void;
  /** The evaluation's time for $now and $millis: the clock read once, at the first use. */
  now(): number;
  /**
   * Counts `units` of a builtin's work (an item, a key, a call, a match): past the time limit it
   * throws jsonata's timeout (D1012). The clock is read once in WORK_PER_LOOK units.
   */
  spend(units: number): void;
}

/** How many units of a builtin's work (each well under a microsecond) pass between two looks at the clock. */
const WORK_PER_LOOK = 1024;

/**
 * The units of one call of a function argument, or one match of a regex: far more than an item's,
 * as the work of one (`$append` of what is folded so far, a match and its replacement) grows with
 * the data. The clock is read once in 32 of them, as once in 32 steps.
 */
const CALL_UNITS = WORK_PER_LOOK / 32;

/** jsonata-js's timeout error, as its own guard throws it. */
function timeoutFault(): JsonataFault & { stack?: string } {
  return { stack: new Error().stack, code: 'D1012' };
}

/**
 * jsonata-js checks its guardrails on every step of an evaluation, and reading the clock on each
 * one costs more than a tenth of a realistic mapping. Its check reads `options.timeout` first and
 * looks at the clock only when that is positive; so `timeout` is a getter that says 0 ("no
 * limit") and itself reads the clock once in CLOCK_EVERY steps. Past the deadline it says 1, and
 * jsonata's own check then fails the evaluation with its timeout error (D1012), as it would have.
 * Depth and sequence guards stay on every step.
 */
function guardrails(
  limits: ExpressionLimits,
  clock: () => number,
  stopwatch: () => number,
): Guardrails {
  let steps = 0;
  let work = 0;
  let deadline = Infinity;
  let time: number | undefined;
  return {
    options: {
      get timeout(): number {
        if (++steps % CLOCK_EVERY !== 0) return 0;
        return stopwatch() > deadline ? 1 : 0;
      },
      stack: limits.maxDepth,
      sequence: limits.maxSequence,
    },
    start() {
      deadline = stopwatch() + limits.timeoutMs;
      time = undefined;
      work = 0;
    },
    now() {
      return (time ??= clock());
    },
    spend(units) {
      if ((work += units) < WORK_PER_LOOK) return;
      work = 0;
      if (stopwatch() > deadline) throw timeoutFault();
    },
  };
}

class JsonataExpression implements Expression {
  constructor(
    readonly source: string,
    private readonly compiled: jsonata.Expression,
    private readonly guards: Guardrails,
    private readonly limits: ExpressionLimits,
    /** Exact synchronous evaluation when the expression is in the common subset (see fast-path.ts). */
    private readonly fast: FastEvaluator | undefined,
    /** Its regular expression literals, allowed to run once settled. */
    readonly regexes: RegexSet,
    private readonly clock: () => number,
  ) {}

  /** True when this expression has a fast evaluator (for tests and the bench). */
  get isFast(): boolean {
    return this.fast !== undefined;
  }

  evaluate(input: unknown, bindings: ExpressionBindings): Promise<unknown> {
    try {
      const value = this.evaluateNow(input, bindings);
      return value instanceof Promise ? value : Promise.resolve(value);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  evaluateNow(input: unknown, bindings: ExpressionBindings): unknown {
    // The hot path: no wrapping of the result (see evaluateExplained for the console's tester).
    if (this.fast) {
      const result = this.fast(input, bindings as unknown as FastBindings, this.clock);
      if (result !== BAIL) {
        try {
          return fastResult(result, this.limits);
        } catch (err) {
          throw toPipelineError(err, this.limits);
        }
      }
    }
    return this.slow(input, bindings);
  }

  async evaluateExplained(
    input: unknown,
    bindings: ExpressionBindings,
  ): Promise<{ value: unknown; engine: 'fast' | 'jsonata' }> {
    if (this.fast) {
      const result = this.fast(input, bindings as unknown as FastBindings, this.clock);
      if (result !== BAIL) {
        try {
          return { value: fastResult(result, this.limits), engine: 'fast' };
        } catch (err) {
          throw toPipelineError(err, this.limits);
        }
      }
    }
    return { value: await this.slow(input, bindings), engine: 'jsonata' };
  }

  private slow(input: unknown, bindings: ExpressionBindings): Promise<unknown> {
    return lane.run(() => {
      this.guards.start();
      return this.compiled.evaluate(input, bindings as unknown as Record<string, unknown>).then(
        (result: unknown) => plainResult(result, this.limits),
        (err: unknown) => {
          throw toPipelineError(err, this.limits);
        },
      );
    });
  }
}

function toPipelineError(err: unknown, limits: ExpressionLimits): PipelineError {
  if (err instanceof PipelineError) return err;
  if (err instanceof LimitExceeded || err instanceof RegexInputTooLong) {
    return new PipelineError('EXPRESSION_LIMIT', err.message, undefined, undefined, { cause: err });
  }
  if (err instanceof RangeError) {
    // Stack overflow or an allocation V8 refused: the expression outgrew the process.
    return new PipelineError(
      'EXPRESSION_LIMIT',
      `expression exceeded a runtime limit: ${err.message}`,
      undefined,
      undefined,
      { cause: err },
    );
  }
  const fault = (err ?? {}) as JsonataFault;
  const code = fault.code ?? 'unknown';
  if (code === 'D1012') {
    return new PipelineError(
      'EXPRESSION_LIMIT',
      `expression ran longer than ${limits.timeoutMs} ms`,
      undefined,
      { jsonata: code },
      { cause: err },
    );
  }
  if (code === 'D1011') {
    return new PipelineError(
      'EXPRESSION_LIMIT',
      `expression nested deeper than ${limits.maxDepth} levels (runaway recursion?)`,
      undefined,
      { jsonata: code },
      { cause: err },
    );
  }
  if (code === 'D2014' || code === 'D2015') {
    return new PipelineError(
      'EXPRESSION_LIMIT',
      `expression built a sequence longer than ${limits.maxSequence} items`,
      undefined,
      { jsonata: code },
      { cause: err },
    );
  }
  const at = fault.position !== undefined ? ` at position ${fault.position}` : '';
  const message = `${fault.message ?? String(err)} (${code}${at})`;
  return new PipelineError(
    'EXPRESSION_FAILED',
    message,
    undefined,
    { jsonata: code, position: fault.position },
    { cause: err },
  );
}

/** The limits both result walks hold every value to: how many, how long a string, how deep. */
class ResultBudget {
  private left: number;

  constructor(private readonly limits: ExpressionLimits) {
    this.left = limits.maxResultNodes;
  }

  /** Counts `value` and checks it; true when it is an object or array whose members come next. */
  walkInto(value: unknown, depth: number): value is object {
    const { maxResultNodes, maxStringLength, maxDepth } = this.limits;
    if (--this.left < 0)
      throw new PipelineError(
        'EXPRESSION_LIMIT',
        `expression result has more than ${maxResultNodes} values`,
      );
    if (typeof value === 'string' && value.length > maxStringLength)
      throw new PipelineError(
        'EXPRESSION_LIMIT',
        `expression result holds a string longer than ${maxStringLength} characters`,
      );
    if (value === null || typeof value !== 'object') return false;
    if (depth > maxDepth)
      throw new PipelineError(
        'EXPRESSION_LIMIT',
        `expression result is nested deeper than ${maxDepth} levels`,
      );
    return true;
  }
}

/**
 * Copies a result into plain JSON data, within a budget. jsonata-js builds objects in V8's slow
 * dictionary mode and arrays that carry extra own properties (`sequence`, a guarded `push`), which
 * make every later stage, the size check and serialisation slower; one walk here bounds the result
 * and hands on data shaped as if it had been parsed from JSON (functions dropped, as JSON would).
 */
function plainResult(result: unknown, limits: ExpressionLimits): unknown {
  const budget = new ResultBudget(limits);
  const copy = (value: unknown, depth: number): unknown => {
    if (!budget.walkInto(value, depth)) return typeof value === 'function' ? undefined : value;
    if (Array.isArray(value)) {
      const out = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) {
        const item = copy(value[i], depth + 1);
        out[i] = item === undefined ? null : item;
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const key in value) {
      const item = copy((value as Record<string, unknown>)[key], depth + 1);
      if (item !== undefined) out[key] = item;
    }
    return out;
  };
  return copy(result, 0);
}

/**
 * A fast-path result checked as {@link plainResult} checks one, without copying it: the fast path
 * builds plain objects and hands on parts of its input, which are plain data already. Only its
 * own sequences (arrays marked for it) are copied, and any object or array on the way to one.
 */
function fastResult(result: unknown, limits: ExpressionLimits): unknown {
  const budget = new ResultBudget(limits);
  const check = (value: unknown, depth: number): unknown => {
    if (!budget.walkInto(value, depth)) return typeof value === 'function' ? undefined : value;
    if (Array.isArray(value)) {
      let out: unknown[] = isSequence(value) ? value.slice() : value;
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        let checked = check(item, depth + 1);
        if (checked === undefined) checked = null;
        if (checked !== item) {
          if (out === value) out = value.slice();
          out[i] = checked;
        }
      }
      return out;
    }
    let out = value as Record<string, unknown>;
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      const checked = check(item, depth + 1);
      if (checked !== item) {
        if (out === value) out = { ...out };
        if (checked === undefined) delete out[key];
        else out[key] = checked;
      }
    }
    return out;
  };
  return check(result, 0);
}

function forEachRegex(
  node: unknown,
  visit: (regex: RegExp, position: number | undefined) => void,
): void {
  const seen = new Set<unknown>();
  const stack: unknown[] = [node];
  while (stack.length > 0) {
    const current = stack.pop();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const record = current as { type?: string; value?: unknown; position?: number };
    if (record.type === 'regex' && record.value instanceof RegExp) {
      visit(record.value, record.position);
    }
    for (const child of Object.values(current)) stack.push(child);
  }
}
