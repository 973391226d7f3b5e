/** What a dry run shows beyond the server's trace: masked fields and surviving card numbers. */

function escape(part: string): string {
  return part.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** JSON pointers of the leaves that differ between two values (a mask stage's input and output). */
export function changedPointers(before: unknown, after: unknown, at = ''): string[] {
  if (before === after) return [];
  const bothObjects =
    before !== null &&
    after !== null &&
    typeof before === 'object' &&
    typeof after === 'object' &&
    Array.isArray(before) === Array.isArray(after);
  if (!bothObjects) return [at || '/'];
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => changedPointers(a[k], b[k], `${at}/${escape(k)}`));
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * 13 to 19 digits that pass the Luhn check, written whole or in groups (spaces, tabs, dashes, dots,
 * slashes, underscores or other punctuation between them: `|`, `:`, `*`, `#`, `=`, `~`, `+`, a
 * non-breaking or zero-width space, a full-width bar or colon; broader than the gateway's detector,
 * which is fine for a hint and for what a draft may keep), anywhere in a run of groups: `4111 1111 1111 1111 123`
 * (a card number and its CVV) or `ref 12 4111-1111-1111-1111` hold one although the whole run
 * does not pass the check.
 */
export function looksLikeCardNumber(text: string): boolean {
  for (const run of text.matchAll(/\d+(?:[ \t\-._/|:*#=~+\u00a0\u200b\uff5c\uff1a]{1,3}\d+)*/g)) {
    const groups = run[0].split(/\D+/);
    for (let i = 0; i < groups.length; i++) {
      let digits = '';
      for (let j = i; j < groups.length && digits.length < 19; j++) {
        digits += groups[j];
        if (digits.length >= 13 && digits.length <= 19 && luhn(digits)) return true;
      }
    }
  }
  return false;
}

/** JSON pointers of the values in a message that look like card numbers. */
export function cardNumberPointers(value: unknown, at = ''): string[] {
  if (typeof value === 'string' || typeof value === 'number') {
    return looksLikeCardNumber(String(value)) ? [at || '/'] : [];
  }
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      cardNumberPointers(v, `${at}/${escape(k)}`),
    );
  }
  return [];
}
