/**
 * RFC 4515 escaping of a value put into an LDAP search filter. Every character that means
 * something in a filter (`*`, `(`, `)`, `\`, NUL) becomes `\XX`, so a user name such as
 * `*` or `alice)(uid=*` is searched for literally and matches nobody.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Fills `{name}` placeholders of a filter template with escaped values. */
export function renderFilter(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? escapeFilterValue(values[name]) : whole,
  );
}

/**
 * A light check that a filter template is one balanced, parenthesised filter, for start-up
 * validation (the directory has the last word on the syntax).
 */
export function checkFilterTemplate(template: string, placeholders: string[]): string | null {
  const t = template.trim();
  if (!t.startsWith('(') || !t.endsWith(')')) return 'must be a filter in parentheses';
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '(') depth++;
    if (c === ')' && --depth < 0) return 'has unbalanced parentheses';
    if (depth === 0 && i < t.length - 1)
      return 'must be one filter (wrap several in (&...) or (|...))';
  }
  if (depth !== 0) return 'has unbalanced parentheses';
  const used = [...t.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  const unknown = used.filter((name) => !placeholders.includes(name));
  if (unknown.length > 0)
    return `knows only the placeholders ${placeholders.map((p) => `{${p}}`).join(', ')} (not {${unknown[0]}})`;
  if (used.length === 0) return `must contain ${placeholders.map((p) => `{${p}}`).join(' or ')}`;
  return null;
}
