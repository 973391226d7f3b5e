import { Lane } from './lane';
import { performance } from 'node:perf_hooks';
import { Envelope } from './envelope';
import {
  DataPattern,
  DocumentLimitError,
  DocumentScope,
  evaluateNow,
  Expression,
  ExpressionBindings,
  ExpressionCompileError,
} from './expression/expression';
import { isTruthy } from './expression/truthy';
import { maxDepthExceeded } from './input-guard';
import { PipelineError, RouteProblem, RouteValidationError } from './pipeline.error';
import { DestinationSpec, RouteDocument } from './route-document';
import { assertRouteShape, checkRouteShape } from './schema/route-validator';
import { STAGES, StageKind } from './stages';
import { SCHEMA_COST_LIMIT } from './schema/schema-cost';
import { DROP, MESSAGE_BUDGET_MS, RouteResources, Stage, StageBuildContext } from './stages/stage';
import type { ReportProblem, RouteProtocols } from './route-protocol';
import { destinationKinds, transactional } from './schema/route-schema';

/** Where one matching destination sends the message, with its expressions already evaluated. */
export interface Delivery {
  /** Index in the route's `destinations`. */
  index: number;
  destination: DestinationSpec;
  envelope: Envelope;
  /** AMQP routing key, from the `routingKey` expression. */
  routingKey?: string;
  /** Kafka message key, from the `key` expression (null: no key). */
  key?: string | null;
  /** Message priority 0..255, from the `priority` expression (absent: the broker's default). */
  priority?: number;
}

export interface StageTrace {
  index: number;
  kind: string;
  input: unknown;
  output?: unknown;
  dropped?: boolean;
  error?: { code: string; message: string };
  /** When it started (`performance.now()`), for spans laid on the message's timeline. */
  startedAt: number;
  durationMs: number;
}

export type RunResult =
  | { outcome: 'deliver'; deliveries: Delivery[]; trace?: StageTrace[] }
  | {
      outcome: 'drop';
      deliveries: [];
      reason: 'filtered' | 'unroutable';
      stage?: number;
      trace?: StageTrace[];
    }
  | { outcome: 'error'; deliveries: []; error: PipelineError; trace?: StageTrace[] };

export interface RunOptions {
  /** Record every stage's input, output and time (dry runs). Costs a clock read per stage. */
  trace?: boolean;
}

export interface CompiledRoute {
  readonly document: RouteDocument;
  run(envelope: Envelope, options?: RunOptions): Promise<RunResult>;
}

export interface CompileOptions {
  /** Deepest nesting accepted in a message body. */
  maxInputDepth?: number;
  /** Longest a message may take through the stages and destination expressions together, in ms. */
  messageBudgetMs?: number;
  /** The clock the budget is read on (ms, monotonic; default performance.now). For tests. */
  clock?: () => number;
  /**
   * What the document's JSON Schemas may cost to compile together (schema/schema-cost.ts;
   * default SCHEMA_COST_LIMIT). A stored version a worker runs is not held to it: it may have
   * been saved before the limit came, and a route that ran must not stop at an upgrade.
   */
  schemaCostLimit?: number;
}

export { MESSAGE_BUDGET_MS };

interface CompiledDestination {
  index: number;
  spec: DestinationSpec;
  when?: Expression;
  routingKey?: Expression;
  key?: Expression;
  priority?: Expression;
}

/**
 * An expression whose compiling is deferred: stages are built synchronously, and the
 * expressions of a whole document are then compiled in turns that let the event loop run (a
 * large document must not hold the thread for all its parsing at once). Used only after
 * compileRoute has resolved, when every target is set.
 */
class DeferredExpression implements Expression {
  target: Expression | undefined;

  constructor(readonly source: string) {}

  evaluate(input: unknown, bindings: ExpressionBindings): Promise<unknown> {
    return this.target!.evaluate(input, bindings);
  }

  evaluateNow(input: unknown, bindings: ExpressionBindings): unknown {
    return evaluateNow(this.target!, input, bindings);
  }
}

/** Longest stretch of compiling before the event loop gets a turn, in ms. */
const COMPILE_SLICE_MS = 5;

class ProblemCollector {
  readonly problems: RouteProblem[] = [];

  /** Every expression of the document, with its pointer: compiled, then settled together. */
  private readonly deferred: Array<{ expression: DeferredExpression; pointer: string }> = [];

  /** Data patterns of the stages (JSON Schema `pattern`), settled with the expressions. */
  private readonly patterns: Array<{ part: DataPattern; pointer: string }> = [];

  /** What the document's JSON Schemas have cost so far (see schema/schema-cost.ts). */
  private schemaCost = 0;

  constructor(private readonly schemaCostLimit = SCHEMA_COST_LIMIT) {}

  context(resources: RouteResources, pointer: string): StageBuildContext {
    return {
      resources,
      pointer,
      enforceSaveChecks: this.schemaCostLimit !== Infinity,
      spendSchemaCost: (cost) => {
        if (this.schemaCostLimit === Infinity) return true;
        if (this.schemaCost + cost > this.schemaCostLimit) return false;
        this.schemaCost += cost;
        return true;
      },
      problem: (relative, message) => this.problems.push({ pointer: pointer + relative, message }),
      expression: (source, relative = '') => this.expression(source, pointer + relative),
      pattern: (source, flags, relative = '') => {
        const part = resources.expressions.pattern(source, flags);
        this.patterns.push({ part, pointer: pointer + relative });
        return part;
      },
    };
  }

  /** Records problems at pointers relative to `base` (a protocol's cross-field checks). */
  reporter(base: string): ReportProblem {
    return (relative, message) => this.problems.push({ pointer: base + relative, message });
  }

  expression(source: string, pointer: string): Expression {
    const expression = new DeferredExpression(source);
    this.deferred.push({ expression, pointer });
    return expression;
  }

  /**
   * Compiles every expression of the document, in slices between which the event loop runs, then
   * settles them off the event loop (ReDoS analysis of their regular expressions, one budget for
   * the document); records what is refused at its field.
   */
  async compileAll(resources: RouteResources): Promise<void> {
    const compiled: Array<{ part: Expression | DataPattern; pointer: string }> = [...this.patterns];
    let sliceStart = performance.now();
    const scope: DocumentScope = { regexes: 0 };
    for (const { expression, pointer } of this.deferred) {
      if (performance.now() - sliceStart > COMPILE_SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
      try {
        expression.target = resources.expressions.compile(expression.source, scope);
        compiled.push({ part: expression.target, pointer });
      } catch (err) {
        if (!(err instanceof ExpressionCompileError)) throw err;
        this.problems.push({ pointer, message: err.message });
        if (err instanceof DocumentLimitError) return; // refused whole: parse no more of it
      }
    }
    if (compiled.length === 0) return;
    const pointers = new Map(compiled.map((c) => [c.part, c.pointer]));
    const problems = await resources.expressions.settle(compiled.map((c) => c.part));
    for (const problem of problems) {
      this.problems.push({
        pointer: pointers.get(problem.part) ?? '',
        message: problem.message,
      });
    }
  }
}

function stageKind(spec: object): StageKind {
  return Object.keys(spec)[0] as StageKind;
}

/**
 * Checks a route document completely: its shape, and everything only compiling can find
 * (JSONata syntax and unsafe regexes, body schemas, mask paths). Returns every problem at once:
 * parts whose shape is sound are compiled even when other parts are not.
 */
export async function validateRoute(
  doc: unknown,
  resources: RouteResources,
): Promise<RouteProblem[]> {
  const shape = checkRouteShape(doc, resources.protocols);
  // Not an object (an array neither): the shape's problem is all there is to say.
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return shape;
  // A field is unsound when a problem is at it or under it: every problem's pointer and each of
  // its parents, in a set (asking each problem for each field was quadratic: 30,000 unknown
  // stages held the event loop 64 s).
  const unsound = new Set<string>();
  for (const { pointer } of shape) {
    for (let end = pointer.length; end >= 0; end = pointer.lastIndexOf('/', end - 1)) {
      const prefix = pointer.slice(0, end);
      if (unsound.has(prefix)) break;
      unsound.add(prefix);
      if (end === 0) break;
    }
  }
  const sound = (pointer: string) => !unsound.has(pointer);
  const collector = new ProblemCollector();
  buildParts(doc as RouteDocument, resources, collector, sound);
  await collector.compileAll(resources);
  return inDocumentOrder([...shape, ...collector.problems]);
}

/** Sorts problems as their fields appear: /pipeline/2 before /pipeline/10, a field before its children. */
function inDocumentOrder(problems: RouteProblem[]): RouteProblem[] {
  const order = [
    'id',
    'description',
    'source',
    'pipeline',
    'destinations',
    'errors',
    'audit',
    'delivery',
  ];
  const key = (pointer: string) => pointer.split('/').slice(1);
  return problems
    .map((problem, i) => ({ problem, i, segments: key(problem.pointer) }))
    .sort((a, b) => {
      for (let k = 0; k < Math.min(a.segments.length, b.segments.length); k++) {
        const x = a.segments[k];
        const y = b.segments[k];
        if (x === y) continue;
        if (k === 0 && order.includes(x) && order.includes(y))
          return order.indexOf(x) - order.indexOf(y);
        const nx = Number(x);
        const ny = Number(y);
        if (Number.isInteger(nx) && Number.isInteger(ny)) return nx - ny;
        return a.i - b.i;
      }
      return a.segments.length - b.segments.length || a.i - b.i;
    })
    .map((entry) => entry.problem);
}

/**
 * Compiles a route once per version; the result runs messages with no I/O of its own. Resolves
 * once its regular expressions are analysed (off the event loop); rejects with a
 * RouteValidationError when anything is refused.
 */
export async function compileRoute(
  doc: unknown,
  resources: RouteResources,
  options: CompileOptions = {},
): Promise<CompiledRoute> {
  assertRouteShape(doc, resources.protocols);
  const collector = new ProblemCollector(options.schemaCostLimit);
  const { stages, destinations } = buildParts(doc, resources, collector, () => true);
  if (collector.problems.length === 0) await collector.compileAll(resources);
  if (collector.problems.length > 0)
    throw new RouteValidationError(inDocumentOrder(collector.problems));
  return new RouteExecutor(doc, stages, destinations, options.maxInputDepth ?? 64, {
    budgetMs: options.messageBudgetMs ?? MESSAGE_BUDGET_MS,
    clock: options.clock ?? (() => performance.now()),
  });
}

/** Builds every part whose pointer `sound` accepts, recording problems in the collector. */
function buildParts(
  doc: RouteDocument,
  resources: RouteResources,
  collector: ProblemCollector,
  sound: (pointer: string) => boolean,
): { stages: Stage[]; destinations: CompiledDestination[] } {
  const stages: Stage[] = [];
  (Array.isArray(doc.pipeline) ? doc.pipeline : []).forEach((spec, i) => {
    if (!sound(`/pipeline/${i}`)) return;
    const kind = stageKind(spec);
    const definition = STAGES[kind] as {
      create(config: unknown, context: StageBuildContext): Stage;
    };
    stages.push(
      definition.create(
        (spec as Record<string, unknown>)[kind],
        collector.context(resources, `/pipeline/${i}/${kind}`),
      ),
    );
  });
  const destinations: CompiledDestination[] = [];
  (Array.isArray(doc.destinations) ? doc.destinations : []).forEach((spec, index) => {
    const at = `/destinations/${index}`;
    if (!sound(at)) return;
    const compiled: CompiledDestination = { index, spec };
    if (spec.when !== undefined) compiled.when = collector.expression(spec.when, `${at}/when`);
    const protocol = destinationKinds(resources.protocols)[spec.type];
    protocol?.check?.(spec as unknown as Record<string, unknown>, collector.reporter(at));
    for (const slot of ['routingKey', 'key', 'priority'] as const) {
      const field = protocol?.expressions?.[slot];
      const source = field && (spec as unknown as Record<string, unknown>)[field];
      if (typeof source === 'string')
        compiled[slot] = collector.expression(source, `${at}/${field}`);
    }
    destinations.push(compiled);
  });
  checkSource(doc, resources.protocols, collector, sound);
  const errors = doc.errors && typeof doc.errors === 'object' ? doc.errors : undefined;
  const deadLetter = errors?.deadLetter as DestinationSpec | undefined;
  checkDelivery(doc, deadLetter, resources.protocols, collector, sound);
  checkLoop(doc, deadLetter, resources.protocols, collector, sound);
  if (sound('/errors/deadLetter') && deadLetter)
    destinationKinds(resources.protocols)[deadLetter.type]?.check?.(
      deadLetter as unknown as Record<string, unknown>,
      collector.reporter('/errors/deadLetter'),
    );
  const retry = errors?.retry;
  if (
    sound('/errors/retry') &&
    retry?.backoffMs !== undefined &&
    retry.maxBackoffMs !== undefined &&
    retry.maxBackoffMs < retry.backoffMs
  ) {
    collector.problems.push({
      pointer: '/errors/retry/maxBackoffMs',
      message: 'must be at least backoffMs',
    });
  }
  return { stages, destinations };
}

/** What the schema cannot say: the source protocol's own checks, and one reply at most. */
function checkSource(
  doc: RouteDocument,
  protocols: RouteProtocols,
  collector: ProblemCollector,
  sound: (pointer: string) => boolean,
): void {
  const source = doc.source;
  if (!sound('/source') || source === null || typeof source !== 'object') return;
  const protocol = protocols[source.type]?.source;
  protocol?.check?.(source as unknown as Record<string, unknown>, collector.reporter('/source'));
  const sync = protocol?.awaitsReply?.(source as unknown as Record<string, unknown>) ?? false;
  let replying: number | undefined;
  (Array.isArray(doc.destinations) ? doc.destinations : []).forEach((spec, index) => {
    const at = `/destinations/${index}/reply`;
    if (!sound(`/destinations/${index}`) || spec.reply !== true) return;
    if (!sync)
      collector.problems.push({
        pointer: at,
        message: 'a reply is awaited only for an http source with mode: sync',
      });
    else if (replying !== undefined)
      collector.problems.push({
        pointer: at,
        message: `only one destination can give the reply (destinations/${replying} does)`,
      });
    else replying = index;
  });
}

/**
 * `delivery: exactly-once` holds only where one transaction covers everything the route writes
 * to: its source's offsets and every destination, the dead-letter one included, on the source's
 * connection of a kind with transactions. Anything else (another broker, an HTTP call, the log)
 * would happen again after an abort. Each side that does not fit is named, at /delivery.
 */
function checkDelivery(
  doc: RouteDocument,
  deadLetter: DestinationSpec | undefined,
  protocols: RouteProtocols,
  collector: ProblemCollector,
  sound: (pointer: string) => boolean,
): void {
  const source = doc.source;
  if (doc.delivery !== 'exactly-once' || !sound('/source') || typeof source !== 'object') return;
  const kinds = transactional(protocols);
  const fits = kinds.includes(source.type);
  const kind = fits ? source.type : kinds.join(' or ') || 'transactional';
  const refuse = (why: string) =>
    collector.problems.push({
      pointer: '/delivery',
      message: `exactly-once needs a ${kind} source and only ${kind} destinations on the same connection; ${why}`,
    });
  if (!fits) {
    refuse(`/source is ${source.type}`);
    return;
  }
  for (const [pointer, spec] of deliverySides(doc, deadLetter)) {
    if (!spec || !sound(pointer)) continue;
    if (spec.type !== source.type) refuse(`${pointer} is ${spec.type}`);
    else if (spec.connection !== source.connection)
      refuse(`${pointer} is on connection ${spec.connection}, the source on ${source.connection}`);
  }
}

/** Every place a route writes to, with its pointer: its destinations, then its dead letters. */
function deliverySides(
  doc: RouteDocument,
  deadLetter: DestinationSpec | undefined,
): Array<[string, DestinationSpec | undefined]> {
  const sides: Array<[string, DestinationSpec | undefined]> = (
    Array.isArray(doc.destinations) ? doc.destinations : []
  ).map((d, i) => [`/destinations/${i}`, d]);
  sides.push(['/errors/deadLetter', deadLetter]);
  return sides;
}

/**
 * A destination (or the dead letters) that writes where the route's own source reads would feed
 * every message back to the route, without end: one message to a route sending it twice to its
 * own Kafka topic made 230,000 records in 20 s. Refused at the destination's pointer. Each
 * protocol says where its sources read and its destinations write (`reads`, `writes`).
 */
function checkLoop(
  doc: RouteDocument,
  deadLetter: DestinationSpec | undefined,
  protocols: RouteProtocols,
  collector: ProblemCollector,
  sound: (pointer: string) => boolean,
): void {
  const source = doc.source as unknown as Record<string, unknown> | undefined;
  if (!sound('/source') || typeof source !== 'object' || source === null) return;
  const reads = protocols[String(source.type)]?.source?.reads?.(source);
  if (!reads) return;
  for (const [pointer, spec] of deliverySides(doc, deadLetter)) {
    if (!spec || !sound(pointer)) continue;
    const destination = spec as unknown as Record<string, unknown>;
    if (destination.type !== source.type || destination.connection !== source.connection) continue;
    const writes = protocols[String(destination.type)]?.destination?.writes?.(destination);
    if (writes?.field === reads.field && writes.value === reads.value)
      collector.problems.push({
        pointer,
        message: `writes to the route's own source (${String(source.type)} ${String(source.connection)} ${reads.field} ${reads.value}): every message would come back to the route and be sent again, without end`,
      });
  }
}

const RUN_LANE = new Lane(2);

class RouteExecutor implements CompiledRoute {
  constructor(
    readonly document: RouteDocument,
    private readonly stages: Stage[],
    private readonly destinations: CompiledDestination[],
    private readonly maxInputDepth: number,
    private readonly budget: { budgetMs: number; clock: () => number },
  ) {}

  /** Throws once the message has used up its budget (see MESSAGE_BUDGET_MS). */
  private checkBudget(deadline: number): void {
    if (this.budget.clock() > deadline)
      throw new PipelineError(
        'EXPRESSION_LIMIT',
        `the route's stages and destination expressions took over ${this.budget.budgetMs} ms for this message together; split the work or make the expressions cheaper`,
      );
  }

  /**
   * Runs of every route take turns (stages never wait on I/O): one message goes through all its
   * stages before the next starts, so its deliveries go out while the next one runs, and the
   * event loop gets a turn every 2 ms to read confirms and deliveries.
   */
  run(input: Envelope, options: RunOptions = {}): Promise<RunResult> {
    return RUN_LANE.run(() => this.runNow(input, options));
  }

  private async runNow(input: Envelope, options: RunOptions): Promise<RunResult> {
    const trace: StageTrace[] | undefined = options.trace ? [] : undefined;
    let envelope = input;
    let at = 'input';
    const deadline = this.budget.clock() + this.budget.budgetMs;
    const stageBudget = { deadline, clock: this.budget.clock, budgetMs: this.budget.budgetMs };
    try {
      if (maxDepthExceeded(envelope.body, this.maxInputDepth)) {
        throw new PipelineError(
          'INPUT_REJECTED',
          `body is nested deeper than ${this.maxInputDepth} levels`,
        );
      }
      for (let i = 0; i < this.stages.length; i++) {
        const stage = this.stages[i];
        at = `/pipeline/${i} (${stage.kind})`;
        const started = trace ? performance.now() : 0;
        let step: Envelope | typeof DROP | Promise<Envelope | typeof DROP>;
        try {
          step = stage.run(envelope, stageBudget);
          if (step instanceof Promise) step = await step;
        } catch (err) {
          trace?.push({
            index: i,
            kind: stage.kind,
            input: envelope.body,
            error: errorSummary(err),
            startedAt: started,
            durationMs: performance.now() - started,
          });
          throw err;
        }
        if (step === DROP) {
          trace?.push({
            index: i,
            kind: stage.kind,
            input: envelope.body,
            dropped: true,
            startedAt: started,
            durationMs: performance.now() - started,
          });
          return { outcome: 'drop', deliveries: [], reason: 'filtered', stage: i, trace };
        }
        trace?.push({
          index: i,
          kind: stage.kind,
          input: envelope.body,
          output: step.body,
          startedAt: started,
          durationMs: performance.now() - started,
        });
        envelope = step;
        this.checkBudget(deadline);
      }
      const deliveries: Delivery[] = [];
      const bindings = { headers: envelope.headers, meta: envelope.meta };
      for (const destination of this.destinations) {
        at = `/destinations/${destination.index}`;
        this.checkBudget(deadline);
        if (destination.when) {
          let verdict = evaluateNow(destination.when, envelope.body, bindings);
          if (verdict instanceof Promise) verdict = await verdict;
          if (!isTruthy(verdict)) continue;
        }
        const delivery: Delivery = {
          index: destination.index,
          destination: destination.spec,
          envelope,
        };
        if (destination.routingKey) {
          let key = evaluateNow(destination.routingKey, envelope.body, bindings);
          if (key instanceof Promise) key = await key;
          if (typeof key !== 'string') {
            throw new PipelineError(
              'EXPRESSION_FAILED',
              `routingKey must give a string, gave ${key === undefined ? 'nothing' : typeof key}`,
            );
          }
          delivery.routingKey = key;
        }
        if (destination.key) {
          let key = evaluateNow(destination.key, envelope.body, bindings);
          if (key instanceof Promise) key = await key;
          if (
            key !== undefined &&
            key !== null &&
            typeof key !== 'string' &&
            typeof key !== 'number'
          ) {
            throw new PipelineError(
              'EXPRESSION_FAILED',
              `key must give a string or number, gave ${typeof key}`,
            );
          }
          delivery.key = key === undefined || key === null ? null : String(key);
        }
        if (destination.priority) {
          const priority = messagePriority(
            await destination.priority.evaluate(envelope.body, bindings),
          );
          if (priority !== undefined) delivery.priority = priority;
        }
        deliveries.push(delivery);
      }
      if (deliveries.length === 0)
        return { outcome: 'drop', deliveries: [], reason: 'unroutable', trace };
      return { outcome: 'deliver', deliveries, trace };
    } catch (err) {
      return { outcome: 'error', deliveries: [], error: asPipelineError(err, at), trace };
    }
  }
}

/** Highest message priority: AMQP 0-9-1 and 1.0 both carry it as one octet. */
export const MAX_PRIORITY = 255;

/**
 * What a `priority` expression gave, as a message priority: nothing (undefined, null) leaves the
 * broker's default; an integer from 0 to 255, or its decimal text (a header's value), is the
 * priority. Anything else fails the message (dead-lettered with this reason) rather than being
 * clamped: a priority of 4.5 or -1 is a mapping bug the route's owner should see.
 */
export function messagePriority(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^\s*\d{1,3}\s*$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_PRIORITY) return n;
  // Numbers are shown (the error's text is PAN-redacted); text is not: a cut could hide a PAN.
  const shown =
    typeof value === 'number'
      ? String(value)
      : typeof value === 'string'
        ? 'text that is not one'
        : `a ${Array.isArray(value) ? 'list' : typeof value}`;
  throw new PipelineError(
    'EXPRESSION_FAILED',
    `priority must give an integer from 0 to ${MAX_PRIORITY} (or nothing), gave ${shown}`,
  );
}

function errorSummary(err: unknown): { code: string; message: string } {
  return err instanceof PipelineError
    ? { code: err.code, message: err.message }
    : { code: 'INTERNAL', message: String(err) };
}

function asPipelineError(err: unknown, where: string): PipelineError {
  if (err instanceof PipelineError) {
    return err.where
      ? err
      : new PipelineError(err.code, err.message, where, err.details, { cause: err.cause });
  }
  // A bug in a stage must fail this one message, not the worker.
  return new PipelineError(
    'INTERNAL',
    `unexpected failure: ${(err as Error)?.message ?? String(err)}`,
    where,
    undefined,
    { cause: err },
  );
}
