/**
 * Exact, synchronous evaluation of the small part of JSONata that most routes are written in:
 * field paths (`customer.email`), literals, comparisons, `and`/`or`, and object constructors
 * with literal keys (`{ "orderId": id, "amount": total }`). jsonata-js evaluates every step
 * through promises and builds sequences for each path; for such expressions that costs ten to
 * thirty times the work itself, and most of a route's garbage.
 *
 * The rules follow jsonata-js's own evaluator (lookup, evaluateEqualityExpression,
 * evaluateComparisonExpression, evaluateBooleanExpression, evaluateGroupExpression). Wherever
 * JSONata's semantics get subtle (arrays and sequences, deep equality, type errors, `$boolean` of
 * objects), the fast evaluator does not guess: it answers {@link BAIL} and jsonata-js evaluates
 * the expression instead. Its answers are checked against jsonata-js on JSONata's whole
 * reference suite (jsonata-conformance.spec.ts) and differentially (fast-path.spec.ts).
 */

/** "Not mine to decide": evaluate this input with jsonata-js. */
export const BAIL: unique symbol = Symbol('bail');

export type FastEvaluator = (input: unknown) => unknown;

interface AstNode {
  type: string;
  value?: unknown;
  position?: number;
  steps?: AstNode[];
  lhs?: AstNode | AstNode[][];
  rhs?: AstNode;
}

/** A node may carry only these keys; anything more (predicates, grouping, focus, ...) is not ours. */
const PLAIN_KEYS: Record<string, Set<string>> = {
  path: new Set(['type', 'steps']),
  name: new Set(['type', 'value', 'position']),
  string: new Set(['type', 'value', 'position']),
  number: new Set(['type', 'value', 'position']),
  value: new Set(['type', 'value', 'position']),
  binary: new Set(['type', 'value', 'position', 'lhs', 'rhs']),
  unary: new Set(['type', 'value', 'position', 'lhs']),
};

function plain(node: AstNode): boolean {
  const keys = PLAIN_KEYS[node.type];
  return keys !== undefined && Object.keys(node).every((k) => keys.has(k));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** jsonata-js treats objects flagged like its own functions as functions (isFunction): its call. */
function flaggedAsFunction(value: Record<string, unknown>): boolean {
  return value._jsonata_function === true || value._jsonata_lambda === true;
}

/** Most AST levels compiled fast, against `maxDepth` evaluation frames (each level takes a few). */
const FRAMES_PER_LEVEL = 4;

/**
 * Compiles an AST to a fast evaluator, or undefined when any part of it is outside the subset, or
 * when it is nested so deep that jsonata-js could hit its `maxDepth` guard on it.
 */
export function compileFast(ast: unknown, maxDepth: number): FastEvaluator | undefined {
  try {
    if (depthOf(ast) * FRAMES_PER_LEVEL > maxDepth) return undefined;
    return build(ast as AstNode);
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

function build(node: AstNode): FastEvaluator {
  if (!plain(node)) throw new NotFast();
  switch (node.type) {
    case 'string':
    case 'number':
    case 'value': {
      const value = node.value;
      return () => value;
    }
    case 'path':
      return buildPath(node.steps ?? []);
    case 'binary':
      return buildBinary(node);
    case 'unary':
      if (node.value === '{') return buildObject(node.lhs as AstNode[][]);
      throw new NotFast();
    default:
      throw new NotFast();
  }
}

function buildPath(steps: AstNode[]): FastEvaluator {
  if (steps.length === 0) throw new NotFast();
  const names = steps.map((step) => {
    if (step.type !== 'name' || !plain(step) || typeof step.value !== 'string') throw new NotFast();
    return step.value;
  });
  return (input) => {
    let value: unknown = input;
    for (const name of names) {
      if (Array.isArray(value)) return BAIL; // jsonata maps over arrays and flattens: its call
      if (isObject(value) && flaggedAsFunction(value)) return BAIL;
      // jsonata's lookup: own properties of objects only; anything else has no fields.
      if (!isObject(value) || !Object.prototype.hasOwnProperty.call(value, name)) return undefined;
      value = value[name];
    }
    // An array result is a sequence to jsonata (a one-item array is unwrapped); a number out of
    // range is its D1001 wherever it is used: its call.
    if (Array.isArray(value) || typeof value === 'function') return BAIL;
    if (typeof value === 'number' && !Number.isFinite(value)) return BAIL;
    if (isObject(value) && flaggedAsFunction(value)) return BAIL;
    return value;
  };
}

function buildBinary(node: AstNode): FastEvaluator {
  const op = node.value;
  const lhs = build(node.lhs as AstNode);
  const rhs = build(node.rhs as AstNode);
  switch (op) {
    case '=':
    case '!=': {
      const equal = op === '=';
      return (input) => {
        const l = lhs(input);
        if (l === BAIL) return BAIL;
        const r = rhs(input);
        if (r === BAIL) return BAIL;
        if (l === undefined || r === undefined) return false;
        // Objects compare deeply in jsonata: its call.
        if (typeof l === 'object' && l !== null) return BAIL;
        if (typeof r === 'object' && r !== null) return BAIL;
        return (l === r) === equal;
      };
    }
    case '<':
    case '<=':
    case '>':
    case '>=':
      return (input) => {
        const l = lhs(input);
        if (l === BAIL) return BAIL;
        const r = rhs(input);
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
      return (input) => {
        const l = boolize(lhs(input));
        if (l === BAIL) return BAIL;
        if (and ? !l : l) return l;
        return boolize(rhs(input));
      };
    }
    default:
      throw new NotFast();
  }
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

function buildObject(pairs: AstNode[][]): FastEvaluator {
  const seen = new Set<string>();
  const entries = pairs.map(([key, value]) => {
    if (key.type !== 'string' || !plain(key) || typeof key.value !== 'string') throw new NotFast();
    // jsonata refuses its own reserved keys (D1013); `__proto__` would set a prototype here.
    if (key.value.startsWith('_jsonata_') || key.value === '__proto__') throw new NotFast();
    if (seen.has(key.value)) throw new NotFast(); // jsonata's D1009, at run time
    seen.add(key.value);
    return { key: key.value, value: build(value) };
  });
  return (input) => {
    // Over an array (or nothing) the constructor groups items: jsonata's call.
    if (!isObject(input)) return BAIL;
    const out: Record<string, unknown> = {};
    for (const entry of entries) {
      const value = entry.value(input);
      if (value === BAIL) return BAIL;
      if (value !== undefined) out[entry.key] = value;
    }
    return out;
  };
}
