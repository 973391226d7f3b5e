import type { Envelope } from '../envelope';
import type { DataPattern, Expression, ExpressionEngine } from '../expression/expression';
import type { RouteProtocols } from '../route-protocol';
import type { JsonSchema } from '../schema/json-schema';

/** What a stage returns to stop a message without error (a filter that said no). */
export const DROP: unique symbol = Symbol('junction.drop');
export type StageResult = Envelope | typeof DROP;

/**
 * Every expression has its own 50 ms (ExpressionLimits.timeoutMs), but a route of many stages
 * could add them up to seconds per message on the event loop (a dry run of 500 stages held it
 * 10 s). Together, a message's stages and destination expressions have this long; the check
 * runs between them, so a message takes at most this plus one expression's limit. A stage that
 * may run long without an expression (a JSON Schema) checks it as it goes.
 */
export const MESSAGE_BUDGET_MS = 250;

/** The time a message has left: past `deadline` on `clock` (ms, monotonic) it has run too long. */
export interface StageBudget {
  deadline: number;
  clock: () => number;
  budgetMs: number;
}

export interface Stage {
  readonly kind: string;
  /**
   * Returns a plain value when the stage has nothing to wait for, so the executor can skip a
   * Promise. `budget` is what the message has left (without it, the stage has MESSAGE_BUDGET_MS).
   */
  run(envelope: Envelope, budget?: StageBudget): StageResult | Promise<StageResult>;
}

/** What the runtime lends a route when compiling it; the engine itself does no I/O. */
export interface RouteResources {
  expressions: ExpressionEngine;
  /** Key for the `hash` mask strategy (HMAC-SHA256). */
  hmacKey: Buffer;
  /**
   * The protocols a route may name (libs/connectors' `CONNECTORS` map): injected, so that the
   * engine depends on no protocol and no other Junction lib.
   */
  protocols: RouteProtocols;
}

/** Handed to a stage factory: compiles sub-parts and records problems against JSON pointers. */
export interface StageBuildContext {
  readonly resources: RouteResources;
  /** Pointer of the stage's config, e.g. `/pipeline/2/mask`. */
  readonly pointer: string;
  /** Records a problem at `pointer + relative`; building goes on so that all problems are found. */
  problem(relative: string, message: string): void;
  /**
   * An expression of the stage's config. It is compiled with the rest of the document (in slices
   * that let the event loop run, then checked off it); a problem is recorded at its field, and a
   * document with problems never runs.
   */
  expression(source: string, relative?: string): Expression | undefined;
  /**
   * A regular expression the stage matches data against (a JSON Schema `pattern`): analysed with
   * the document's expressions, problems recorded at `pointer + relative`. Throws
   * ExpressionCompileError when it is no regular expression.
   */
  pattern(source: string, flags: string, relative?: string): DataPattern;
  /**
   * Takes `cost` (see schema/schema-cost.ts) from what the whole document may spend compiling
   * JSON Schemas on the event loop; false, and nothing taken, when that would exceed it.
   */
  spendSchemaCost(cost: number): boolean;
  /**
   * False when a stored version is compiled to run it (the worker): a check added after the
   * version may have been saved (a `$ref` into a value) must not stop it then; a save, a
   * validation and a dry run are held to it.
   */
  readonly enforceSaveChecks: boolean;
}

/** One stage kind: data-described, so the same definition feeds validation, docs and the console. */
export interface StageDefinition<C = unknown> {
  readonly kind: string;
  readonly description: string;
  /** JSON Schema (draft 2020-12) of the config, with descriptions and examples. */
  readonly configSchema: JsonSchema;
  create(config: C, context: StageBuildContext): Stage;
}
