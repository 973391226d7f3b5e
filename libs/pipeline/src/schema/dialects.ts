import Ajv, { type Options } from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import type { default as AjvCore } from 'ajv/dist/core';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json';
import addFormats from 'ajv-formats';
import { useCappedFormats } from './capped-formats';

/** The JSON Schema dialects a validate stage compiles, by the `$schema` that names them. */
export type SchemaDialect = '2020-12' | '2019-09' | 'draft-07' | 'draft-06';

/** The default: a schema without `$schema` is read as draft 2020-12 (the documented contract). */
export const DEFAULT_DIALECT: SchemaDialect = '2020-12';

const DIALECTS: ReadonlyArray<[RegExp, SchemaDialect]> = [
  [/^json-schema\.org\/draft\/2020-12\/schema$/, '2020-12'],
  [/^json-schema\.org\/draft\/2019-09\/schema$/, '2019-09'],
  [/^json-schema\.org\/draft-07\/schema$/, 'draft-07'],
  [/^json-schema\.org\/draft-06\/schema$/, 'draft-06'],
];

export const KNOWN_DIALECTS =
  'https://json-schema.org/draft/2020-12/schema (the default when `$schema` is absent), ' +
  'https://json-schema.org/draft/2019-09/schema, http://json-schema.org/draft-07/schema# ' +
  'or http://json-schema.org/draft-06/schema#';

/**
 * The dialect a schema declares with its root `$schema` (http or https, with or without the
 * empty fragment), the default when it declares none, or null for one Junction does not
 * compile (draft-04 and older, or any other address): such a schema is refused rather than read
 * under rules its author did not write it for, where a keyword of theirs could be ignored.
 */
export function schemaDialect(schema: unknown): SchemaDialect | null {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema))
    return DEFAULT_DIALECT;
  const declared = (schema as Record<string, unknown>).$schema;
  if (declared === undefined) return DEFAULT_DIALECT;
  if (typeof declared !== 'string') return null;
  const address = declared.replace(/^https?:\/\//, '').replace(/#$/, '');
  for (const [pattern, dialect] of DIALECTS) if (pattern.test(address)) return dialect;
  return null;
}

/** The address ajv knows each dialect's meta-schema by. */
const ADDRESSES: Record<SchemaDialect, string> = {
  '2020-12': 'https://json-schema.org/draft/2020-12/schema',
  '2019-09': 'https://json-schema.org/draft/2019-09/schema',
  'draft-07': 'http://json-schema.org/draft-07/schema#',
  'draft-06': 'http://json-schema.org/draft-06/schema#',
};

/**
 * The schema as ajv of its dialect takes it: a declared `$schema` spelled as ajv knows it
 * (ajv looks the address up as written: `http://…/2020-12/schema` would be "no schema with key").
 * A copy is changed, never the caller's.
 */
export function withDialectAddress<S>(schema: S, dialect: SchemaDialect): S {
  if (schema === null || typeof schema !== 'object' || !('$schema' in schema)) return schema;
  return { ...schema, $schema: ADDRESSES[dialect] };
}

/**
 * A fresh ajv for the dialect, with the given options. With `meta: false` it knows no
 * meta-schema: give it `validateSchema: false` too, and check schemas with {@link metaSchemaErrors}.
 */
export function ajvFor(dialect: SchemaDialect, options: Options): AjvCore {
  switch (dialect) {
    case '2020-12':
      return new Ajv2020(options);
    case '2019-09':
      return new Ajv2019(options);
    case 'draft-07':
      return new Ajv(options);
    case 'draft-06': {
      const ajv = new Ajv(options);
      if (options.meta !== false) ajv.addMetaSchema(draft06);
      return ajv;
    }
  }
}

/** One ajv per dialect that only checks schemas against the dialect's meta-schema. */
const metaCheckers = new Map<SchemaDialect, AjvCore>();

/**
 * Why `schema` is not a valid schema of `dialect` (ajv's words: `schema is invalid: data/items
 * must be object,boolean`), or null when it is. The meta-schemas are compiled once per process
 * by an ajv of plain options, not by each stage's: a stage's ajv runs its regular expressions
 * through the route's guarded engine, which refuses a pattern the route did not hold (the 2020-12
 * and 2019-09 meta-schemas check `$anchor`, `$dynamicAnchor` and `$id` with patterns) and counts
 * each one against the document's regex limit; and each stage compiled the whole meta-schema
 * again (about 50 ms for 2020-12), on the event loop, outside the compile budget. The patterns
 * here are the meta-schemas' own (anchored character classes, linear), never a route's.
 */
export function metaSchemaErrors(schema: unknown, dialect: SchemaDialect): string | null {
  let checker = metaCheckers.get(dialect);
  if (!checker) {
    checker = ajvFor(dialect, { allErrors: true, strict: false, logger: false });
    addFormats(checker as unknown as Parameters<typeof addFormats>[0]);
    useCappedFormats(checker);
    metaCheckers.set(dialect, checker);
  }
  if (typeof schema === 'boolean') return null;
  const valid = checker.validateSchema(schema as Record<string, unknown>) as boolean;
  return valid ? null : `schema is invalid: ${checker.errorsText(checker.errors)}`;
}
