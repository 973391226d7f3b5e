import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import { RouteProblem, RouteValidationError } from '../pipeline.error';
import type { RouteDocument } from '../route-document';
import type { RouteProtocols } from '../route-protocol';
import { containsPan } from '../pan/pan-detector';
import { routeSchema } from './route-schema';
import { parseRouteSource } from './route-source';
import { useLinearUniqueItems } from './unique-items';

/** The compiled route schema of each protocol map (one map per process, compiled once). */
const compiled = new WeakMap<RouteProtocols, ValidateFunction>();

/**
 * Compiles the route schema of a protocol map now rather than at its first check (a few hundred
 * ms of ajv work that must not stall a request): libs/connectors does it for `CONNECTORS`.
 */
export function prepareRouteSchema(protocols: RouteProtocols): void {
  shapeChecker(protocols);
}

function shapeChecker(protocols: RouteProtocols): ValidateFunction {
  let check = compiled.get(protocols);
  if (!check) {
    // One ajv per map: every route schema has the same $id.
    const ajv = new Ajv2020({
      allErrors: true,
      strict: true,
      strictTypes: false,
      strictRequired: false,
      allowUnionTypes: true,
      // Errors carry their parent schema: a refused field's reason is its description.
      verbose: true,
    });
    useLinearUniqueItems(ajv);
    check = ajv.compile(routeSchema(protocols));
    compiled.set(protocols, check);
  }
  return check;
}

function list(values: unknown[]): string {
  return values
    .map((v) => (typeof v === 'string' ? (v === '' ? '""' : v) : JSON.stringify(v)))
    .join(', ');
}

function typeName(t: unknown): string {
  const names: Record<string, string> = {
    object: 'an object',
    array: 'an array',
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    boolean: 'true or false',
    null: 'null',
  };
  return Array.isArray(t) ? t.map(typeName).join(' or ') : (names[String(t)] ?? String(t));
}

function toProblem(e: ErrorObject): RouteProblem | undefined {
  const at = e.instancePath;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'if':
    case 'allOf':
      return undefined; // the branch's own errors say what is wrong
    case 'required':
      return { pointer: `${at}/${escape(String(p.missingProperty))}`, message: 'is required' };
    case 'additionalProperties':
      return {
        pointer: `${at}/${escape(String(p.additionalProperty))}`,
        message: 'is not a known field here',
      };
    case 'not': {
      const reason = (e.parentSchema as { description?: unknown } | undefined)?.description;
      return { pointer: at, message: typeof reason === 'string' ? reason : 'is not allowed here' };
    }
    case 'propertyNames':
      return undefined; // reported by the enum error on the name itself
    case 'enum':
      if (e.propertyName !== undefined) {
        return {
          pointer: `${at}/${escape(e.propertyName)}`,
          message: `is not a known stage kind; must be one of ${list(p.allowedValues as unknown[])}`,
        };
      }
      return { pointer: at, message: `must be one of ${list(p.allowedValues as unknown[])}` };
    case 'const':
      return { pointer: at, message: `must be ${list([p.allowedValue])}` };
    case 'type':
      return { pointer: at, message: `must be ${typeName(p.type)}` };
    case 'pattern':
      return { pointer: at, message: `must match ${String(p.pattern)}` };
    case 'minProperties':
    case 'maxProperties':
      if (/^\/pipeline\/\d+$/.test(at))
        return { pointer: at, message: 'must have exactly one key: the stage kind' };
      return { pointer: at, message: e.message ?? e.keyword };
    default:
      return { pointer: at, message: e.message ?? e.keyword };
  }
}

function escape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * A route's id and description are stored, listed and shown as they are (the id in metrics, the
 * API's replies, dead letters and the audit trail): one holding a card number is refused, never
 * redacted, so that what is stored is what was sent. The value is never quoted back.
 */
function cardNumberProblems(doc: unknown): RouteProblem[] {
  if (doc === null || typeof doc !== 'object') return [];
  const problems: RouteProblem[] = [];
  for (const field of ['id', 'description'] as const) {
    const value = (doc as Record<string, unknown>)[field];
    if (typeof value === 'string' && containsPan(value))
      problems.push({ pointer: `/${field}`, message: 'must not hold a card number' });
  }
  return problems;
}

/** Checks a document's shape against the route schema; returns every problem, not the first. */
export function checkRouteShape(doc: unknown, protocols: RouteProtocols): RouteProblem[] {
  const checkShape = shapeChecker(protocols);
  const cards = cardNumberProblems(doc);
  if (checkShape(doc)) return cards;
  const seen = new Set<string>();
  const problems: RouteProblem[] = [...cards];
  for (const error of checkShape.errors ?? []) {
    const problem = toProblem(error);
    if (!problem) continue;
    const key = `${problem.pointer}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

/**
 * Parses a route document written in YAML or JSON (JSON is YAML), with the limits of
 * parseRouteSource (the API's): the CLI and the gateway read a file the same way.
 */
export function parseRouteText(text: string): unknown {
  const parsed = parseRouteSource(text);
  if (parsed.problems.length > 0) throw new RouteValidationError(parsed.problems);
  return parsed.value;
}

export function assertRouteShape(
  doc: unknown,
  protocols: RouteProtocols,
): asserts doc is RouteDocument {
  const problems = checkRouteShape(doc, protocols);
  if (problems.length > 0) throw new RouteValidationError(problems);
}
