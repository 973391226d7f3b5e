import type { RegexAnalyzer, RegexFinding, RegexPattern } from './regex-analysis';
import { regexShape } from './regex-degree';

/** What is known of one pattern: refused, or allowed on inputs up to `maxInput` characters. */
export type Verdict = { refused: string } | { maxInput: number };

/** The limits of regex analysis for one route document (or one expression checked alone). */
export interface RegexCheckLimits {
  /** Wall-clock budget for analysing every pattern of one document, in ms. */
  budgetMs: number;
  /** Most time one pattern may take, in ms (a pattern that needs more is refused). */
  perPatternMs: number;
  /** Most regular expression literals one document may hold. */
  maxPatterns: number;
  /** Worst-case backtracking steps a polynomial pattern may take on one input. */
  stepBudget: number;
}

/**
 * Findings by pattern, shared by every engine of the process, bounded: the least recently used
 * entry goes first. Timeouts are not kept (they depend on the document's budget and the load).
 */
class FindingCache {
  private readonly entries = new Map<string, RegexFinding>();

  constructor(private readonly capacity: number) {}

  get(key: string): RegexFinding | undefined {
    const finding = this.entries.get(key);
    if (finding !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, finding);
    }
    return finding;
  }

  set(key: string, finding: RegexFinding): void {
    this.entries.delete(key);
    this.entries.set(key, finding);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}

export const FINDING_CACHE_SIZE = 4096;

/** A polynomial pattern that could run only on strings shorter than this is refused instead. */
export const MIN_USEFUL_INPUT = 64;
const findings = new FindingCache(FINDING_CACHE_SIZE);

/** For tests: how many findings the process keeps. */
export function cachedFindingCount(): number {
  return findings.size;
}

function keyOf(pattern: RegexPattern): string {
  return `/${pattern.source}/${pattern.flags}`;
}

function verdictOf(
  finding: RegexFinding,
  pattern: RegexPattern,
  limits: RegexCheckLimits,
): Verdict {
  switch (finding.status) {
    case 'safe':
      return { maxInput: Infinity };
    case 'polynomial': {
      // Repetition around an unbounded quantifier hides a constant recheck's degree leaves out
      // (/(.*a){20}/ is "degree 2" times 2^19): there the pattern's own bound counts too.
      const shape = regexShape(pattern);
      const degree = shape.nested ? Math.max(finding.degree, shape.degree) : finding.degree;
      // Backtracking grows as n^degree: cap n so that the worst case stays within the budget.
      const maxInput = Math.floor(Math.pow(limits.stepBudget, 1 / degree));
      if (maxInput < MIN_USEFUL_INPUT)
        return {
          refused: `regular expression /${pattern.source}/ can take polynomial time of degree up to ${degree} on some inputs (ReDoS), so it could run only on strings up to ${maxInput} characters; rewrite it without repetition around an unbounded quantifier such as .* or \\w+`,
        };
      return { maxInput };
    }
    case 'exponential':
      return {
        refused: `regular expression /${pattern.source}/ can take exponential time on some inputs (ReDoS); rewrite it without nested or overlapping repetition`,
      };
    case 'unknown':
      return {
        refused: finding.timedOut
          ? `regular expression /${pattern.source}/ could not be analysed within ${limits.perPatternMs} ms; simplify it`
          : `regular expression /${pattern.source}/ could not be proven free of catastrophic backtracking; simplify it`,
      };
    case 'budget':
      return {
        refused: `regular expression /${pattern.source}/ was not analysed: the document's regular expressions took more than the ${limits.budgetMs} ms analysis budget; use fewer or simpler ones`,
      };
  }
}

/** One regular expression literal of an expression, where it is written. */
export interface RegexLiteral {
  regex: RegExp;
  position?: number;
}

/**
 * The regular expressions of one compiled expression and what analysis allowed for each. Until
 * {@link settleRegexes} has run, every pattern is refused at run time: nothing is analysed on
 * the thread that evaluates.
 */
export class RegexSet {
  private readonly allowed = new Map<string, number>();

  /** Counts the changes to what is allowed, so that a user may keep an answer until the next. */
  version = 0;

  constructor(readonly literals: readonly RegexLiteral[]) {}

  allow(pattern: RegexPattern, maxInput: number): void {
    this.allowed.set(keyOf(pattern), maxInput);
    this.version++;
  }

  /** Longest input the pattern may run on; undefined when it was never allowed. */
  maxInput(pattern: RegexPattern): number | undefined {
    return this.allowed.get(keyOf(pattern));
  }
}

/** A problem analysis found with one literal of one set. */
export interface RegexProblem {
  set: RegexSet;
  message: string;
  position?: number;
}

/**
 * Analyses every literal of `sets` (one document's expressions) off this thread, within one
 * budget and a cap on how many literals there are; allows the safe and polynomial ones in their
 * sets and returns a problem for each refused one. Known findings come from a bounded cache.
 */
export async function settleRegexes(
  sets: readonly RegexSet[],
  analyzer: RegexAnalyzer,
  limits: RegexCheckLimits,
): Promise<RegexProblem[]> {
  const problems: RegexProblem[] = [];
  const pending: Array<{ set: RegexSet; literal: RegexLiteral }> = [];
  let count = 0;
  for (const set of sets) {
    for (const literal of set.literals) {
      if (++count > limits.maxPatterns) {
        problems.push({
          set,
          position: literal.position,
          message: `more than ${limits.maxPatterns} regular expressions in one route document; use fewer`,
        });
        break;
      }
      pending.push({ set, literal });
    }
    if (count > limits.maxPatterns) break;
  }
  if (count > limits.maxPatterns) return problems; // nothing is allowed: the document is refused

  const unknown = new Map<string, RegexPattern>();
  for (const { literal } of pending) {
    const pattern = { source: literal.regex.source, flags: literal.regex.flags };
    const key = keyOf(pattern);
    if (!unknown.has(key) && findings.get(key) === undefined) unknown.set(key, pattern);
  }
  const fresh = new Map<string, RegexFinding>();
  if (unknown.size > 0) {
    const patterns = [...unknown.values()];
    const results = await analyzer.analyse(patterns, limits.budgetMs, limits.perPatternMs);
    patterns.forEach((pattern, i) => {
      const finding = results[i] ?? { status: 'budget' };
      fresh.set(keyOf(pattern), finding);
      // A timeout depends on the budget and the machine's load: it is tried again next time.
      if (finding.status !== 'budget' && !(finding.status === 'unknown' && finding.timedOut))
        findings.set(keyOf(pattern), finding);
    });
  }
  for (const { set, literal } of pending) {
    const pattern = { source: literal.regex.source, flags: literal.regex.flags };
    const key = keyOf(pattern);
    const finding = fresh.get(key) ?? findings.get(key) ?? { status: 'budget' };
    const verdict = verdictOf(finding, pattern, limits);
    if ('refused' in verdict)
      problems.push({ set, position: literal.position, message: verdict.refused });
    else set.allow(pattern, verdict.maxInput);
  }
  return problems;
}

export class RegexInputTooLong extends Error {}

/**
 * Stands in for RegExp inside jsonata-js (its RegexEngine option), for one expression: runs a
 * pattern only as its set allows it, and refuses a pattern the set does not know (one that
 * `$eval` built from data at run time: it was never analysed, and is not analysed here).
 */
export function guardedRegexEngine(
  set: RegexSet,
  /** Called before each match is looked for (the time limit's meter: a match loop is no step). */
  onExec: () => void = () => undefined,
): new (regex: RegExp) => { lastIndex: number; exec(text: string): RegExpExecArray | null } {
  return class GuardedRegExp {
    private readonly inner: RegExp;
    private readonly maxInput: number | undefined;

    constructor(regex: RegExp) {
      this.inner = new RegExp(regex.source, regex.flags);
      this.maxInput = set.maxInput(regex);
    }

    get lastIndex(): number {
      return this.inner.lastIndex;
    }

    set lastIndex(value: number) {
      this.inner.lastIndex = value;
    }

    exec(text: string): RegExpExecArray | null {
      if (this.maxInput === undefined) {
        throw new RegexInputTooLong(
          `regular expression /${this.inner.source}/ was not checked for catastrophic backtracking when the route was saved (a regex in code built at run time, e.g. by $eval, cannot be); write it in the route itself`,
        );
      }
      if (text.length > this.maxInput) {
        throw new RegexInputTooLong(
          `regular expression /${this.inner.source}/ may backtrack heavily; it runs only on strings up to ${this.maxInput} characters, this one has ${text.length}`,
        );
      }
      onExec();
      return this.inner.exec(text);
    }
  };
}

/**
 * A regular expression matched against message data outside an expression (a JSON Schema
 * `pattern`, through ajv's `code.regExp` option): it runs only as settling allowed it.
 */
export class GuardedPattern {
  readonly regexes: RegexSet;
  private readonly inner: RegExp;

  /** Throws SyntaxError when `source` is no regular expression. */
  constructor(
    readonly source: string,
    readonly flags: string,
  ) {
    this.inner = new RegExp(source, flags.replace(/[gy]/g, ''));
    this.regexes = new RegexSet([{ regex: this.inner }]);
  }

  /** maxInput as the set allowed it at `version` (a validate stage tests every message). */
  private known: { version: number; maxInput: number | undefined } = {
    version: -1,
    maxInput: undefined,
  };

  test(text: string): boolean {
    if (this.known.version !== this.regexes.version)
      this.known = {
        version: this.regexes.version,
        maxInput: this.regexes.maxInput(this.inner),
      };
    const maxInput = this.known.maxInput;
    if (maxInput === undefined) {
      throw new RegexInputTooLong(
        `regular expression /${this.source}/ was not checked for catastrophic backtracking`,
      );
    }
    if (text.length > maxInput) {
      throw new RegexInputTooLong(
        `regular expression /${this.source}/ may backtrack heavily; it runs only on strings up to ${maxInput} characters, this one has ${text.length}`,
      );
    }
    return this.inner.test(text);
  }

  /** ajv keys its compiled patterns by this text. */
  toString(): string {
    return `/${this.source}/${this.flags}`;
  }
}
