import { checkSync } from 'recheck';
import { ExpressionCompileError } from './expression';

/** What is known of one pattern: refused, or allowed on inputs up to `maxInput` characters. */
type Verdict = { refused: string } | { maxInput: number };

const verdicts = new Map<string, Verdict>();

function verdictFor(source: string, flags: string, stepBudget: number): Verdict {
  const key = `/${source}/${flags}|${stepBudget}`;
  let verdict = verdicts.get(key);
  if (verdict) return verdict;
  const diagnostics = checkSync(source, flags, { timeout: 2000 });
  if (diagnostics.status === 'safe') {
    verdict = { maxInput: Infinity };
  } else if (diagnostics.status === 'vulnerable' && diagnostics.complexity.type === 'polynomial') {
    // Backtracking grows as n^degree: cap n so that the worst case stays within the budget.
    verdict = { maxInput: Math.floor(Math.pow(stepBudget, 1 / diagnostics.complexity.degree)) };
  } else if (diagnostics.status === 'vulnerable') {
    verdict = {
      refused: `regular expression /${source}/ can take exponential time on some inputs (ReDoS); rewrite it without nested or overlapping repetition`,
    };
  } else {
    verdict = {
      refused: `regular expression /${source}/ could not be proven free of catastrophic backtracking; simplify it`,
    };
  }
  verdicts.set(key, verdict);
  return verdict;
}

/**
 * JavaScript regular expressions run synchronously and no time limit can interrupt them. JSONata
 * builds a regex only from a literal, so every pattern is judged when the expression compiles:
 * exponential ones are refused there, and polynomial ones may only run on strings short enough
 * that their worst case stays within `stepBudget` backtracking steps.
 */
export function assertSafeRegex(
  regex: RegExp,
  position: number | undefined,
  stepBudget: number,
): void {
  const verdict = verdictFor(regex.source, regex.flags, stepBudget);
  if ('refused' in verdict) throw new ExpressionCompileError(verdict.refused, position);
}

export class RegexInputTooLong extends Error {}

/** Stands in for RegExp inside jsonata-js (its RegexEngine option): refuses over-long inputs. */
export function guardedRegexEngine(
  stepBudget: number,
): new (regex: RegExp) => { lastIndex: number; exec(text: string): RegExpExecArray | null } {
  return class GuardedRegExp {
    private readonly inner: RegExp;
    private readonly maxInput: number;

    constructor(regex: RegExp) {
      this.inner = new RegExp(regex.source, regex.flags);
      const verdict = verdictFor(regex.source, regex.flags, stepBudget);
      this.maxInput = 'maxInput' in verdict ? verdict.maxInput : 0;
    }

    get lastIndex(): number {
      return this.inner.lastIndex;
    }

    set lastIndex(value: number) {
      this.inner.lastIndex = value;
    }

    exec(text: string): RegExpExecArray | null {
      if (text.length > this.maxInput) {
        throw new RegexInputTooLong(
          `regular expression /${this.inner.source}/ may backtrack heavily; it runs only on strings up to ${this.maxInput} characters, this one has ${text.length}`,
        );
      }
      return this.inner.exec(text);
    }
  };
}
