import { createHmac } from 'node:crypto';

export const MASK_STRATEGIES = ['redact', 'remove', 'pan', 'last4', 'hash', 'email'] as const;
export type MaskStrategy = (typeof MASK_STRATEGIES)[number];

export const REDACTED = '[REDACTED]';

/** Returned by a strategy that cannot apply to a value: the mask stage then fails closed. */
export class MaskNotApplicable extends Error {}

export interface MaskContext {
  /** Key for `hash`; supplied by the runtime, never part of the route document. */
  hmacKey: Buffer;
}

type Masker = (value: unknown, context: MaskContext) => unknown;

function scalarText(value: unknown, strategy: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new MaskNotApplicable(
    `'${strategy}' applies to a string or number, found ${describe(value)}`,
  );
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const PAN_SEPARATORS = /[\s-]/g;

export const MASKERS: Record<Exclude<MaskStrategy, 'remove'>, Masker> = {
  redact: () => REDACTED,
  pan: (value) => {
    const digits = scalarText(value, 'pan').replace(PAN_SEPARATORS, '');
    if (!/^\d{12,19}$/.test(digits)) {
      throw new MaskNotApplicable(
        `'pan' expects a card number of 12 to 19 digits, found ${digits.length} characters that are not one`,
      );
    }
    return digits.slice(0, 6) + '*'.repeat(digits.length - 10) + digits.slice(-4);
  },
  last4: (value) => {
    const text = scalarText(value, 'last4');
    return text.length <= 4
      ? '*'.repeat(text.length)
      : '*'.repeat(text.length - 4) + text.slice(-4);
  },
  hash: (value, context) => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (text === undefined) throw new MaskNotApplicable(`'hash' cannot hash ${describe(value)}`);
    return createHmac('sha256', context.hmacKey).update(text).digest('hex');
  },
  email: (value) => {
    const text = scalarText(value, 'email');
    const at = text.lastIndexOf('@');
    if (at < 1 || at === text.length - 1) {
      throw new MaskNotApplicable(
        `'email' expects an e-mail address, found a string without a local part and domain`,
      );
    }
    return `${text[0]}***${text.slice(at)}`;
  },
};
