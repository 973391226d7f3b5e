import { isUtf8 } from 'node:buffer';
import { changedNumber, changedNumberText } from './exact-numbers';
import { PipelineError } from './pipeline.error';

export interface DecodeLimits {
  maxBytes: number;
  /**
   * Deepest nesting of arrays and objects; a deeper body is refused before it is parsed (the
   * engine refuses it anyway: see CompiledRoute.run, whose default this is).
   */
  maxDepth?: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxBytes: 1024 * 1024, maxDepth: 64 };

/**
 * Bodies of at least this many characters have their nesting counted before JSON.parse: parsing
 * 520,000 nested arrays (a 1 MiB body) took 170 ms, and the message held the event loop 380 ms
 * before it was refused for its depth. A smaller body parses fast however it nests.
 */
const DEPTH_SCAN_FROM = 16 * 1024;

/**
 * Turns a raw payload into a body. Never throws anything but a PipelineError with code
 * INPUT_REJECTED, so a source can dead-letter the message and go on: a body that is not JSON,
 * not UTF-8, or holds a number a double would change (see exact-numbers). Nesting depth is checked
 * once, where every body enters the engine (CompiledRoute.run), not here as well.
 */
export function decodeBody(
  raw: Buffer | string,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): unknown {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > limits.maxBytes) {
    throw new PipelineError(
      'INPUT_REJECTED',
      `body is ${size} bytes, over the ${limits.maxBytes}-byte limit`,
    );
  }
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const maxDepth = limits.maxDepth ?? DEFAULT_DECODE_LIMITS.maxDepth!;
  if (text.length >= DEPTH_SCAN_FROM && /^\s*[[{]/.test(text) && nestedDeeperThan(text, maxDepth)) {
    throw new PipelineError('INPUT_REJECTED', `body is nested deeper than ${maxDepth} levels`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new PipelineError(
      'INPUT_REJECTED',
      `body is not valid JSON: ${jsonFault(err as Error)}`,
      undefined,
      undefined,
      { cause: err },
    );
  }
  // Bytes that are not UTF-8 became U+FFFD above: the JSON parsed, and a string would go on changed.
  if (typeof raw !== 'string' && !isUtf8(raw)) {
    throw new PipelineError(
      'INPUT_REJECTED',
      `body is not valid UTF-8 (byte ${invalidUtf8At(raw).toString()} of ${raw.length.toString()}); JSON must be UTF-8, and a string with that byte would go on changed (was it sent in another encoding, such as Latin-1?)`,
    );
  }
  const changed = changedNumber(text);
  if (changed) {
    throw new PipelineError('INPUT_REJECTED', changedNumberText('body', changed), undefined, {
      pointer: changed.pointer,
    });
  }
  return body;
}

/**
 * Whether the JSON text nests arrays and objects deeper than `limit` (brackets in strings do not
 * count). One pass, stopping at the first level too deep; malformed text is left to JSON.parse.
 */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > limit) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return false;
}

/**
 * V8 quotes a stretch of the input in some parse errors (`Unexpected token 'x', "4111 1111 "...
 * is not valid JSON`): a piece of a card number cut where no detector can recognise it. The
 * reason is kept, the quote is not. A stretch from inside a longer input is cut with `...` on
 * either side (`..."11 1111", x 1111 111"...`) and holds quotes of its own, so the whole
 * stretch goes, whatever it holds.
 */
function jsonFault(err: Error): string {
  const message = String(err?.message ?? err);
  const quoted = /^(.*?), (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s.exec(message);
  if (quoted) return quoted[1].replace(/'.*'/s, 'character').toLowerCase();
  // Other messages quote none of the input, only the syntax they expected (`Expected ',' or ']'
  // after array element in JSON at position 3`): kept whole, but for any double-quoted stretch,
  // which only the input could be.
  return message.replace(/(?:\.\.\.)?"[\s\S]*"(?:\.\.\.)?/, '(input)') || 'unexpected input';
}

/**
 * Where the first byte that is not part of well-formed UTF-8 is (Unicode's table 3-7: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or -1. Only asked once isUtf8 said no.
 */
export function invalidUtf8At(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    let more: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) more = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      more = 2;
      if (lead === 0xe0) low = 0xa0;
      else if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      more = 3;
      if (lead === 0xf0) low = 0x90;
      else if (lead === 0xf4) high = 0x8f;
    } else return i;
    if (i + more >= bytes.length) return i;
    if (bytes[i + 1] < low || bytes[i + 1] > high) return i;
    for (let k = 2; k <= more; k++) if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i;
    i += more + 1;
  }
  return -1;
}
