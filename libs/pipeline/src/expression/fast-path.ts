/**
 * Exact, synchronous evaluation of the part of JSONata that most routes are written in: field
 * paths (`customer.email`, `items.sku`, `$headers.'x-channel'`), literals, comparisons,
 * `and`/`or`, `in` a list of literals, `? :`, string concatenation, arithmetic, object
 * constructors with literal keys (`{ "orderId": id }`, and per item: `items.{ "sku": sku }`),
 * and `$sum`, `$round`, `$lowercase`, `$uppercase`. jsonata-js evaluates every step through
 * promises and builds sequences for each path; for such expressions that costs ten to thirty
 * times the work itself, and most of a route's garbage.
 *
 * The rules follow jsonata-js's own evaluator (evaluatePath, evaluateStep, lookup, the
 * post-processing of evaluate, evaluateGroupExpression, evaluateEqualityExpression,
 * evaluateComparisonExpression, evaluateBooleanExpression, evaluateIncludesExpression,
 * evaluateNumericExpression, evaluateStringConcat, evaluateCondition, and the functions named).
 * Wherever JSONata's semantics get subtle (nested arrays, deep equality, type errors, numbers
 * out of range, `$boolean` of objects, numbers turned into strings), the fast evaluator does not
 * guess: it answers {@link BAIL} and jsonata-js evaluates the expression instead. Its answers
 * are checked against jsonata-js on JSONata's whole reference suite (jsonata-conformance.spec.ts)
 * and differentially (fast-path.spec.ts).
 */

/** "Not mine to decide": evaluate this input with jsonata-js. */
export const BAIL: unique symbol = Symbol('bail');

/** Variables the expression is evaluated with (`$headers`, `$meta`). */
export type FastBindings = Readonly<Record<string, unknown>>;

export type FastEvaluator = (input: unknown, bindings: FastBindings) => unknown;

interface AstNode {
  type: string;
  value?: unknown;
  position?: number;
  steps?: AstNode[];
  lhs?: AstNode | AstNode[][];
  rhs?: AstNode;
  expression?: AstNode;
  expressions?: AstNode[];
  condition?: AstNode;
  then?: AstNode;
  else?: AstNode;
  procedure?: AstNode;
  arguments?: AstNode[];
}

/** A node may carry only these keys; anything more (predicates, grouping, focus, ...) is not ours. */
const PLAIN_KEYS: Record<string, Set<string>> = {
  path: new Set(['type', 'steps']),
  name: new Set(['type', 'value', 'position']),
  variable: new Set(['type', 'value', 'position']),
  string: new Set(['type', 'value', 'position']),
  number: new Set(['type', 'value', 'position']),
  value: new Set(['type', 'value', 'position']),
  binary: new Set(['type', 'value', 'position', 'lhs', 'rhs']),
  unary: new Set(['type', 'value', 'position', 'lhs', 'expression', 'expressions']),
  condition: new Set(['type', 'position', 'condition', 'then', 'else']),
  block: new Set(['type', 'position', 'expressions']),
  function: new Set(['type', 'value', 'position', 'procedure', 'arguments']),
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

interface Limits {
  maxDepth: number;
  /** jsonata's `sequence` guard: no sequence it builds may grow longer (D2015). */
  maxSequence: number;
}

/**
 * Compiles an AST to a fast evaluator, or undefined when any part of it is outside the subset, or
 * when it is nested so deep that jsonata-js could hit its `maxDepth` guard on it.
 */
export function compileFast(
  ast: unknown,
  maxDepth: number,
  maxSequence = Infinity,
): FastEvaluator | undefined {
  try {
    if (depthOf(ast) * FRAMES_PER_LEVEL > maxDepth) return undefined;
    return build(ast as AstNode, { maxDepth, maxSequence });
  } catch {
    return undefined;
  }
}

function depthOf(node: unknown): number {
  if (Array.isArray(node)) return Math.max(0, ...node.map(depthOf));
  if (node === null || typeof node !== 'object') return 0;
  return 1 + Math.max(0, ...Object.values(node).map(depthOf));
}

class NotFast extends Error {}

function build(node: AstNode, limits: Limits): FastEvaluator {
  if (!plain(node)) throw new NotFast();
  switch (node.type) {
    case 'string':
    case 'number':
    case 'value': {
      const value = node.value;
      return () => value;
    }
    case 'path':
      return buildPath(node.steps ?? [], limits);
    case 'binary':
      return buildBinary(node, limits);
    case 'unary':
      if (node.value === '{' && node.lhs) return buildObject(node.lhs as AstNode[][], limits);
      if (node.value === '-' && node.expression) return buildNegation(node.expression, limits);
      throw new NotFast();
    case 'condition':
      return buildCondition(node, limits);
    case 'block':
      // One expression in parentheses: its own frame changes nothing without assignments.
      if (node.expressions?.length !== 1) throw new NotFast();
      return build(node.expressions[0], limits);
    case 'variable':
      return buildVariable(node);
    case 'function':
      return buildFunction(node, limits);
    default:
      throw new NotFast();
  }
}

/** `$headers`: a variable the route binds. `$` (the context) and jsonata's own functions are its call. */
function buildVariable(node: AstNode): FastEvaluator {
  const name = node.value;
  if (typeof name !== 'string' || name === '') throw new NotFast();
  return (_input, bindings) => {
    if (!hasOwn(bindings, name)) return BAIL;
    return result(bindings[name]);
  };
}

/**
 * A result as jsonata's evaluate hands it on. Arrays and objects pass as they are (sequences
 * are unwrapped by the path that makes them); what jsonata would see as a function, or a
 * number out of range (its D1001 wherever it is used), is its call.
 */
function result(value: unknown): unknown {
  if (typeof value === 'function') return BAIL;
  if (typeof value === 'number' && !Number.isFinite(value)) return BAIL;
  if (isObject(value) && flaggedAsFunction(value)) return BAIL;
  if (Array.isArray(value)) {
    for (const item of value) if (result(item) === BAIL || Array.isArray(item)) return BAIL;
  }
  return value;
}

type Step =
  | { kind: 'name'; name: string }
  | { kind: 'variable'; name: string }
  | { kind: 'object'; evaluate: FastEvaluator };

/**
 * A path of field names, optionally starting at a bound variable and ending in an object
 * constructor applied to each item: jsonata's evaluatePath and evaluateStep over sequences
 * (each step maps over the items, skips what is missing and flattens arrays one level; a last
 * step that yields one array yields it as it is; a sequence of one is its item, of none nothing).
 */
function buildPath(steps: AstNode[], limits: Limits): FastEvaluator {
  if (steps.length === 0) throw new NotFast();
  const compiled: Step[] = steps.map((step, i): Step => {
    if (step.type === 'name' && plain(step) && typeof step.value === 'string')
      return { kind: 'name', name: step.value };
    if (i === 0 && step.type === 'variable' && plain(step)) {
      if (typeof step.value !== 'string' || step.value === '') throw new NotFast();
      return { kind: 'variable', name: step.value };
    }
    if (i > 0 && i === steps.length - 1 && step.type === 'unary' && step.value === '{')
      return { kind: 'object', evaluate: build(step, limits) };
    throw new NotFast();
  });
  const { maxSequence } = limits;
  /** One step on one item: its value, nothing, or BAIL. */
  const stepOn = (step: Step, item: unknown, bindings: FastBindings): unknown => {
    let value: unknown;
    if (step.kind === 'name') {
      if (Array.isArray(item)) return BAIL; // an array inside an array: lookup recurses, its call
      if (isObject(item)) {
        if (flaggedAsFunction(item)) return BAIL;
        // jsonata's lookup: own properties of objects only; anything else has no fields.
        if (hasOwn(item, step.name)) value = item[step.name];
      }
    } else if (step.kind === 'variable') {
      if (!hasOwn(bindings, step.name)) return BAIL;
      value = bindings[step.name];
    } else {
      // The constructor groups an array or nothing: its call.
      if (!isObject(item)) return BAIL;
      value = step.evaluate(item, bindings);
    }
    return typeof value === 'function' ? BAIL : value;
  };
  return (input, bindings) => {
    // A whole array as input is wrapped by jsonata as one item: its call.
    if (Array.isArray(input)) return BAIL;
    // While the path has met one item per step (the common case), no sequence is built.
    let single: unknown = input;
    let sequence: unknown[] | undefined;
    for (let i = 0; i < compiled.length; i++) {
      const last = i === compiled.length - 1;
      if (sequence === undefined) {
        const value = stepOn(compiled[i], single, bindings);
        if (value === BAIL || value === undefined) return value;
        if (!Array.isArray(value)) {
          single = value;
          continue;
        }
        // evaluateStep: the one array a last step found is the answer, as it is; before the
        // last step, its items are the sequence the next step maps over.
        if (last) return result(value);
        if (value.length > maxSequence) return BAIL;
        if (value.length === 0) return undefined;
        sequence = value;
        continue;
      }
      const found: unknown[] = [];
      for (const item of sequence) {
        const value = stepOn(compiled[i], item, bindings);
        if (value === BAIL) return BAIL;
        if (value !== undefined) found.push(value);
      }
      if (found.length > maxSequence) return BAIL;
      if (last && found.length === 1 && Array.isArray(found[0])) return result(found[0]);
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
    return result(sequence.length === 1 ? sequence[0] : sequence);
  };
}

function buildBinary(node: AstNode, limits: Limits): FastEvaluator {
  const op = node.value;
  if (op === 'in') return buildIn(node, limits);
  const lhs = build(node.lhs as AstNode, limits);
  const rhs = build(node.rhs as AstNode, limits);
  switch (op) {
    case '=':
    case '!=': {
      const equal = op === '=';
      return (input, bindings) => {
        const l = lhs(input, bindings);
        if (l === BAIL) return BAIL;
        const r = rhs(input, bindings);
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
      return (input, bindings) => {
        const l = lhs(input, bindings);
        if (l === BAIL) return BAIL;
        const r = rhs(input, bindings);
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
      return (input, bindings) => {
        const l = boolize(lhs(input, bindings));
        if (l === BAIL) return BAIL;
        if (and ? !l : l) return l;
        return boolize(rhs(input, bindings));
      };
    }
    case '&':
      // evaluateStringConcat: $string of each side, nothing as ''. Only strings are kept as
      // they are; numbers and the rest are formatted by $string: its call.
      return (input, bindings) => {
        const l = lhs(input, bindings);
        if (l === BAIL) return BAIL;
        const r = rhs(input, bindings);
        if (r === BAIL) return BAIL;
        if (
          (l !== undefined && typeof l !== 'string') ||
          (r !== undefined && typeof r !== 'string')
        )
          return BAIL;
        return (l ?? '') + (r ?? '');
      };
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
function buildArithmetic(op: string, lhs: FastEvaluator, rhs: FastEvaluator): FastEvaluator {
  return (input, bindings) => {
    const l = lhs(input, bindings);
    if (l === BAIL) return BAIL;
    const r = rhs(input, bindings);
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

function buildNegation(expression: AstNode, limits: Limits): FastEvaluator {
  const operand = build(expression, limits);
  return (input, bindings) => {
    const value = operand(input, bindings);
    if (value === BAIL || value === undefined) return value;
    return finite(value) ? -value : BAIL; // D1002 or D1001: its call
  };
}

/**
 * `x in [literals]`: evaluateIncludesExpression compares with `===`, so nothing is false, and so
 * is an object or a sequence (never identical to a literal).
 */
function buildIn(node: AstNode, limits: Limits): FastEvaluator {
  const list = node.rhs as AstNode;
  if (list.type !== 'unary' || list.value !== '[' || !plain(list) || !list.expressions)
    throw new NotFast();
  const literals = list.expressions.map((item) => {
    if (!['string', 'number', 'value'].includes(item.type) || !plain(item)) throw new NotFast();
    return item.value;
  });
  const lhs = build(node.lhs as AstNode, limits);
  return (input, bindings) => {
    const l = lhs(input, bindings);
    if (l === BAIL) return BAIL;
    if (l === undefined) return false;
    return literals.includes(l);
  };
}

function buildCondition(node: AstNode, limits: Limits): FastEvaluator {
  if (!node.condition || !node.then) throw new NotFast();
  const condition = build(node.condition, limits);
  const then = build(node.then, limits);
  const otherwise = node.else ? build(node.else, limits) : undefined;
  return (input, bindings) => {
    const test = boolize(condition(input, bindings));
    if (test === BAIL) return BAIL;
    if (test) return then(input, bindings);
    return otherwise ? otherwise(input, bindings) : undefined;
  };
}

/** jsonata's boolize ($boolean, undefined as false) for scalars; objects and arrays are its call. */
function boolize(value: unknown): boolean | typeof BAIL {
  switch (typeof value) {
    case 'undefined':
      return false;
    case 'boolean':
      return value;
    case 'string':
      return value.length > 0;
    case 'number':
      return value !== 0;
    case 'object':
      return value === null ? false : BAIL;
    default:
      return BAIL;
  }
}

/**
 * Built-in functions, by name, with the argument counts taken. Each answers as jsonata's does
 * after its signature check, and BAILs where that check would fail.
 */
const FUNCTIONS: Record<string, { arity: number[]; call: (args: unknown[]) => unknown }> = {
  lowercase: { arity: [1], call: ([s]) => text(s, (v) => v.toLowerCase()) },
  uppercase: { arity: [1], call: ([s]) => text(s, (v) => v.toUpperCase()) },
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
};

function text(value: unknown, change: (s: string) => string): unknown {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? change(value) : BAIL; // T0410
}

/**
 * $round: half to even at `precision` decimal places, the decimal point shifted through the
 * number's text (as jsonata-js does, so as not to add binary floating-point error), -0 as 0.
 */
function roundHalfEven(n: number, precision: number | undefined): number {
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

function buildFunction(node: AstNode, limits: Limits): FastEvaluator {
  const procedure = node.procedure;
  if (node.value !== '(' || !procedure || procedure.type !== 'variable' || !plain(procedure))
    throw new NotFast();
  const name = procedure.value as string;
  const fn = Object.prototype.hasOwnProperty.call(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
  const args = (node.arguments ?? []).map((arg) => build(arg, limits));
  // Fewer arguments than the signature wants would take the context (`-`): its call.
  if (!fn || !fn.arity.includes(args.length)) throw new NotFast();
  return (input, bindings) => {
    // A binding of the same name shadows the built-in: its call.
    if (hasOwn(bindings, name)) return BAIL;
    const values: unknown[] = [];
    for (const arg of args) {
      const value = arg(input, bindings);
      if (value === BAIL) return BAIL;
      values.push(value);
    }
    return fn.call(values);
  };
}

function buildObject(pairs: AstNode[][], limits: Limits): FastEvaluator {
  const seen = new Set<string>();
  const entries = pairs.map(([key, value]) => {
    if (key.type !== 'string' || !plain(key) || typeof key.value !== 'string') throw new NotFast();
    // jsonata refuses its own reserved keys (D1013); `__proto__` would set a prototype here.
    if (key.value.startsWith('_jsonata_') || key.value === '__proto__') throw new NotFast();
    if (seen.has(key.value)) throw new NotFast(); // jsonata's D1009, at run time
    seen.add(key.value);
    return { key: key.value, value: build(value, limits) };
  });
  return (input, bindings) => {
    // Over an array (or nothing) the constructor groups items: jsonata's call.
    if (!isObject(input)) return BAIL;
    const out: Record<string, unknown> = {};
    for (const entry of entries) {
      const value = entry.value(input, bindings);
      if (value === BAIL) return BAIL;
      if (value !== undefined) out[entry.key] = value;
    }
    return out;
  };
}
