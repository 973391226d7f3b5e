/**
 * A time limit for running a JSON Schema on one message.
 *
 * ajv validates synchronously, on the event loop, and some schemas cost far more than their size:
 * a chain of 28 defs, each `allOf` two `$ref`s to the next, is 2^28 evaluations of the last one
 * (4.5 s for one message or dry run; 34 defs would be minutes), and 1,000 `format: date-time`
 * checks on a 1 MB string take seconds. Such a schema compiles cheaply, so the compile budget
 * (schema-cost.ts) cannot see it. So every subschema reports each time it runs: the stage gives
 * ajv a copy of the schema with a `$comment` on every subschema object, and ajv's `$comment` hook
 * (a documented option that runs at validation time) reads the clock there and stops the run past
 * the message's deadline.
 *
 * Only objects that ajv may use as schemas are marked: the values of applicator keywords
 * (`allOf`, `items`, `properties`' values ...) and of unknown keywords (ajv ignores those unless a
 * `$ref` points into them). Values (`enum`, `const`, `default`, `examples`, `required`, `type`,
 * `dependentRequired`, `$vocabulary`) are left as they are, and a `$ref` into one of them (which
 * would make a value a schema, unmarked) is refused.
 */

/** Thrown by the `$comment` hook past the deadline; the validate stage turns it into EXPRESSION_LIMIT. */
export class SchemaStepsExceeded extends Error {
  override readonly name = 'SchemaStepsExceeded';
}

/** What each marked subschema carries; ajv calls the hook only for a non-empty `$comment`. */
export const STEP_MARK = 'junction-step';

/** Keywords whose value is a map from names to schemas. */
const SCHEMA_MAPS = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'dependentSchemas',
  'dependencies',
]);

/** Keywords whose value is a value, never a schema: marking inside them would change it. */
const VALUE_KEYWORDS = new Set([
  'enum',
  'const',
  'default',
  'examples',
  'required',
  'type',
  'dependentRequired',
  '$vocabulary',
]);

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A copy of a schema object with every subschema marked (see the file's comment). Iterative. */
export function markSubschemas(schema: unknown): unknown {
  if (!isObject(schema)) return schema;
  const root: Record<string, unknown> = {};
  const work: Array<[Record<string, unknown>, Record<string, unknown>]> = [[schema, root]];
  const copy = (value: unknown): unknown => {
    if (isObject(value)) {
      const out: Record<string, unknown> = {};
      work.push([value, out]);
      return out;
    }
    if (Array.isArray(value)) return value.map(copy);
    return value;
  };
  while (work.length > 0) {
    const [from, to] = work.pop()!;
    for (const [key, value] of Object.entries(from)) {
      if (VALUE_KEYWORDS.has(key)) to[key] = value;
      else if (SCHEMA_MAPS.has(key) && isObject(value)) {
        const map: Record<string, unknown> = {};
        for (const [name, sub] of Object.entries(value)) map[name] = copy(sub);
        to[key] = map;
      } else to[key] = copy(value);
    }
    to.$comment = STEP_MARK;
  }
  return root;
}

/**
 * The JSON pointers of `$ref`s in `schema` that point into a value (`#/enum/0`, `#/properties/a/
 * const`): a value used as a schema would run without the step mark. Read from the pointer's
 * segments alone (a keyword's role does not depend on where the schema sits), so a `$ref`
 * relative to a nested `$id` is judged the same.
 */
export function refsIntoValues(schema: unknown): string[] {
  const found: string[] = [];
  const stack: Array<[unknown, string]> = [[schema, '']];
  while (stack.length > 0) {
    const [node, at] = stack.pop()!;
    if (Array.isArray(node)) {
      node.forEach((item, i) => stack.push([item, `${at}/${i}`]));
      continue;
    }
    if (!isObject(node)) continue;
    for (const [key, value] of Object.entries(node)) {
      const path = `${at}/${escapeSegment(key)}`;
      if (key === '$ref' && typeof value === 'string' && pointsIntoValue(value)) found.push(path);
      if (VALUE_KEYWORDS.has(key)) continue;
      if (SCHEMA_MAPS.has(key) && isObject(value)) {
        for (const [name, sub] of Object.entries(value))
          stack.push([sub, `${path}/${escapeSegment(name)}`]);
      } else stack.push([value, path]);
    }
  }
  return found.sort();
}

function escapeSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function pointsIntoValue(ref: string): boolean {
  const hash = ref.indexOf('#');
  if (hash < 0) return false;
  const fragment = ref.slice(hash + 1);
  if (!fragment.startsWith('/')) return false; // `#anchor`: ajv finds anchors in schemas only
  let segments: string[];
  try {
    segments = fragment
      .slice(1)
      .split('/')
      .map((s) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~'));
  } catch {
    return false; // ajv cannot resolve it either
  }
  // At a schema, a segment is a keyword; after a map keyword, a name (then a schema again).
  let inMap = false;
  for (const segment of segments) {
    if (inMap) {
      inMap = false;
      continue;
    }
    if (VALUE_KEYWORDS.has(segment)) return true;
    if (SCHEMA_MAPS.has(segment)) inMap = true;
  }
  return false;
}

/**
 * The `$comment` hook of a stage's ajv: counts the subschemas run and, on every `every`-th one,
 * reads the clock, throwing {@link SchemaStepsExceeded} past the deadline set by {@link start}.
 */
export class SchemaSteps {
  private deadline = Infinity;
  private clock: () => number = () => 0;
  private steps = 0;

  constructor(private readonly every: number) {}

  /** Starts one run, to stop at `deadline` on `clock`. */
  start(deadline: number, clock: () => number): void {
    this.deadline = deadline;
    this.clock = clock;
    this.steps = 0;
  }

  /** How many subschemas the last run ran (for tests). */
  get count(): number {
    return this.steps;
  }

  /** For ajv's `$comment` option. */
  readonly hook = (comment: string): void => {
    if (comment !== STEP_MARK) return;
    if (++this.steps % this.every === 0 && this.clock() > this.deadline)
      throw new SchemaStepsExceeded(`stopped after ${this.steps} subschemas`);
  };
}
