/**
 * Exact, synchronous evaluation of the part of JSONata that most routes are written in: field
 * paths (`customer.email`, `items.sku`, `$headers.'x-channel'`, `$.id`, `$$.id`), predicates
 * (`items[price > 10]`, `items[0]`), literals, comparisons, `and`/`or`, `in` a list of literals,
 * `? :`, `&`, arithmetic, object constructors with literal keys (`{ "orderId": id }`, and per
 * item: `items.{ "sku": sku }`), blocks with variable bindings, lambdas (bound in a block or
 * handed to `$map`, `$filter`, `$reduce`), and the functions in {@link FUNCTIONS}. jsonata-js
 * evaluates every step through promises and builds sequences for each path; for such expressions
 * that costs ten to thirty times the work itself, and most of a route's garbage.
 *
 * The rules follow jsonata-js's own evaluator (evaluatePath, evaluateStep, evaluateFilter, lookup,
 * the post-processing of evaluate, evaluateGroupExpression, evaluateEqualityExpression,
 * evaluateComparisonExpression, evaluateBooleanExpression, evaluateIncludesExpression,
 * evaluateNumericExpression, evaluateStringConcat, evaluateCondition, evaluateBlock,
 * evaluateBindExpression, applyProcedure, and the functions named).
 * Wherever JSONata's semantics get subtle (nested arrays, deep equality, type errors, numbers
 * out of range, functions as values, recursion), the fast evaluator does not guess: it refuses
 * the expression at compile time, or answers {@link BAIL} and jsonata-js evaluates the input
 * instead. Its answers are checked against jsonata-js on JSONata's whole reference suite
 * (jsonata-conformance.spec.ts) and differentially (fast-path.spec.ts).
 *
 * Guardrails: lambdas cannot recurse here (a lambda sees only what was bound before it, so calls
 * form no cycle), nesting is held to `maxDepth` counting every lambda a call chain could pass
 * through, strings to `maxStringLength`, sequences to `maxSequence`, and the work of one
 * evaluation to {@link WORK_BUDGET} steps: past it, jsonata-js takes over under its own limits.
 */

/** "Not mine to decide": evaluate this input with jsonata-js. */
export const BAIL: unique symbol = Symbol('bail');

/** Variables the expression is evaluated with (`$headers`, `$meta`). */
export type FastBindings = Readonly<Record<string, unknown>>;

/** Evaluates one input; `now` is the evaluation's clock, read at most once (as `$now` is fixed per evaluation). */
export type FastEvaluator = (input: unknown, bindings: FastBindings, now?: () => number) => unknown;

export interface FastLimits {
  maxDepth: number;
  /** jsonata's `sequence` guard: no sequence it builds may grow longer (D2015). */
  maxSequence: number;
  /** Longest string the fast path builds; longer is jsonata-js's (and its guards') call. */
  maxStringLength: number;
}

/**
 * Steps (path items, predicate and lambda evaluations, weighted by their size) one fast
 * evaluation may take before it hands the input to jsonata-js, whose time limit then applies.
 * A realistic mapping takes a few hundred.
 */
export const WORK_BUDGET = 200_000;

interface AstNode {
  type: string;
  value?: unknown;
  position?: number;
  steps?: AstNode[];
  stages?: AstNode[];
  expr?: AstNode;
  lhs?: AstNode | AstNode[][];
  rhs?: AstNode;
  expression?: AstNode;
  expressions?: AstNode[];
  condition?: AstNode;
  then?: AstNode;
  else?: AstNode;
  procedure?: AstNode;
  arguments?: AstNode[];
  body?: AstNode;
  /** A call in a lambda's tail position, wrapped by the parser (jsonata's tail calls). */
  thunk?: boolean;
}

/** A node may carry only these keys; anything more (grouping, focus, signatures, ...) is not ours. */
const PLAIN_KEYS: Record<string, Set<string>> = {
  path: new Set(['type', 'steps']),
  name: new Set(['type', 'value', 'position', 'stages']),
  variable: new Set(['type', 'value', 'position']),
  string: new Set(['type', 'value', 'position']),
  number: new Set(['type', 'value', 'position']),
  value: new Set(['type', 'value', 'position']),
  binary: new Set(['type', 'value', 'position', 'lhs', 'rhs']),
  unary: new Set(['type', 'value', 'position', 'lhs', 'expression', 'expressions']),
  condition: new Set(['type', 'position', 'condition', 'then', 'else']),
  block: new Set(['type', 'position', 'expressions']),
  function: new Set(['type', 'value', 'position', 'procedure', 'arguments']),
  bind: new Set(['type', 'value', 'position', 'lhs', 'rhs']),
  lambda: new Set(['type', 'position', 'arguments', 'body', 'thunk']),
  filter: new Set(['type', 'position', 'expr']),
};

function plain(node: AstNode): boolean {
  const keys = PLAIN_KEYS[node.type];
  // (jsonata's parser leaves some keys present but undefined, such as a function call's `name`)
  return (
    keys !== undefined &&
    Object.keys(node).every(
      (k) => keys.has(k) || (node as unknown as Record<string, unknown>)[k] === undefined,
    )
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** jsonata-js treats objects flagged like its own functions as functions (isFunction): its call. */
function flaggedAsFunction(value: Record<string, unknown>): boolean {
  return value._jsonata_function === true || value._jsonata_lambda === true;
}

const hasOwn = (value: object, key: string): boolean =>
  Object.prototype.hasOwnProperty.call(value, key);

/** Most AST levels compiled fast, against `maxDepth` evaluation frames (each level takes a few). */
const FRAMES_PER_LEVEL = 4;

/** What one evaluation carries: its bindings, root, variables, clock and the work left. */
interface Env {
  bindings: FastBindings;
  root: unknown;
  slots: unknown[];
  work: number;
  clock: (() => number) | undefined;
  now: number | undefined;
}

type Eval = (input: unknown, env: Env) => unknown;

/** A lambda at run time: its body with the input it was defined on (jsonata's procedure.input). */
class Closure {
  constructor(
    readonly lambda: Lambda,
    readonly input: unknown,
  ) {}
}

interface Lambda {
  params: number[];
  body: Eval;
  /** Work charged per call: the size of its body. */
  weight: number;
  /** It may return a sequence of one or none as it is (a tail call): $map would keep that. */
  tailSequence: boolean;
}

/** A variable in scope at compile time: its slot, and the lambda it holds when bound to one. */
interface Variable {
  slot: number;
  lambda?: Lambda;
}

interface Scope {
  names: Map<string, Variable>;
  parent?: Scope;
  /** A block's scope: names its lambdas looked up outside, which it may then not bind. */
  deferred?: Set<string>;
}

interface Compiler {
  limits: FastLimits;
  slots: number;
  /** Depth a call chain through lambdas could add (each lambda at most once: no recursion). */
  lambdaDepth: number;
  /** How many lambda bodies enclose the node being compiled. */
  inLambda: number;
  blocks: Scope[];
}

/**
 * Compiles an AST to a fast evaluator, or undefined when any part of it is outside the subset, or
 * when it is nested so deep that jsonata-js could hit its `maxDepth` guard on it.
 */
export function compileFast(ast: unknown, limits: FastLimits): FastEvaluator | undefined {
  try {
    const compiler: Compiler = { limits, slots: 0, lambdaDepth: 0, inLambda: 0, blocks: [] };
    const evaluate = build(ast as AstNode, compiler, { names: new Map() });
    if ((depthOf(ast) + compiler.lambdaDepth) * FRAMES_PER_LEVEL > limits.maxDepth)
      return undefined;
    const slots = compiler.slots;
    return (input, bindings, clock) => {
      // A whole array as input is wrapped by jsonata as one item: its call.
      if (Array.isArray(input)) return BAIL;
      const env: Env = {
        bindings,
        root: input,
        slots: slots === 0 ? EMPTY : new Array<unknown>(slots),
        work: WORK_BUDGET,
        clock,
        now: undefined,
      };
      return evaluate(input, env);
    };
  } catch (err) {
    if (err instanceof NotFast) return undefined;
    throw err;
  }
}

const EMPTY: unknown[] = [];

function depthOf(node: unknown): number {
  if (Array.isArray(node)) return Math.max(0, ...node.map(depthOf));
  if (node === null || typeof node !== 'object') return 0;
  return 1 + Math.max(0, ...Object.values(node).map(depthOf));
}

function sizeOf(node: unknown): number {
  if (Array.isArray(node)) return node.reduce((n: number, item) => n + sizeOf(item), 0);
  if (node === null || typeof node !== 'object') return 0;
  return 1 + Object.values(node).reduce((n: number, item) => n + sizeOf(item), 0);
}

class NotFast extends Error {}

/** Spends `units` of the evaluation's work; false when the budget is gone (then BAIL). */
function spend(env: Env, units: number): boolean {
  return (env.work -= units) >= 0;
}

function build(node: AstNode, c: Compiler, scope: Scope): Eval {
  if (!plain(node)) throw new NotFast();
  switch (node.type) {
    case 'string':
    case 'number':
    case 'value': {
      const value = node.value;
      return () => value;
    }
    case 'path':
      return buildPath(node.steps ?? [], c, scope);
    case 'binary':
      return buildBinary(node, c, scope);
    case 'unary':
      if (node.value === '{' && node.lhs) return buildObject(node.lhs as AstNode[][], c, scope);
      if (node.value === '-' && node.expression) return buildNegation(node.expression, c, scope);
      throw new NotFast();
    case 'condition':
      return buildCondition(node, c, scope);
    case 'block':
      return buildBlock(node.expressions ?? [], c, scope);
    case 'variable':
      return buildVariable(node, c, scope);
    case 'function':
      return buildFunction(node, c, scope);
    case 'lambda':
      // A tail call: jsonata makes the call once the lambda returns; the same value, except
      // that it is not unwrapped from a sequence (see tailSequence).
      if (node.thunk !== true || c.inLambda === 0 || node.arguments?.length || !node.body)
        throw new NotFast();
      return build(node.body, c, scope);
    default:
      throw new NotFast();
  }
}

/** Functions whose value is the same whether or not jsonata unwraps it (no sequences). */
const SCALAR_FUNCTIONS = new Set(
  'lowercase uppercase sum round string substring join split replace number exists count now millis fromMillis length trim contains boolean not'.split(
    ' ',
  ),
);

/**
 * Whether a lambda body may return a sequence as jsonata's tail calls leave it (a list of one or
 * none, not unwrapped): a call in tail position to a function other than the scalar ones.
 */
function tailSequence(node: AstNode | undefined): boolean {
  if (!node) return false;
  if (node.type === 'lambda' && node.thunk === true) {
    const name = node.body?.procedure?.value;
    return typeof name !== 'string' || !SCALAR_FUNCTIONS.has(name);
  }
  if (node.type === 'condition') return tailSequence(node.then) || tailSequence(node.else);
  if (node.type === 'block') return tailSequence(node.expressions?.[node.expressions.length - 1]);
  return false;
}

function variableName(node: AstNode): string {
  if (node.type !== 'variable' || !plain(node) || typeof node.value !== 'string')
    throw new NotFast();
  return node.value;
}

/** The compile-time variable a name refers to, or undefined for a route binding or a built-in. */
function resolve(name: string, c: Compiler, scope: Scope): Variable | undefined {
  // A lambda body looks its names up when it is called, in the frames around its definition:
  // no block around it may bind the name afterwards (jsonata would then see that binding).
  if (c.inLambda > 0) for (const block of c.blocks) block.deferred!.add(name);
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    const found = s.names.get(name);
    if (found) return found;
  }
  return undefined;
}

/**
 * `$` (the context), `$$` (the root), a variable bound in a block or a lambda's parameter, or one
 * the route binds (`$headers`). A lambda as a value, or jsonata's own functions, are its call.
 */
function buildVariable(node: AstNode, c: Compiler, scope: Scope): Eval {
  const name = variableName(node);
  if (name === '') return (input) => input;
  if (name === '$') return (_input, env) => env.root;
  const variable = resolve(name, c, scope);
  if (variable) {
    if (variable.lambda) throw new NotFast();
    const slot = variable.slot;
    return (_input, env) => env.slots[slot];
  }
  return (_input, env) => {
    if (!hasOwn(env.bindings, name)) return BAIL;
    return result(env.bindings[name]);
  };
}

/**
 * A block: its own scope, its expressions in turn, the last one's value. A variable is bound
 * once per block and only by the block's own expressions (`$x := ...;`), and a lambda only where
 * it is then called by name or handed to a higher-order function.
 */
function buildBlock(expressions: AstNode[], c: Compiler, outer: Scope): Eval {
  const scope: Scope = { names: new Map(), parent: outer, deferred: new Set() };
  c.blocks.push(scope);
  const parts: Eval[] = [];
  expressions.forEach((expression, i) => {
    if (expression.type !== 'bind') {
      parts.push(build(expression, c, scope));
      return;
    }
    if (!plain(expression) || !expression.rhs) throw new NotFast();
    const name = variableName(expression.lhs as AstNode);
    // (A built-in's name bound to something else: its call.)
    if (
      name === '' ||
      name === '$' ||
      hasOwn(FUNCTIONS, name) ||
      scope.names.has(name) ||
      scope.deferred!.has(name)
    )
      throw new NotFast();
    const rhs = expression.rhs;
    if (rhs.type === 'lambda') {
      // The block's value would be the lambda itself: its call.
      if (i === expressions.length - 1) throw new NotFast();
      const lambda = buildLambda(rhs, c, scope);
      const slot = c.slots++;
      scope.names.set(name, { slot, lambda });
      parts.push((input, env) => {
        env.slots[slot] = new Closure(lambda, input);
        return undefined;
      });
      return;
    }
    const value = build(rhs, c, scope);
    const slot = c.slots++;
    scope.names.set(name, { slot });
    parts.push((input, env) => {
      const v = value(input, env);
      if (v !== BAIL) env.slots[slot] = v;
      return v;
    });
  });
  c.blocks.pop();
  if (parts.length === 0) return () => undefined;
  if (parts.length === 1) return parts[0];
  return (input, env) => {
    let value: unknown;
    for (const part of parts) {
      value = part(input, env);
      if (value === BAIL) return BAIL;
    }
    return value;
  };
}

function buildLambda(node: AstNode, c: Compiler, outer: Scope): Lambda {
  if (!plain(node) || !node.body || node.thunk) throw new NotFast();
  const scope: Scope = { names: new Map(), parent: outer };
  const params = (node.arguments ?? []).map((param) => {
    const name = variableName(param);
    if (name === '' || name === '$' || scope.names.has(name)) throw new NotFast();
    const slot = c.slots++;
    scope.names.set(name, { slot });
    return slot;
  });
  c.inLambda++;
  const body = build(node.body, c, scope);
  c.inLambda--;
  c.lambdaDepth += depthOf(node.body) + 2;
  return { params, body, weight: sizeOf(node.body), tailSequence: tailSequence(node.body) };
}

/** applyProcedure: parameters bound to the arguments (missing ones to nothing), the body run. */
function call(closure: Closure, args: unknown[], env: Env): unknown {
  const { lambda } = closure;
  if (!spend(env, lambda.weight)) return BAIL;
  for (let i = 0; i < lambda.params.length; i++) env.slots[lambda.params[i]] = args[i];
  return lambda.body(closure.input, env);
}

/**
 * A result as jsonata's evaluate hands it on. Arrays and objects pass as they are (sequences
 * are unwrapped by the path that makes them); what jsonata would see as a function, or a
 * number out of range (its D1001 wherever it is used), is its call.
 */
function result(value: unknown): unknown {
  if (typeof value === 'function' || value instanceof Closure) return BAIL;
  if (typeof value === 'number' && !Number.isFinite(value)) return BAIL;
  if (isObject(value) && flaggedAsFunction(value)) return BAIL;
  if (Array.isArray(value)) {
    for (const item of value) if (result(item) === BAIL || Array.isArray(item)) return BAIL;
  }
  return value;
}

/** Marks the arrays that are jsonata sequences (a filter's result) rather than arrays of the data. */
const SEQUENCE: unique symbol = Symbol('sequence');
type Sequence = unknown[] & { [SEQUENCE]?: true };
/** Whether an array is one of the fast path's sequences (a filter's result), not the data's. */
export const isSequence = (value: unknown): boolean =>
  Array.isArray(value) && (value as Sequence)[SEQUENCE] === true;
function sequenceOf(items: unknown[]): Sequence {
  const s = items as Sequence;
  s[SEQUENCE] = true;
  return s;
}

type Stage = { index: number } | { predicate: Eval; weight: number };

type Step =
  | { kind: 'name'; name: string; lookup: (item: unknown) => unknown; stages: Stage[] | undefined }
  | { kind: 'variable'; evaluate: Eval }
  | { kind: 'object'; evaluate: Eval };

/**
 * A path of field names (each with optional predicates), optionally starting at a variable and
 * ending in an object constructor applied to each item: jsonata's evaluatePath and evaluateStep
 * over sequences (each step maps over the items, skips what is missing and flattens arrays one
 * level; a last step that yields one array of the data yields it as it is; a sequence of one is
 * its item, of none nothing).
 */
function buildPath(steps: AstNode[], c: Compiler, scope: Scope): Eval {
  if (steps.length === 0) throw new NotFast();
  const compiled: Step[] = steps.map((step, i): Step => {
    if (step.type === 'name' && plain(step) && typeof step.value === 'string')
      return {
        kind: 'name',
        name: step.value,
        lookup: lookupOf(step.value),
        stages: buildStages(step.stages, c, scope),
      };
    if (i === 0 && step.type === 'variable')
      return { kind: 'variable', evaluate: buildVariable(step, c, scope) };
    if (i > 0 && i === steps.length - 1 && step.type === 'unary' && step.value === '{')
      return { kind: 'object', evaluate: build(step, c, scope) };
    throw new NotFast();
  });
  const absolute = compiled[0].kind === 'variable';
  const { maxSequence } = c.limits;
  /** One step on one item: its value, nothing, or BAIL. */
  const stepOn = (step: Step, item: unknown, env: Env): unknown => {
    let value: unknown;
    if (step.kind === 'name') {
      value = step.lookup(item);
      if (value === BAIL) return BAIL;
      if (step.stages) return filter(value, step.stages, env);
    } else if (step.kind === 'variable') {
      value = step.evaluate(item, env);
    } else {
      // The constructor groups an array or nothing: its call.
      if (!isObject(item)) return BAIL;
      value = step.evaluate(item, env);
    }
    return typeof value === 'function' || value instanceof Closure ? BAIL : value;
  };
  const general: Eval = (input, env) => {
    // A relative path over an array maps over its items: its call.
    if (!absolute && Array.isArray(input)) return BAIL;
    // While the path has met one item per step (the common case), no sequence is built.
    let single: unknown = input;
    let sequence: unknown[] | undefined;
    for (let i = 0; i < compiled.length; i++) {
      const last = i === compiled.length - 1;
      if (sequence === undefined) {
        const value = stepOn(compiled[i], single, env);
        if (value === BAIL || value === undefined) return value;
        if (!Array.isArray(value)) {
          single = value;
          continue;
        }
        // evaluateStep: the one array of the data a last step found is the answer, as it is;
        // before the last step, its items are the sequence the next step maps over.
        if (last) return isSequence(value) ? unwrap(value) : result(value);
        if (value.length > maxSequence) return BAIL;
        if (value.length === 0) return undefined;
        sequence = value;
        continue;
      }
      if (!spend(env, sequence.length)) return BAIL;
      const found: unknown[] = [];
      for (const item of sequence) {
        const value = stepOn(compiled[i], item, env);
        if (value === BAIL) return BAIL;
        if (value !== undefined) found.push(value);
      }
      if (found.length > maxSequence) return BAIL;
      if (last && found.length === 1 && Array.isArray(found[0]) && !isSequence(found[0]))
        return result(found[0]);
      const next: unknown[] = [];
      for (const value of found) {
        if (Array.isArray(value)) for (const item of value) next.push(item);
        else next.push(value);
      }
      if (next.length > maxSequence) return BAIL;
      if (next.length === 0) return undefined;
      sequence = next;
    }
    if (sequence === undefined) return result(single);
    return unwrap(sequence);
  };
  const rest = absolute ? compiled.slice(1) : compiled;
  if (rest.length === 0 || !rest.every((step) => step.kind === 'name' && !step.stages))
    return general;
  const names = rest.map((step) => (step as { name: string }).name);
  if (!absolute) return namePath(names, general);
  // `$headers.'x-channel'`: the variable's value, then the names from there as namePath takes
  // them while it is one item (general, from the start, when it is an array).
  const first = (compiled[0] as { evaluate: Eval }).evaluate;
  // (Where fromValue hands over to general, it passes the variable's value as the input: general
  // evaluates the variable again, which reads the input only when it is `$`, the same value.)
  const fromValue = namePath(names, general);
  return (input, env) => {
    const value = first(input, env);
    if (value === BAIL || value === undefined) return value;
    if (Array.isArray(value)) return general(input, env);
    if (typeof value === 'function' || value instanceof Closure) return BAIL;
    return fromValue(value, env);
  };
}

/**
 * One name step on one item, as stepOn takes it: the item's own value of that name, nothing, or
 * BAIL (an array inside an array: lookup recurses, its call). Generated with the name as a
 * constant, as namePath's lookups are.
 */
function lookupOf(name: string): (item: unknown) => unknown {
  const key = JSON.stringify(name);
  return generated(
    `return function lookup(item) {
    if (Array.isArray(item)) return BAIL;
    // Own properties of objects only; anything else has no fields.
    if (typeof item !== 'object' || item === null) return undefined;
    if (item._jsonata_function === true || item._jsonata_lambda === true) return BAIL;
    const value = item[${key}];
    if (value === undefined || !${ownTest(name)}) return undefined;
    return value;
  };`,
    {},
  );
}

/** Code that tells whether `item` owns `name`, given that `item[name]` is defined. */
function ownTest(name: string): string {
  const key = JSON.stringify(name);
  // A defined value of a name that Object.prototype does not have is the object's own when its
  // prototype is Object.prototype (all JSON data): no property search then.
  return name in Object.prototype
    ? `hasOwn(item, ${key})`
    : `(getPrototypeOf(item) === OBJECT_PROTOTYPE || hasOwn(item, ${key}))`;
}

/**
 * A relative path of plain names (`customer.email`): the steps `general` would take while each
 * meets one object, without its per-step dispatch. At the first array it meets before the last
 * step, `general` evaluates the path instead.
 *
 * The steps are written out as code with the names as constants (see {@link generated}), so that
 * each lookup has its own inline cache: a route sees messages of a few shapes, and a lookup by a
 * constant name on a known shape is a load at a fixed offset, where a lookup by a variable name
 * in shared code searches the object's properties every time (most of a mapping's cost).
 */
function namePath(names: string[], general: Eval): Eval {
  const last = names.length - 1;
  const lines = names.map((name, i) => {
    const key = JSON.stringify(name);
    return `
    // Anything but an object has no fields (an array never gets here).
    if (typeof item !== 'object' || item === null) return undefined;
    if (item._jsonata_function === true || item._jsonata_lambda === true) return BAIL;
    value = item[${key}];
    // Own properties only (jsonata's lookup).
    if (value === undefined || !${ownTest(name)}) return undefined;
    if (Array.isArray(value)) return ${i < last ? 'general(input, env)' : 'isSequence(value) ? unwrap(value) : result(value)'};
    if (typeof value === 'function' || value instanceof Closure) return BAIL;
    item = value;`;
  });
  return generated<Eval>(
    `return function namePath(input, env) {
    if (Array.isArray(input)) return BAIL;
    let item = input;
    let value;${lines.join('')}
    return result(item);
  };`,
    { general },
  );
}

/** What generated code may refer to, besides what each piece passes in. */
const GENERATED_SCOPE = {
  BAIL,
  Closure,
  OBJECT_PROTOTYPE: Object.prototype,
  getPrototypeOf: Object.getPrototypeOf,
  hasOwn,
  isSequence: (value: unknown): boolean => isSequence(value),
  unwrap: (sequence: unknown[]): unknown => unwrap(sequence),
  result: (value: unknown): unknown => result(value),
};

/**
 * A function made from `body`, which sees {@link GENERATED_SCOPE} and `locals` as variables and
 * returns it. Only compile-time constants are written into the code, each as a JSON string
 * literal (names and keys from the expression), never data of a message.
 */
function generated<T>(body: string, locals: Record<string, unknown>): T {
  const scope: Record<string, unknown> = { ...GENERATED_SCOPE, ...locals };
  const names = Object.keys(scope);
  const make = new Function(...names, `'use strict';\n${body}`) as (...args: unknown[]) => T;
  return make(...names.map((name) => scope[name]));
}

/** evaluate's post-processing of a sequence: none is nothing, one is its item. */
function unwrap(sequence: unknown[]): unknown {
  if (sequence.length === 0) return undefined;
  return result(sequence.length === 1 ? sequence[0] : sequence);
}

/** A name step's predicates (`[price > 10]`, `[0]`); undefined when it has none. */
function buildStages(
  stages: AstNode[] | undefined,
  c: Compiler,
  scope: Scope,
): Stage[] | undefined {
  if (stages === undefined || stages.length === 0) return undefined;
  return stages.map((stage): Stage => {
    if (stage.type !== 'filter' || !plain(stage) || !stage.expr) throw new NotFast();
    const expr = stage.expr;
    if (expr.type === 'number' && plain(expr) && typeof expr.value === 'number')
      return { index: Math.floor(expr.value) };
    return { predicate: build(expr, c, scope), weight: sizeOf(expr) };
  });
}

/**
 * evaluateFilter over what a name step found, stage after stage: a number literal picks an item
 * (from the end when negative; an array item is taken as it is); any other predicate is
 * evaluated on each item and keeps it when it is true, or when it is a number (or numbers) that
 * is the item's index.
 */
function filter(value: unknown, stages: Stage[], env: Env): unknown {
  if (value === undefined) {
    // jsonata filters a sequence of one undefined item: an index finds nothing, but a predicate
    // that holds on nothing keeps that undefined item, which counts later ($count): its call.
    const first = stages[0];
    if ('index' in first) return undefined;
    const keep = keeps(first.predicate(undefined, env), 0, 1);
    return keep === BAIL || keep ? BAIL : undefined;
  }
  let items: unknown[] = Array.isArray(value) ? value : [value];
  let data = false;
  for (const stage of stages) {
    if ('index' in stage) {
      const at = stage.index < 0 ? items.length + stage.index : stage.index;
      const item = items[at];
      data = Array.isArray(item);
      items = item === undefined ? [] : data ? (item as unknown[]) : [item];
      continue;
    }
    if (!spend(env, stage.weight * items.length)) return BAIL;
    const kept: unknown[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (Array.isArray(item)) return BAIL;
      const keep = keeps(stage.predicate(item, env), i, items.length);
      if (keep === BAIL) return BAIL;
      if (keep) kept.push(item);
    }
    items = kept;
    data = false;
  }
  return data ? items : sequenceOf(items);
}

/** Whether a predicate's value keeps the item at `index` of `length`. */
function keeps(value: unknown, index: number, length: number): boolean | typeof BAIL {
  if (value === BAIL) return BAIL;
  const at = (n: number) => {
    const i = Math.floor(n);
    return (i < 0 ? length + i : i) === index;
  };
  if (typeof value === 'number') return Number.isFinite(value) ? at(value) : BAIL;
  if (Array.isArray(value) && value.every((n) => typeof n === 'number')) {
    if (!value.every((n) => Number.isFinite(n))) return BAIL;
    return value.some(at);
  }
  return boolize(value);
}

function buildBinary(node: AstNode, c: Compiler, scope: Scope): Eval {
  const op = node.value;
  if (op === 'in') return buildIn(node, c, scope);
  const lhs = build(node.lhs as AstNode, c, scope);
  const rhs = build(node.rhs as AstNode, c, scope);
  switch (op) {
    case '=':
    case '!=': {
      const equal = op === '=';
      return (input, env) => {
        const l = lhs(input, env);
        if (l === BAIL) return BAIL;
        const r = rhs(input, env);
        if (r === BAIL) return BAIL;
        if (l === undefined || r === undefined) return false;
        // Objects and sequences compare deeply in jsonata: its call.
        if (typeof l === 'object' && l !== null) return BAIL;
        if (typeof r === 'object' && r !== null) return BAIL;
        return (l === r) === equal;
      };
    }
    case '<':
    case '<=':
    case '>':
    case '>=':
      return (input, env) => {
        const l = lhs(input, env);
        if (l === BAIL) return BAIL;
        const r = rhs(input, env);
        if (r === BAIL) return BAIL;
        const lt = typeof l;
        const rt = typeof r;
        const lOk = lt === 'undefined' || lt === 'string' || lt === 'number';
        const rOk = rt === 'undefined' || rt === 'string' || rt === 'number';
        if (!lOk || !rOk) return BAIL; // jsonata throws T2010
        if (l === undefined || r === undefined) return undefined;
        if (lt !== rt) return BAIL; // jsonata throws T2009
        const a = l as number | string;
        const b = r as number | string;
        return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
      };
    case 'and':
    case 'or': {
      const and = op === 'and';
      return (input, env) => {
        const l = boolize(lhs(input, env));
        if (l === BAIL) return BAIL;
        if (and ? !l : l) return l;
        return boolize(rhs(input, env));
      };
    }
    case '&': {
      // evaluateStringConcat: $string of each side, nothing as ''.
      const max = c.limits.maxStringLength;
      return (input, env) => {
        const l = lhs(input, env);
        if (l === BAIL) return BAIL;
        const r = rhs(input, env);
        if (r === BAIL) return BAIL;
        const ls = l === undefined ? '' : stringOf(l, max);
        if (ls === BAIL) return BAIL;
        const rs = r === undefined ? '' : stringOf(r, max);
        if (rs === BAIL) return BAIL;
        if ((ls as string).length + (rs as string).length > max) return BAIL;
        return (ls as string) + (rs as string);
      };
    }
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
      return buildArithmetic(op, lhs, rhs);
    default:
      throw new NotFast();
  }
}

/** A number jsonata's isNumeric takes without an error (T2001/T2002, or D1001 out of range). */
const finite = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/** evaluateNumericExpression: both sides numbers or nothing (then nothing); a result out of range is its call. */
function buildArithmetic(op: string, lhs: Eval, rhs: Eval): Eval {
  return (input, env) => {
    const l = lhs(input, env);
    if (l === BAIL) return BAIL;
    const r = rhs(input, env);
    if (r === BAIL) return BAIL;
    if ((l !== undefined && !finite(l)) || (r !== undefined && !finite(r))) return BAIL;
    if (l === undefined || r === undefined) return undefined;
    const a = l as number;
    const b = r as number;
    const value =
      op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : op === '/' ? a / b : a % b;
    return finite(value) ? value : BAIL;
  };
}

function buildNegation(expression: AstNode, c: Compiler, scope: Scope): Eval {
  const operand = build(expression, c, scope);
  return (input, env) => {
    const value = operand(input, env);
    if (value === BAIL || value === undefined) return value;
    return finite(value) ? -value : BAIL; // D1002 or D1001: its call
  };
}

/**
 * `x in [literals]`: evaluateIncludesExpression compares with `===`, so nothing is false, and so
 * is an object or a sequence (never identical to a literal).
 */
function buildIn(node: AstNode, c: Compiler, scope: Scope): Eval {
  const list = node.rhs as AstNode;
  if (list.type !== 'unary' || list.value !== '[' || !plain(list) || !list.expressions)
    throw new NotFast();
  const literals = list.expressions.map((item) => {
    if (!['string', 'number', 'value'].includes(item.type) || !plain(item)) throw new NotFast();
    return item.value;
  });
  const lhs = build(node.lhs as AstNode, c, scope);
  return (input, env) => {
    const l = lhs(input, env);
    if (l === BAIL) return BAIL;
    if (l === undefined) return false;
    return literals.includes(l);
  };
}

function buildCondition(node: AstNode, c: Compiler, scope: Scope): Eval {
  if (!node.condition || !node.then) throw new NotFast();
  const condition = build(node.condition, c, scope);
  const then = build(node.then, c, scope);
  const otherwise = node.else ? build(node.else, c, scope) : undefined;
  return (input, env) => {
    const test = boolize(condition(input, env));
    if (test === BAIL) return BAIL;
    if (test) return then(input, env);
    return otherwise ? otherwise(input, env) : undefined;
  };
}

/** jsonata's boolize ($boolean, nothing as false); what it would see as a function is its call. */
function boolize(value: unknown): boolean | typeof BAIL {
  switch (typeof value) {
    case 'undefined':
      return false;
    case 'boolean':
      return value;
    case 'string':
      return value.length > 0;
    case 'number':
      return Number.isFinite(value) ? value !== 0 : BAIL; // D1001
    case 'object': {
      if (value === null) return false;
      if (Array.isArray(value)) {
        let any = false;
        for (const item of value) {
          if (item === undefined) continue;
          const b = boolize(item);
          if (b === BAIL) return BAIL;
          any ||= b;
        }
        return any;
      }
      if (value instanceof Closure || flaggedAsFunction(value as Record<string, unknown>))
        return BAIL;
      return Object.keys(value).length > 0;
    }
    default:
      return BAIL;
  }
}

/** jsonata's number formatting in $string: 15 significant digits for non-integers. */
function numberText(n: number): string {
  return String(Number.isInteger(n) ? n : Number(n.toPrecision(15)));
}

/** Whether JSON.stringify with jsonata's replacer needs no call of its own (no functions, no infinities). */
function jsonSafe(value: unknown, depth: number): boolean {
  if (depth > 100) return false;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value === 'function' || value instanceof Closure) return false;
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every((item) => jsonSafe(item, depth + 1));
  if (flaggedAsFunction(value as Record<string, unknown>)) return false;
  return Object.values(value).every((item) => jsonSafe(item, depth + 1));
}

const jsonNumbers = (_key: string, value: unknown): unknown =>
  typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(15)) : value;

/**
 * Whether JSON.stringify(value) (with jsonata's replacer) would be longer than `max`: a lower
 * bound of its length, summed with an early exit, so it visits at most `max` values however
 * often the same string or object is referred to (JSON.stringify would copy each reference,
 * holding the thread for as long as that takes).
 */
export function jsonLongerThan(value: unknown, max: number): boolean {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') {
      size += current.length + 2;
    } else if (current !== null && typeof current === 'object') {
      // A function (jsonata-js's or this evaluator's) is written as "" (jsonata's replacer).
      if (current instanceof Closure || flaggedAsFunction(current as Record<string, unknown>)) {
        size += 2;
      } else if (Array.isArray(current)) {
        size += current.length + 1;
        if (size > max) return true;
        for (let i = 0; i < current.length; i++) stack.push(current[i]);
      } else {
        size += 2;
        for (const key in current) {
          const item = (current as Record<string, unknown>)[key];
          if (item === undefined) continue; // JSON leaves it out
          size += key.length + 3;
          if (size > max) return true;
          stack.push(item);
        }
      }
    } else {
      size += 1;
    }
    if (size > max) return true;
  }
  return false;
}

/** jsonata's $string of a defined value (fn.string, as `&` uses it); longer than `max` is its call. */
function stringOf(value: unknown, max: number): string | typeof BAIL {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? numberText(value) : BAIL; // D3001
    case 'boolean':
      return String(value);
    case 'object':
      // Bounded first: jsonSafe and JSON.stringify would walk every reference.
      if (jsonLongerThan(value, max) || !jsonSafe(value, 0)) return BAIL;
      return JSON.stringify(value, jsonNumbers);
    default:
      return BAIL;
  }
}

const ISO_MIN = Date.UTC(1000, 0, 1);
const ISO_MAX = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** $fromMillis without a picture: ISO 8601 in UTC, as toISOString writes it (years 1000 to 9999 here). */
function isoOf(millis: number): string | typeof BAIL {
  if (!Number.isFinite(millis) || millis < ISO_MIN || millis > ISO_MAX) return BAIL;
  return new Date(millis).toISOString();
}

function nowOf(env: Env): number | typeof BAIL {
  if (env.now === undefined) {
    if (!env.clock) return BAIL;
    env.now = env.clock();
  }
  return env.now;
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** A value as a signature's array parameter takes it: nothing stays nothing, one value is a list of one. */
const listOf = (value: unknown): unknown[] | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? value : [value];

/** Built-in functions, by name: each answers as jsonata's does after its signature check, and BAILs where that check would fail. */
interface Builtin {
  arity: number[];
  /** Which arguments must be lambdas (for $map, $filter, $reduce). */
  lambdaArg?: number;
  call: (args: unknown[], env: Env, limits: FastLimits) => unknown;
}

const FUNCTIONS: Record<string, Builtin> = {
  lowercase: { arity: [1], call: ([s], _env, limits) => text(s, (v) => v.toLowerCase(), limits) },
  uppercase: { arity: [1], call: ([s], _env, limits) => text(s, (v) => v.toUpperCase(), limits) },
  // <a<n>:n>: a number is a list of one; every item a number.
  sum: {
    arity: [1],
    call: ([list]) => {
      if (list === undefined) return undefined;
      const items = Array.isArray(list) ? list : [list];
      let total = 0;
      for (const n of items) {
        if (typeof n !== 'number') return BAIL; // T0412
        total += n;
      }
      return finite(total) ? total : BAIL;
    },
  },
  // <n-n?:n>
  round: {
    arity: [1, 2],
    call: ([n, precision]) => {
      // The signature is checked first, whether or not there is a number to round.
      if (precision !== undefined && !finite(precision)) return BAIL;
      if (n === undefined) return undefined;
      if (!finite(n)) return BAIL;
      const rounded = roundHalfEven(n, precision);
      return finite(rounded) ? rounded : BAIL;
    },
  },
  // <x-b?:s>
  string: {
    arity: [1],
    call: ([value], _env, limits) => {
      if (value === undefined) return undefined;
      const s = stringOf(value, limits.maxStringLength);
      return s !== BAIL && s.length > limits.maxStringLength ? BAIL : s;
    },
  },
  // <s-nn?:s>; strings with surrogate pairs count code points: its call.
  substring: {
    arity: [2, 3],
    call: ([s, start, length]) => {
      if (!finite(start) || (length !== undefined && !finite(length))) return BAIL;
      if (s === undefined) return undefined;
      if (!isString(s) || /[\uD800-\uDFFF]/.test(s)) return BAIL;
      const from = s.length + start < 0 ? 0 : start;
      if (length === undefined) return s.slice(from);
      if (length <= 0) return '';
      return s.slice(from, from >= 0 ? from + length : s.length + from + length);
    },
  },
  // <a<s>s?:s>
  join: {
    arity: [1, 2],
    call: ([list, separator], env, limits) => {
      if (separator !== undefined && !isString(separator)) return BAIL;
      const items = listOf(list);
      if (items === undefined) return undefined;
      if (!spend(env, items.length)) return BAIL;
      let size = 0;
      for (const item of items) {
        if (!isString(item)) return BAIL; // T0412
        size += item.length + (separator?.length ?? 0);
      }
      return size > limits.maxStringLength ? BAIL : items.join(separator ?? '');
    },
  },
  // <s-(sf)n?:a<s>>, with a string separator
  split: {
    arity: [2, 3],
    call: ([s, separator, limit], env) => {
      if (!isString(separator) || (limit !== undefined && !finite(limit))) return BAIL;
      if (s === undefined) return undefined;
      if (!isString(s) || (limit !== undefined && limit < 0)) return BAIL; // D3020
      if (limit !== undefined && limit <= 0) return [];
      const parts = s.split(separator, limit);
      return spend(env, parts.length) ? parts : BAIL;
    },
  },
  // <s-(sf)(sf)n?:s>, with a string pattern and replacement
  replace: {
    arity: [3, 4],
    call: ([s, pattern, replacement, limit], _env, limits) => {
      if (!isString(pattern) || !isString(replacement)) return BAIL;
      if (limit !== undefined && !finite(limit)) return BAIL;
      if (s === undefined) return undefined;
      if (!isString(s) || pattern === '' || (limit !== undefined && limit < 0)) return BAIL;
      if (limit !== undefined && limit <= 0) return s;
      let out = '';
      let position = 0;
      let count = 0;
      let index = s.indexOf(pattern, position);
      while (index !== -1 && (limit === undefined || count < limit)) {
        out += s.substring(position, index) + replacement;
        if (out.length > limits.maxStringLength) return BAIL;
        position = index + pattern.length;
        count++;
        index = s.indexOf(pattern, position);
      }
      out += s.substring(position);
      return out.length > limits.maxStringLength ? BAIL : out;
    },
  },
  // <(nsb)-:n>
  number: {
    arity: [1],
    call: ([value]) => {
      if (value === undefined) return undefined;
      let n: number;
      if (typeof value === 'number') n = value;
      else if (
        isString(value) &&
        /^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$/.test(value) &&
        !isNaN(parseFloat(value)) &&
        isFinite(Number(value))
      )
        n = parseFloat(value);
      else if (isString(value) && /^(0[xX][0-9A-Fa-f]+)|(0[oO][0-7]+)|(0[bB][0-1]+)$/.test(value))
        n = Number(value);
      else if (typeof value === 'boolean') n = value ? 1 : 0;
      else return BAIL; // D3030 or T0410
      return finite(n) ? n : BAIL;
    },
  },
  // <s-:n>; code points, so strings with surrogates are its call
  length: {
    arity: [1],
    call: ([s]) => {
      if (s === undefined) return undefined;
      return isString(s) && !/[\uD800-\uDFFF]/.test(s) ? s.length : BAIL;
    },
  },
  // <s-:s>: runs of whitespace as one space, none at either end
  trim: {
    arity: [1],
    call: ([s], _env, limits) =>
      text(s, (v) => v.replace(/[ \t\n\r]+/gm, ' ').replace(/^ | $/g, ''), limits),
  },
  // <s-(sf):b>, with a string to look for
  contains: {
    arity: [2],
    call: ([s, token]) => {
      if (token !== undefined && !isString(token)) return BAIL;
      if (s === undefined || token === undefined) return undefined;
      return isString(s) ? s.includes(token) : BAIL;
    },
  },
  // <x-:b>
  boolean: {
    arity: [1],
    call: ([value]) => (value === undefined ? undefined : boolize(value)),
  },
  // <x-:b>
  not: {
    arity: [1],
    call: ([value]) => {
      if (value === undefined) return undefined;
      const b = boolize(value);
      return b === BAIL ? BAIL : !b;
    },
  },
  // <x:b>
  exists: { arity: [1], call: ([value]) => value !== undefined },
  // <a:n>
  count: { arity: [1], call: ([value]) => listOf(value)?.length ?? 0 },
  // <af>
  map: {
    arity: [2],
    lambdaArg: 1,
    call: ([list, fn], env) => {
      const items = listOf(list);
      if (items === undefined) return undefined;
      const closure = fn as Closure;
      if (closure.lambda.tailSequence) return BAIL;
      const out: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const value = call(closure, [items[i], i, items], env);
        if (value === BAIL || Array.isArray(value)) return BAIL; // a sequence of arrays: its call
        if (value !== undefined) out.push(value);
      }
      return unwrap(out);
    },
  },
  // <af>
  filter: {
    arity: [2],
    lambdaArg: 1,
    call: ([list, fn], env) => {
      const items = listOf(list);
      if (items === undefined) return undefined;
      const closure = fn as Closure;
      const out: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const keep = boolize(call(closure, [items[i], i, items], env));
        if (keep === BAIL) return BAIL;
        if (keep) out.push(items[i]);
      }
      return unwrap(out);
    },
  },
  // <afj?:j>
  reduce: {
    arity: [2, 3],
    lambdaArg: 1,
    call: ([list, fn, init], env) => {
      const items = listOf(list);
      if (items === undefined) return undefined;
      const closure = fn as Closure;
      if (closure.lambda.params.length < 2) return BAIL; // D3050
      let index = 0;
      let acc = init;
      if (init === undefined && items.length > 0) {
        acc = items[0];
        index = 1;
      }
      for (; index < items.length; index++) {
        acc = call(closure, [acc, items[index], index, items], env);
        if (acc === BAIL) return BAIL;
      }
      return result(acc);
    },
  },
  // <s?s?:s>, without a picture: the evaluation's time in ISO 8601
  now: {
    arity: [0],
    call: (_args, env) => {
      const now = nowOf(env);
      return now === BAIL ? BAIL : isoOf(now);
    },
  },
  // <:n>
  millis: { arity: [0], call: (_args, env) => nowOf(env) },
  // <n-s?s?:s>, without a picture
  fromMillis: {
    arity: [1],
    call: ([millis]) => {
      if (millis === undefined) return undefined;
      return typeof millis === 'number' ? isoOf(millis) : BAIL;
    },
  },
};

/** A string function's result; one longer than the limit (an upper case can grow) is jsonata-js's call. */
function text(value: unknown, change: (s: string) => string, limits: FastLimits): unknown {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return BAIL; // T0410
  const changed = change(value);
  return changed.length > limits.maxStringLength ? BAIL : changed;
}

/**
 * $round: half to even at `precision` decimal places, the decimal point shifted through the
 * number's text (as jsonata-js does, so as not to add binary floating-point error), -0 as 0.
 */
function roundHalfEven(n: number, precision: number | undefined): number {
  // A number with no more decimals than `precision` is its own rounding (the usual case, a price
  // times a quantity): shifted through its text it is an exact integer, and shifting that back
  // parses the same text. One look at the text instead of the round trip.
  if (
    precision !== undefined &&
    Number.isInteger(precision) &&
    precision > 0 &&
    precision <= 15 &&
    Math.abs(n) < 1e15 / 10 ** precision
  ) {
    const text = n.toString();
    const dot = text.indexOf('.');
    if (!text.includes('e') && (dot === -1 || text.length - dot - 1 <= precision))
      return n === 0 ? 0 : n;
  }
  const shift = (value: number, by: number): number => {
    const [mantissa, exponent] = value.toString().split('e');
    return Number(`${mantissa}e${exponent ? Number(exponent) + by : by}`);
  };
  const shifted = precision ? shift(n, precision) : n;
  let rounded = Math.round(shifted);
  if (Math.abs(rounded - shifted) === 0.5 && Math.abs(rounded % 2) === 1) rounded -= 1;
  if (precision) rounded = shift(rounded, -precision);
  return Object.is(rounded, -0) ? 0 : rounded;
}

/**
 * A call: of a lambda bound in a block (by name), or of a built-in. A lambda argument (inline,
 * or a bound one by name) is allowed where the built-in takes a function.
 */
function buildFunction(node: AstNode, c: Compiler, scope: Scope): Eval {
  if (node.value !== '(') throw new NotFast();
  const name = variableName(node.procedure as AstNode);
  const bound = resolve(name, c, scope);
  if (bound) {
    if (!bound.lambda) throw new NotFast(); // a variable holding data, called: its error
    const slot = bound.slot;
    const args = (node.arguments ?? []).map((arg) => build(arg, c, scope));
    return (input, env) => {
      const values: unknown[] = [];
      for (const arg of args) {
        const value = arg(input, env);
        if (value === BAIL) return BAIL;
        values.push(value);
      }
      return result(call(env.slots[slot] as Closure, values, env));
    };
  }
  const fn = hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
  const argNodes = node.arguments ?? [];
  // Fewer arguments than the signature wants would take the context (`-`): its call.
  if (!fn || !fn.arity.includes(argNodes.length)) throw new NotFast();
  const args = argNodes.map((arg, i): Eval => {
    if (i !== fn.lambdaArg) return build(arg, c, scope);
    if (arg.type === 'lambda') {
      const lambda = buildLambda(arg, c, scope);
      return (input) => new Closure(lambda, input);
    }
    const variable = resolve(variableName(arg), c, scope);
    if (!variable?.lambda) throw new NotFast();
    const slot = variable.slot;
    return (_input, env) => env.slots[slot];
  });
  const limits = c.limits;
  return (input, env) => {
    // A binding of the same name shadows the built-in: its call.
    if (hasOwn(env.bindings, name)) return BAIL;
    const values: unknown[] = [];
    for (const arg of args) {
      const value = arg(input, env);
      if (value === BAIL) return BAIL;
      values.push(value);
    }
    return fn.call(values, env, limits);
  };
}

function buildObject(pairs: AstNode[][], c: Compiler, scope: Scope): Eval {
  const seen = new Set<string>();
  const entries = pairs.map(([key, value]) => {
    if (key.type !== 'string' || !plain(key) || typeof key.value !== 'string') throw new NotFast();
    // jsonata refuses its own reserved keys (D1013); `__proto__` would set a prototype here.
    if (key.value.startsWith('_jsonata_') || key.value === '__proto__') throw new NotFast();
    if (seen.has(key.value)) throw new NotFast(); // jsonata's D1009, at run time
    seen.add(key.value);
    return { key: key.value, value: build(value, c, scope) };
  });
  // Written out as code with the keys as constants (as namePath's lookups): each store has its
  // own inline cache, and the objects of one constructor share their shapes.
  const values = entries.map((entry) => entry.value);
  const stores = entries.map(
    (entry, i) => `
    value = values[${i}](input, env);
    if (value === BAIL) return BAIL;
    if (value !== undefined) out[${JSON.stringify(entry.key)}] = value;`,
  );
  return generated<Eval>(
    `return function object(input, env) {
    // Over an array (or nothing) the constructor groups items: jsonata's call.
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return BAIL;
    const out = {};
    let value;${stores.join('')}
    return out;
  };`,
    { values },
  );
}
