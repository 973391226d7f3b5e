import type { RegexPattern } from './regex-analysis';

/** What the shape of a pattern says about its backtracking, independently of recheck. */
export interface RegexShape {
  /**
   * An upper bound of the degree of the polynomial its backtracking can take in the input's
   * length: every unbounded quantifier adds one to what it repeats, a sequence adds up, an
   * alternation takes its largest branch, `{n,m}` multiplies what it repeats by m, and an
   * unanchored search adds one (it starts at every position).
   */
  degree: number;
  /**
   * The pattern repeats (`*`, `+`, `{n}` or `{n,m}` with n or m of 2 or more) a sub-pattern that
   * holds an unbounded quantifier: recheck's degree is not to be trusted there. It rates
   * /(.*a){20}/ as degree 2, true in the limit, but with a constant of 2^19: 17 s on 20,000
   * characters.
   */
  nested: boolean;
}

interface Part {
  degree: number;
  unbounded: boolean;
}

const QUANTIFIER = /^\{(\d+)(,(\d*))?\}/;

/** Reads a pattern that `new RegExp(source, flags)` accepts; quadratic in nothing. */
class ShapeReader {
  private i = 0;
  nested = false;

  constructor(
    private readonly source: string,
    private readonly unicodeSets: boolean,
  ) {}

  /** The whole pattern, and whether every one of its top-level branches starts with `^`. */
  read(): { part: Part; anchored: boolean } {
    const branches: Part[] = [];
    let anchored = true;
    for (;;) {
      anchored &&= this.source[this.i] === '^';
      branches.push(this.sequence());
      if (this.source[this.i] !== '|') break;
      this.i++;
    }
    return { part: alternation(branches), anchored };
  }

  private alternation(): Part {
    const branches = [this.sequence()];
    while (this.source[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    return alternation(branches);
  }

  private sequence(): Part {
    let degree = 0;
    let unbounded = false;
    while (
      this.i < this.source.length &&
      this.source[this.i] !== '|' &&
      this.source[this.i] !== ')'
    ) {
      const part = this.quantified(this.atom());
      degree += part.degree;
      unbounded ||= part.unbounded;
    }
    return { degree, unbounded };
  }

  private atom(): Part {
    const c = this.source[this.i++];
    if (c === '\\') {
      const e = this.source[this.i++];
      // \u{...}, \p{...}, \P{...} and \k<name> are one atom; other escapes are one char here.
      const close = e === 'k' ? '>' : '}';
      if ('upPk'.includes(e) && (this.source[this.i] === '{' || this.source[this.i] === '<')) {
        const end = this.source.indexOf(close, this.i);
        this.i = end < 0 ? this.source.length : end + 1;
      }
      return { degree: 0, unbounded: false };
    }
    if (c === '[') {
      this.skipClass();
      return { degree: 0, unbounded: false };
    }
    if (c === '(') {
      if (this.source[this.i] === '?') {
        // (?:, (?=, (?!, (?<=, (?<!, (?<name>, (?ims-ims:
        if (
          this.source[this.i + 1] === '<' &&
          this.source[this.i + 2] !== '=' &&
          this.source[this.i + 2] !== '!'
        )
          this.i = this.source.indexOf('>', this.i) + 1;
        else {
          this.i++;
          while (this.i < this.source.length && /[<=!:imsx-]/.test(this.source[this.i])) {
            const stop =
              this.source[this.i] === ':' ||
              this.source[this.i] === '=' ||
              this.source[this.i] === '!';
            this.i++;
            if (stop) break;
          }
        }
      }
      const inner = this.alternation();
      this.i++; // ')'
      return inner;
    }
    return { degree: 0, unbounded: false };
  }

  private skipClass(): void {
    let depth = 1;
    while (this.i < this.source.length && depth > 0) {
      const c = this.source[this.i++];
      if (c === '\\') this.i++;
      else if (c === '[' && this.unicodeSets) depth++;
      else if (c === ']') depth--;
    }
  }

  private quantified(part: Part): Part {
    for (;;) {
      const c = this.source[this.i];
      let max: number;
      let min: number;
      if (c === '*' || c === '+' || c === '?') {
        this.i++;
        min = c === '+' ? 1 : 0;
        max = c === '?' ? 1 : Infinity;
      } else if (c === '{' && QUANTIFIER.test(this.source.slice(this.i, this.i + 40))) {
        const m = QUANTIFIER.exec(this.source.slice(this.i, this.i + 40))!;
        this.i += m[0].length;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      } else {
        return part;
      }
      if (this.source[this.i] === '?') this.i++; // lazy: the same paths, in another order
      const repeats = Math.max(min, max);
      if (repeats >= 2 && (part.unbounded || part.degree > 0)) this.nested = true;
      part =
        max === Infinity
          ? { degree: part.degree + 1, unbounded: true }
          : { degree: part.degree > 0 ? part.degree * max : 0, unbounded: part.unbounded };
    }
  }
}

function alternation(branches: Part[]): Part {
  return {
    degree: Math.max(...branches.map((b) => b.degree)),
    unbounded: branches.some((b) => b.unbounded),
  };
}

/** The shape of a valid pattern (one `new RegExp` accepted): linear in its length. */
export function regexShape(pattern: RegexPattern): RegexShape {
  const reader = new ShapeReader(pattern.source, pattern.flags.includes('v'));
  const { part, anchored } = reader.read();
  const startsOnce = pattern.flags.includes('y') || (anchored && !pattern.flags.includes('m'));
  return { degree: part.degree + (startsOnce ? 0 : 1), nested: reader.nested };
}
