import { generateKeyPairSync } from 'node:crypto';
import { SecretScrubber } from './secret-scrubber';

/** A bearer token as payment and shop platforms issue them: base64, with '/', '+' and '='. */
const TOKEN = 'sk_live/Zm9vYmFy+c2VjcmV0/dG9rZW4=';

/** PHP's json_encode (the default of most shop systems): every '/' written as '\/'. */
const phpJson = (value: unknown) => JSON.stringify(value).replace(/\//g, '\\/');
/** Python's json.dumps (ensure_ascii): every non-ASCII character as \uXXXX. */
const pythonJson = (value: unknown) =>
  JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
const htmlEscape = (text: string) =>
  text.replace(/[&<>"'/+=]/g, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);

describe('SecretScrubber', () => {
  const scrubber = new SecretScrubber([TOKEN, 'pässwörd-42', 'a b&c']);

  it.each([
    ['as sent', `Authorization: Bearer ${TOKEN}`],
    ['JSON', JSON.stringify({ authorization: `Bearer ${TOKEN}` })],
    ['PHP json_encode (\\/)', phpJson({ authorization: `Bearer ${TOKEN}` })],
    ['JSON in JSON', JSON.stringify({ log: phpJson({ authorization: `Bearer ${TOKEN}` }) })],
    [
      '\\u escapes',
      `"${[...TOKEN].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`,
    ],
    ['encodeURIComponent', `?token=${encodeURIComponent(TOKEN)}`],
    [
      'lower-case percent escapes',
      `?token=${encodeURIComponent(TOKEN).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())}`,
    ],
    [
      'every byte percent-escaped',
      [...Buffer.from(TOKEN)].map((b) => `%${b.toString(16)}`).join(''),
    ],
    ['HTML hex references', `<pre>${htmlEscape(TOKEN)}</pre>`],
    ['HTML decimal references', TOKEN.replace(/\//g, '&#047;')],
    ['HTML named references', TOKEN.replace(/\//g, '&sol;').replace(/\+/g, '&plus;')],
    ['\\x escapes', TOKEN.replace(/\//g, '\\x2F')],
  ])('finds a token quoted %s', (_how, text) => {
    const out = scrubber.text(text);
    expect(out).toContain('***');
    expect(out).not.toMatch(/Zm9vYmFy|c2VjcmV0|dG9rZW4/);
    const bytes = scrubber.bytes(Buffer.from(text)).toString();
    expect(bytes).toBe(out);
  });

  it('finds non-ASCII secrets as UTF-8 bytes, \\u escapes or percent escapes', () => {
    for (const text of [
      'pässwörd-42',
      pythonJson('pässwörd-42').slice(1, -1),
      encodeURIComponent('pässwörd-42'),
      'p&#228;ssw&#xF6;rd-42',
    ]) {
      expect(scrubber.bytes(Buffer.from(text)).toString()).toBe('***');
      expect(scrubber.text(text)).toBe('***');
    }
  });

  it("finds a space as '+' and '&' as &amp;", () => {
    expect(scrubber.text('q=a+b%26c')).toBe('q=***');
    expect(scrubber.text('<td>a b&amp;c</td>')).toBe('<td>***</td>');
  });

  it('leaves everything else byte for byte, binary included', () => {
    const body = Buffer.concat([Buffer.from([0, 0xff, 0xc3, 0x28]), Buffer.from(' sk_live/Zm9v ')]);
    expect(scrubber.bytes(body)).toBe(body);
    const mixed = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(TOKEN),
      Buffer.from([0x80]),
    ]);
    expect([...scrubber.bytes(mixed)]).toEqual([0xff, 0xfe, ...Buffer.from('***'), 0x80]);
  });

  it('ignores secrets too short to tell apart, and scrubs longer ones first', () => {
    expect(new SecretScrubber(['ab']).text('abab')).toBe('abab');
    const nested = new SecretScrubber(['tok-123', `Bearer tok-123`]);
    expect(nested.text('Authorization: Bearer tok-123')).toBe('Authorization: ***');
  });

  it('finds a secret over 256 characters (a long JWT) in its whole forms', () => {
    const jwt = `eyJ${'a'.repeat(150)}.eyJ${'b'.repeat(150)}/${'c'.repeat(40)}`;
    const long = new SecretScrubber([jwt]);
    for (const form of [jwt, phpJson(jwt), encodeURIComponent(jwt).replace(/%2F/g, '%2f')])
      expect(long.text(`{"x":${form}}`)).not.toContain('aaaa');
  });

  it('handles a PEM private key (a few KB) in a large reply', () => {
    // 1024 bits: a PEM of about 900 characters is as long as the test needs, and generating a
    // 4096-bit one took seconds on a loaded machine.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pemScrubber = new SecretScrubber([pem, TOKEN]);
    const reply = Buffer.from(`${'x'.repeat(1024 * 1024)}${JSON.stringify({ key: pem })}`);
    const out = pemScrubber.bytes(reply).toString();
    expect(out.endsWith('{"key":"***"}')).toBe(true);
  });

  it('reads a reply of backslashes in linear time (an echo of JSON nested in JSON doubles them)', () => {
    // Each escape takes one to eight backslashes: unbounded, every start in a run of N read the
    // whole run and backed off, N² steps (minutes for this reply, on the event loop).
    const reply = Buffer.from(`${'\\'.repeat(1024 * 1024)}\\u0073k_live`);
    const started = process.hrtime.bigint();
    scrubber.bytes(reply);
    scrubber.text(reply.toString());
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(10);
  });
});
