import { cardSample, ORDINARY_KINDS, prng } from './pan-corpus';
import {
  containsPan,
  luhnValid,
  mayHoldPan,
  PAN_REDACTED,
  redactPans,
  redactPanText,
} from './pan-detector';

describe('PAN detector', () => {
  it.each([
    ['4111111111111111', true],
    ['5500000000000004', true],
    ['340000000000009', true],
    ['4111111111111112', false],
    ['79927398713', true],
  ])('luhnValid(%s) is %s', (digits, valid) => {
    expect(luhnValid(digits)).toBe(valid);
  });

  it.each([
    ['card 4111111111111111 on file', `card ${PAN_REDACTED} on file`],
    ['4111 1111 1111 1111', PAN_REDACTED],
    ['4111-1111-1111-1111', PAN_REDACTED],
    ['amex 340000000000009.', `amex ${PAN_REDACTED}.`],
    ['19 digits 4000000000000000006', `19 digits ${PAN_REDACTED}`],
    ['not luhn 4111111111111112', 'not luhn 4111111111111112'],
    ['too short 411111111111', 'too short 411111111111'],
    ['too long 41111111111111111111111', 'too long 41111111111111111111111'],
    ['order 12345 total 99.50', 'order 12345 total 99.50'],
    ['two: 4111111111111111,5500000000000004', `two: ${PAN_REDACTED},${PAN_REDACTED}`],
    // A card number in groups, glued to more digits by a separator.
    ['ref 12-4111-1111-1111-1111', `ref 12-${PAN_REDACTED}`],
    ['4111 1111 1111 1111 99', `${PAN_REDACTED} 99`],
    ['7 4111 1111 1111 1111 2026', `7 ${PAN_REDACTED} 2026`],
    ['amex 3400 000000 00009 x', `amex ${PAN_REDACTED} x`],
    ['1234-4111-1111-1111-1111-5500-0000-0000-0004', `1234-${PAN_REDACTED}-${PAN_REDACTED}`],
    // A chance Luhn-valid span overlapping the real card number cannot leave part of it.
    ['100000 4111 1111 1111 1111', PAN_REDACTED],
    // A card number without spaces next to a CVV or an expiry.
    ['pay 4111111111111111 123', `pay ${PAN_REDACTED} 123`],
    ['4111111111111111 12 29', `${PAN_REDACTED} 12 29`],
    // Groups that do not add up to a Luhn-valid 13-19 digits stay.
    ['phone +49 30 1234 5678 ext 12', 'phone +49 30 1234 5678 ext 12'],
    ['date 2026-11-26 10 30 45', 'date 2026-11-26 10 30 45'],
    ['ids 1234-5678-9012-3456-7890', 'ids 1234-5678-9012-3456-7890'],
  ])('redactPanText(%j)', (input, expected) => {
    expect(redactPanText(input)).toBe(expected);
  });

  it('finds card numbers anywhere in a value: strings, numbers, keys, arrays', () => {
    const value = {
      note: 'pay with 4111111111111111',
      raw: 4111111111111111,
      nested: [{ deep: ['x', '5500 0000 0000 0004'] }],
      '4111111111111111': 'as a key',
      fine: 'nothing here',
      amount: 1234.5,
    };
    const out = redactPans(value);
    expect(JSON.stringify(out)).not.toMatch(/4111111111111111|5500 0000 0000 0004/);
    expect(out.fine).toBe('nothing here');
    expect(out.amount).toBe(1234.5);
    expect(value.note).toBe('pay with 4111111111111111'); // input untouched
  });

  it('returns the same value when there is nothing to redact', () => {
    const value = { a: [1, 2, { b: 'text 1234' }] };
    expect(redactPans(value)).toBe(value);
    expect(containsPan(value)).toBe(false);
    expect(containsPan({ a: '4111111111111111' })).toBe(true);
  });
});

describe('PAN detector on generated card numbers and ordinary numbers', () => {
  it('finds every card number however it is written, and replaces exactly its written form', () => {
    const random = prng(7);
    const missed: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const sample = cardSample(random, PAN_REDACTED);
      const out = redactPanText(sample.text);
      if (out !== sample.expected)
        missed.push(`${JSON.stringify(sample.text)} -> ${JSON.stringify(out)}`);
      // The fast skip must never pass over a card number (full-width digits, zero-width characters).
      if (!mayHoldPan(sample.text) || !mayHoldPan(JSON.stringify(sample.text)))
        missed.push(`skipped ${JSON.stringify(sample.text)}`);
    }
    expect(missed.slice(0, 5)).toEqual([]); // detection rate 100%
  });

  it.each(ORDINARY_KINDS.map((k) => [k.kind, k.make] as const))(
    'leaves ordinary numbers alone: %s (false positives under 0.5%%)',
    (_kind, make) => {
      const random = prng(11);
      let wrong = 0;
      for (let i = 0; i < 2000; i++) {
        const text = make(random);
        if (redactPanText(text) !== text) wrong += 1;
      }
      expect(wrong / 2000).toBeLessThan(0.005);
    },
  );

  it.each([
    ['dots', 'card 4111.1111.1111.1111 ok', `card ${PAN_REDACTED} ok`],
    ['underscores', '4111_1111_1111_1111', PAN_REDACTED],
    ['slashes', 'x 4111/1111/1111/1111 y', `x ${PAN_REDACTED} y`],
    ['tabs', '4111\t1111\t1111\t1111', PAN_REDACTED],
    ['repeated spaces', 'a 4111   1111  1111 1111 b', `a ${PAN_REDACTED} b`],
    ['no-break spaces', '4111\u00a01111\u00a01111\u00a01111', PAN_REDACTED],
    ['en dashes', '4111\u20131111\u20131111\u20131111', PAN_REDACTED],
    ['zero-width spaces', '4\u200b111111111111111', PAN_REDACTED],
    [
      'full-width digits',
      'カード４１１１１１１１１１１１１１１１です',
      `カード${PAN_REDACTED}です`,
    ],
    ['Arabic-Indic digits', '٤١١١١١١١١١١١١١١١', PAN_REDACTED],
    ['groups of other sizes', '41 1111 111 11111 11', PAN_REDACTED],
    ['amex 4-6-5', '3782 822463 10005', PAN_REDACTED],
  ])('catches %s', (_name, input, expected) => {
    expect(redactPanText(input)).toBe(expected);
  });

  it.each([
    ['an epoch-ms timestamp', '1733332185000'],
    ['a date range', '2026-01-15/2026-02-20'],
    ['an international phone number', '+49 1512 3456 7897'],
    ['a UUID', '123e4567-e89b-12d3-a456-426614174000'],
  ])('leaves %s alone', (_name, text) => {
    expect(redactPanText(text)).toBe(text);
  });
});
