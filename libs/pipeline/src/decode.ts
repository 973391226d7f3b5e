import { changedNumber, changedNumberText } from './exact-numbers';
import { PipelineError } from './pipeline.error';

export interface DecodeLimits {
  maxBytes: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxBytes: 1024 * 1024 };

/**
 * Turns a raw payload into a body. Never throws anything but a PipelineError with code
 * INPUT_REJECTED, so a source can dead-letter the message and go on: a body that is not JSON,
 * and one with a number a double would change (see exact-numbers). Nesting depth is checked
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
  const changed = changedNumber(text);
  if (changed) {
    throw new PipelineError('INPUT_REJECTED', changedNumberText('body', changed), undefined, {
      pointer: changed.pointer,
    });
  }
  return body;
}

/**
 * V8 quotes a stretch of the input in some parse errors (`Unexpected token 'x', "4111 1111 "...
 * is not valid JSON`): a piece of a card number cut where no detector can recognise it. The
 * reason is kept, the quote is not.
 */
function jsonFault(err: Error): string {
  const message = String(err?.message ?? err);
  const quoted = /^(.*?), ".*" is not valid JSON$/s.exec(message);
  if (quoted) return quoted[1].replace(/'.*'/s, 'character').toLowerCase();
  return message.replace(/"[^"]*"/g, '(input)');
}
