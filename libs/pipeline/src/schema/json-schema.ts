/** A JSON Schema document, kept loose on purpose: schemas here are data fed to ajv and OpenAPI. */
export type JsonSchema = { [keyword: string]: unknown };
