import { performance } from 'node:perf_hooks';
import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import type { default as AjvCore } from 'ajv/dist/core';
import type { RegExpEngine } from 'ajv/dist/types';
import addFormats from 'ajv-formats';
import { RegexInputTooLong } from '../expression/regex-guard';
import { PipelineError } from '../pipeline.error';
import { useCappedFormats } from '../schema/capped-formats';
import {
  ajvFor,
  KNOWN_DIALECTS,
  metaSchemaErrors,
  SchemaDialect,
  schemaDialect,
  withDialectAddress,
} from '../schema/dialects';
import { SCHEMA_COST_LIMIT, SCHEMA_MAX_DEPTH, schemaCompileCost } from '../schema/schema-cost';
import {
  markSubschemas,
  refsIntoValues,
  SchemaSteps,
  SchemaStepsExceeded,
} from '../schema/schema-steps';
import { useLinearUniqueItems } from '../schema/unique-items';
import { MESSAGE_BUDGET_MS, Stage, StageDefinition } from './stage';

export interface ValidateConfig {
  schema: Record<string, unknown> | boolean;
}

/** Most schema errors a dead letter's details keep (the reason names the first 10). */
const MAX_DESCRIBED_ERRORS = 100;

/** Failures name where in the body and what was expected, never the offending value. */
export function describeSchemaErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? [])
    .slice(0, MAX_DESCRIBED_ERRORS)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
}

export const validateStage: StageDefinition<ValidateConfig> = {
  kind: 'validate',
  description:
    'Checks the body against a JSON Schema (draft 2020-12 unless its `$schema` names 2019-09, draft-07 or draft-06). A body that fails is an error: retried never, dead-lettered with the reasons.',
  configSchema: {
    type: 'object',
    description: 'Validate the message body with a JSON Schema.',
    required: ['schema'],
    additionalProperties: false,
    properties: {
      schema: {
        type: ['object', 'boolean'],
        description:
          'A JSON Schema the body must satisfy: draft 2020-12, or the dialect its `$schema` names (2019-09, draft-07, draft-06). Formats such as email and date-time are checked.',
        examples: [
          { type: 'object', required: ['id', 'total'], properties: { total: { type: 'number' } } },
        ],
      },
    },
    examples: [{ schema: { type: 'object', required: ['id', 'total'] } }],
  },
  create(config, context): Stage {
    // `pattern` and `patternProperties` run the route's regexes on message data: they go
    // through the same off-thread analysis as expressions' regexes (see regex-guard.ts).
    const regExp = ((source: string, flags: string) =>
      context.pattern(source, flags, '/schema')) as unknown as RegExpEngine;
    regExp.code = 'junctionGuardedPattern';
    // ajv writes to the console what it cannot use, quoting the schema (an unknown format's
    // name; a generated function it cannot compile, with every constant in it): that would
    // pass the schema's text, card numbers and line breaks included, around the redacting
    // logger. An unknown format is ignored either way.
    // A $ref is a call to the function compiled for what it points at, never a copy of it: ajv
    // inlines by default, so a compile grew with every use of a def times its size.
    // Every subschema reports each run to `steps`, which stops a run past the message's deadline
    // (see schema-steps.ts): a schema of a few defs can take exponential time. The clock is read
    // on every 8th (every one cost a typical order's validation 3 µs more, every 8th under 1 µs).
    const steps = new SchemaSteps(8);
    const options: Options = {
      allErrors: true,
      strict: false,
      code: { regExp },
      logger: false,
      inlineRefs: false,
      $comment: steps.hook,
      // The stage's ajv knows no meta-schema: each schema is checked against its dialect's by
      // metaSchemaErrors (compiled once per process, without the route's regex engine), and a
      // `$ref` to a meta-schema cannot pull an unmarked, uncounted schema into the stage.
      meta: false,
      validateSchema: false,
    };
    const makeAjv = (dialect: SchemaDialect): AjvCore => {
      const ajv = ajvFor(dialect, options);
      addFormats(ajv as unknown as Parameters<typeof addFormats>[0]);
      // ajv's own uniqueItems compares every pair of items: quadratic in what a sender sends.
      useLinearUniqueItems(ajv);
      useCappedFormats(ajv);
      return ajv;
    };
    let check: ValidateFunction | undefined;
    // ajv compiles on the event loop, whoever asks (a viewer's dry run too): a document whose
    // schemas would hold it long is refused before ajv sees them.
    const cost = schemaCompileCost(config.schema, SCHEMA_COST_LIMIT);
    if (!context.spendSchemaCost(cost)) {
      context.problem(
        '/schema',
        cost === Infinity
          ? `is nested more than ${SCHEMA_MAX_DEPTH} levels deep`
          : `is too large to compile: the document's schemas may cost ${SCHEMA_COST_LIMIT} together (each subschema or object in them 1, a oneOf or anyOf of n branches n²/285 more, an enum of n values n/100 + n²/55,000 more, each level of nesting 1/100 more)`,
      );
    } else {
      // A stored version runs as it was saved: its values stay unmarked there.
      if (context.enforceSaveChecks)
        for (const pointer of refsIntoValues(config.schema))
          context.problem(
            `/schema${pointer}`,
            'must point at a schema, not into a value (enum, const, default, examples, ...)',
          );
      // Read in the dialect the schema names (2020-12 when it names none), never another: under
      // draft-07's rules a 2020-12 keyword (unevaluatedProperties, dependentRequired, prefixItems)
      // would be ignored without a word, and every body would pass it.
      const dialect = schemaDialect(config.schema);
      if (dialect === null) {
        context.problem(
          '/schema/$schema',
          `names a dialect Junction does not read: use ${KNOWN_DIALECTS}`,
        );
      } else {
        const marked = withDialectAddress(
          markSubschemas(config.schema) as typeof config.schema,
          dialect,
        );
        try {
          check = compileIn(makeAjv(dialect), marked, dialect);
        } catch (err) {
          // Versions stored before 2020-12 was applied were compiled with draft-07's rules: one
          // that names no dialect and is valid only there (`items` as a list) runs as it did.
          const stored = !context.enforceSaveChecks && isUndeclared(config.schema);
          check = stored ? compileOrUndefined(makeAjv('draft-07'), marked) : undefined;
          if (!check)
            context.problem(
              '/schema',
              `is not a valid JSON Schema: ${(err as Error).message}${dialect === '2020-12' ? hintFor2020(err as Error) : ''}`,
            );
        }
      }
    }
    return {
      kind: 'validate',
      run(envelope, budget) {
        let valid: boolean;
        const clock = budget?.clock ?? (() => performance.now());
        const budgetMs = budget?.budgetMs ?? MESSAGE_BUDGET_MS;
        steps.start(budget?.deadline ?? clock() + budgetMs, clock);
        try {
          valid = check!(envelope.body) as boolean;
        } catch (err) {
          if (err instanceof SchemaStepsExceeded)
            throw new PipelineError(
              'EXPRESSION_LIMIT',
              `the JSON Schema ran past the message's ${budgetMs} ms (${err.message}); simplify the schema (a def that refers to another more than once can take exponential time)`,
              undefined,
              undefined,
              { cause: err },
            );
          if (!(err instanceof RegexInputTooLong)) throw err;
          throw new PipelineError('EXPRESSION_LIMIT', err.message, undefined, undefined, {
            cause: err,
          });
        }
        if (valid) return envelope;
        const reasons = describeSchemaErrors(check!.errors);
        throw new PipelineError(
          'SCHEMA_FAILED',
          `body does not match the schema: ${reasons.slice(0, 10).join('; ')}`,
          undefined,
          { errors: reasons },
        );
      },
    };
  },
};

function isUndeclared(schema: unknown): boolean {
  return typeof schema !== 'object' || schema === null || !('$schema' in schema);
}

/** Checks the schema against its dialect's meta-schema, then compiles it; throws as ajv does. */
function compileIn(ajv: AjvCore, schema: unknown, dialect: SchemaDialect): ValidateFunction {
  const invalid = metaSchemaErrors(schema, dialect);
  if (invalid !== null) throw new Error(invalid);
  return ajv.compile(schema as Record<string, unknown>);
}

function compileOrUndefined(ajv: AjvCore, schema: unknown): ValidateFunction | undefined {
  try {
    return compileIn(ajv, schema, 'draft-07');
  } catch {
    return undefined;
  }
}

/** What an author of an older draft most often needs to hear when 2020-12 refuses their schema. */
function hintFor2020(err: Error): string {
  return /\/items must be object,boolean/.test(err.message)
    ? ' (in draft 2020-12 `items` takes one schema; a list of them is `prefixItems`, or name draft-07 in `$schema`)'
    : '';
}
