import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PipelineError } from '../pipeline.error';
import { ExpressionBindings, ExpressionCompileError } from './expression';
import { JsonataEngine } from './jsonata.expression';

/**
 * Runs JSONata's reference cases (jsonata-js 2.2.2, kept in the shared data folder) through
 * Junction's expression engine, with its overrides and guards, so that a change to how
 * Junction evaluates expressions cannot quietly change what an expression means.
 */
const SUITE = resolve(
  process.env.JSONATA_SUITE ?? join(__dirname, '../../../../../shared/data/jsonata-test-suite'),
);

interface Case {
  expr: string;
  'expr-file'?: string;
  data?: unknown;
  dataset?: string | null;
  bindings?: Record<string, unknown>;
  timelimit?: number;
  depth?: number;
  result?: unknown;
  undefinedResult?: boolean;
  code?: string;
  error?: { code?: string };
}

function loadCases(): Array<[string, Case]> {
  const out: Array<[string, Case]> = [];
  const groups = join(SUITE, 'groups');
  for (const group of readdirSync(groups).sort()) {
    for (const file of readdirSync(join(groups, group))
      .filter((f) => f.endsWith('.json'))
      .sort()) {
      const parsed = JSON.parse(readFileSync(join(groups, group, file), 'utf8')) as Case | Case[];
      const list = Array.isArray(parsed) ? parsed : [parsed];
      for (const c of list) {
        if (c['expr-file']) c.expr = readFileSync(join(groups, group, c['expr-file']), 'utf8');
      }
      list.forEach((c, i) => out.push([`${group}/${file}${list.length > 1 ? `#${i}` : ''}`, c]));
    }
  }
  return out;
}

const datasets = new Map<string, unknown>();
function dataset(name: string): unknown {
  if (!datasets.has(name))
    datasets.set(name, JSON.parse(readFileSync(join(SUITE, 'datasets', `${name}.json`), 'utf8')));
  return datasets.get(name);
}

/** Codes that mean the same thing in the reference runner and in Junction's guards. */
function sameCode(expected: string, actual: string | undefined): boolean {
  if (expected === actual) return true;
  // The reference runner reports its depth guard as U1001; Junction uses jsonata's own D1011.
  return expected === 'U1001' && (actual === 'D1011' || actual === 'D1012');
}

describe('JSONata reference cases through JsonataEngine', () => {
  it('finds the suite', () => {
    expect(existsSync(join(SUITE, 'groups'))).toBe(true);
  });

  const cases = existsSync(join(SUITE, 'groups')) ? loadCases() : [];

  it('has every case of the suite (1291 files, some holding several)', () => {
    expect(cases.length).toBe(1686);
  });

  it('agrees with the reference on every case', async () => {
    const failures: string[] = [];
    let fast = 0; // cases the fast evaluator compiled
    let answeredFast = 0; // cases it answered (the others it handed to jsonata-js)
    const engines = new Map<string, JsonataEngine>();
    for (const [name, c] of cases) {
      // The reference time limits are sized for plain node; jest's sandbox runs jsonata-js
      // several times slower, and a busy CI machine slower still. A case that expects a result
      // gets ten times its limit (so load cannot fail it); a case that expects an error keeps
      // the reference limit, so guards still trip as the reference says.
      const expectsError = c.code !== undefined || c.error?.code !== undefined;
      // The performance group's cases set no limit: they take 5-8 s in jest on a quiet machine,
      // and over 30 s beside a whole CI run (D1012 there), so they get two minutes.
      const timeoutMs =
        c.timelimit === undefined ? 120_000 : expectsError ? c.timelimit : c.timelimit * 10;
      const limitsKey = `${timeoutMs}/${c.depth ?? 0}`;
      let engine = engines.get(limitsKey);
      if (!engine) {
        engine = new JsonataEngine({
          timeoutMs,
          // The regex analysis runs at the lowest priority: on a CI machine busy with Postgres it
          // could run out of its default budget, and a case's verdict must not depend on load.
          regexBudgetMs: 60_000,
          regexPerPatternMs: 30_000,
          maxDepth: c.depth ?? 500,
          maxSequence: 1e7,
          maxResultNodes: 2e7,
          maxStringLength: 1e8,
        });
        engines.set(limitsKey, engine);
      }
      const input = c.dataset ? dataset(c.dataset) : c.data;
      let outcome: { result?: unknown; code?: string };
      const t0 = Date.now();
      try {
        const expression = await engine.compileChecked(c.expr);
        if ((expression as { isFast?: boolean }).isFast) fast += 1;
        const bindings = { headers: {}, meta: {}, ...(c.bindings ?? {}) } as ExpressionBindings;
        const explained = await expression.evaluateExplained!(input, bindings);
        if (explained.engine === 'fast') answeredFast += 1;
        outcome = { result: explained.value };
      } catch (err) {
        if (err instanceof ExpressionCompileError) outcome = { code: err.engineCode ?? 'COMPILE' };
        else if (err instanceof PipelineError)
          outcome = {
            code: (err.details as { jsonata?: string } | undefined)?.jsonata ?? err.code,
          };
        else outcome = { code: `THROWN ${String(err)}` };
      }
      if (process.env.SLOW && Date.now() - t0 > 200) console.log(name, Date.now() - t0);
      const expectedCode = c.code ?? c.error?.code;
      if (expectedCode !== undefined) {
        if (!sameCode(expectedCode, outcome.code))
          failures.push(
            `${name}: expected error ${expectedCode}, got ${outcome.code ?? JSON.stringify(outcome.result)}`,
          );
      } else if (c.undefinedResult) {
        if (outcome.code !== undefined || outcome.result !== undefined)
          failures.push(
            `${name}: expected no result, got ${outcome.code ?? JSON.stringify(outcome.result)}`,
          );
      } else if (outcome.code !== undefined) {
        failures.push(
          `${name}: expected ${JSON.stringify(c.result)?.slice(0, 80)}, got error ${outcome.code}`,
        );
      } else if (!deepEqualJson(outcome.result, c.result)) {
        failures.push(
          `${name}: expected ${JSON.stringify(c.result)?.slice(0, 80)}, got ${JSON.stringify(outcome.result)?.slice(0, 80)}`,
        );
      }
    }
    expect(failures).toEqual([]);
    // The fast evaluator (fast-path.ts) took part: these cases checked it against the reference.
    expect(fast).toBeGreaterThan(400); // 484 of 1686 when written (234 before lambdas and predicates)
    expect(answeredFast).toBeGreaterThan(300); // 380 when written (187 before)
    // About 20 s alone; a CI run with Postgres busy beside it took over 120 s.
  }, 600_000);
});

/** Equality as JSON sees it (sequences are arrays; functions and undefined vanish). */
function deepEqualJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
}

function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      out[key] = normalize((value as Record<string, unknown>)[key]);
    return out;
  }
  if (typeof value === 'function') return undefined;
  return value;
}
