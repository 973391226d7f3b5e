/**
 * Finds a connection's secrets in text that came back quoting them (a reply from a service that
 * echoes its request, a driver's error message) and replaces each with `***`.
 *
 * Comparing the secret as sent (or its URL- or JSON-encoded form as JavaScript writes it) is not
 * enough: whoever quotes it escapes it by the rules of their own language, and each character
 * may come back in another form. PHP's `json_encode` (the default encoder of most web shops)
 * writes `sk\/live` for `sk/live`; Python's `json.dumps` writes `\u00e9` for `é`; a URL may
 * use lower-case `%2f`; an HTML or XML page `&#47;`, `&#x2F;`, `&sol;` or `&amp;`; a JSON text
 * nested in another one doubles every backslash. So every character of a secret is matched in
 * any of those forms, one character one way and the next another. A secret re-encoded as a whole
 * (base64 of a token, a hash) is not found: no escaping rule makes it, and such a transformation
 * is the echoing service's own doing.
 */

/** Secrets shorter than this are left alone: they would match everywhere. */
const MIN_SECRET_LENGTH = 3;
/**
 * Secrets up to this length are matched character by character. A longer one (a PEM key, a long
 * JWT) would make a pattern that takes V8 a large part of a second to compile and run over a
 * 5 MiB reply; it is matched in its usual whole forms instead (see {@link wholeForms}).
 */
const MAX_PATTERN_LENGTH = 256;
const REPLACEMENT = '***';
/** Secrets shorter than this are matched in their own letter case only (see textAnyCase). */
const MIN_ANY_CASE_LENGTH = 8;

/** A regular expression source matching the code unit `unit` (0..0xffff) exactly. */
function unit(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Hex digits of `n`, `width` wide, matching upper or lower case. */
function hex(n: number, width: number): string {
  return [...n.toString(16).padStart(width, '0')]
    .map((d) => (/[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d))
    .join('');
}

/**
 * A backslash escape, also as a text nested in another one writes it: JSON in JSON doubles the
 * backslash (`\\/`, or `\\\/` from PHP), so one backslash or more: at most 8 (JSON three
 * levels deep). Unbounded, each start in a run of N backslashes read the whole run and backed off:
 * N² steps, and a reply echoing 1 MiB of them held the event loop for minutes.
 */
function backslashed(rest: string): string {
  return `\\\\{1,8}${rest}`;
}

const JSON_SHORT: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  '\b': 'b',
  '\f': 'f',
  '\n': 'n',
  '\r': 'r',
  '\t': 't',
};

const HTML_NAMED: Record<string, string[]> = {
  '&': ['amp'],
  '<': ['lt'],
  '>': ['gt'],
  '"': ['quot'],
  "'": ['apos'],
  '/': ['sol'],
  '+': ['plus'],
  '=': ['equals'],
  ':': ['colon'],
};

/** `text` as a regular expression source, each code unit escaped. */
function literal(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) out += unit(text.charCodeAt(i));
  return out;
}

/**
 * Every form one character (a code point) of a secret may take in quoted text. `asBytes`: the
 * text is read byte for byte (latin1), so the character as sent is its UTF-8 bytes.
 */
function characterForms(char: string, asBytes: boolean): string {
  const code = char.codePointAt(0)!;
  const utf8 = [...Buffer.from(char, 'utf8')];
  const forms = [
    asBytes ? utf8.map((b) => unit(b)).join('') : literal(char),
    // JSON, JavaScript, Java: \u002f (a pair of them for a character beyond the BMP).
    char.length === 2
      ? backslashed(`u${hex(char.charCodeAt(0), 4)}`) +
        backslashed(`u${hex(char.charCodeAt(1), 4)}`)
      : backslashed(`u${hex(code, 4)}`),
    // URLs and forms: %2F or %2f for each UTF-8 byte; a space may be a '+'.
    utf8.map((b) => `%${hex(b, 2)}`).join(''),
    // HTML and XML character references, with any leading zeros.
    `&#0*${code};`,
    `&#[xX]0*${hex(code, 1)};`,
  ];
  if (code < 0x100) forms.push(backslashed(`x${hex(code, 2)}`));
  if (JSON_SHORT[char] !== undefined) forms.push(backslashed(literal(JSON_SHORT[char])));
  if (char === ' ') forms.push('\\+');
  for (const name of HTML_NAMED[char] ?? []) forms.push(`&${name};`);
  return `(?:${forms.join('|')})`;
}

/** A long secret's forms: as sent, JSON (also with `\\/`), URL-encoded (either case). */
function wholeForms(secret: string, asBytes: boolean): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const url = encodeURIComponent(secret);
  const forms = [
    secret,
    json,
    json.replace(/\//g, '\\/'),
    url,
    url.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
  ];
  return [...new Set(forms)]
    .sort((a, b) => b.length - a.length)
    .map((form) => (asBytes ? Buffer.from(form, 'utf8').toString('latin1') : form));
}

type Matcher = RegExp | string[];

function matcher(secret: string, asBytes: boolean): Matcher {
  if (secret.length > MAX_PATTERN_LENGTH) return wholeForms(secret, asBytes);
  return new RegExp([...secret].map((char) => characterForms(char, asBytes)).join(''), 'g');
}

export class SecretScrubber {
  /** Longest secret first, so that a header value goes whole before the token inside it. */
  private readonly secrets: string[];
  private bytePatterns?: Matcher[];
  private textPatterns?: Matcher[];
  private anyCasePatterns?: Matcher[];

  constructor(values: Iterable<string>) {
    this.secrets = [...new Set(values)]
      .filter((value) => value.length >= MIN_SECRET_LENGTH)
      .sort((a, b) => b.length - a.length);
  }

  /** A body of any bytes (a reply), read byte for byte: what is not a secret stays as it was. */
  bytes(body: Buffer): Buffer {
    if (this.secrets.length === 0 || body.length === 0) return body;
    this.bytePatterns ??= this.secrets.map((secret) => matcher(secret, true));
    const text = body.toString('latin1');
    const scrubbed = scrub(text, this.bytePatterns);
    return scrubbed === text ? body : Buffer.from(scrubbed, 'latin1');
  }

  /** A text (an error message). */
  text(message: string): string {
    if (this.secrets.length === 0 || message.length === 0) return message;
    this.textPatterns ??= this.secrets.map((secret) => matcher(secret, false));
    return scrub(message, this.textPatterns);
  }

  /**
   * A text that may have changed the secrets' letter case on the way (a URL's host comes
   * lower-cased, as do some parsers' quotes of what they read). Secrets under 8 characters are
   * matched in their own case only: in any case they would turn up in ordinary words.
   */
  textAnyCase(message: string): string {
    if (this.secrets.length === 0 || message.length === 0) return message;
    this.anyCasePatterns ??= this.secrets.map((secret) => {
      if (secret.length < MIN_ANY_CASE_LENGTH) return matcher(secret, false);
      const m = matcher(secret, false);
      return m instanceof RegExp ? new RegExp(m.source, 'gi') : m.map((f) => f.toLowerCase());
    });
    let out = message;
    for (const m of this.anyCasePatterns)
      if (m instanceof RegExp) out = out.replace(m, REPLACEMENT);
      else for (const form of m) out = withoutAnyCase(out, form);
    return out;
  }
}

/** `text` with `form` (in lower case) replaced in whatever case it stands there. */
function withoutAnyCase(text: string, form: string): string {
  // Lower-casing keeps the length but for a few letters (İ): such a text goes lower-cased.
  const out = text.toLowerCase().length === text.length ? text : text.toLowerCase();
  const lower = out.toLowerCase();
  const parts: string[] = [];
  let from = 0;
  for (let at = lower.indexOf(form); at >= 0; at = lower.indexOf(form, from)) {
    parts.push(out.slice(from, at), REPLACEMENT);
    from = at + form.length;
  }
  return parts.length === 0 ? out : parts.join('') + out.slice(from);
}

function scrub(text: string, matchers: readonly Matcher[]): string {
  let out = text;
  for (const m of matchers)
    if (m instanceof RegExp) out = out.replace(m, REPLACEMENT);
    else for (const form of m) if (out.includes(form)) out = out.split(form).join(REPLACEMENT);
  return out;
}
