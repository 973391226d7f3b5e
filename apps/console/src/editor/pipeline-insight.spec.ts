import { describe, expect, it } from '@jest/globals';
import { looksLikeCardNumber } from './pipeline-insight';

/** What keeps an unsaved route document out of sessionStorage (drafts.ts) and flags a dry run's values. */
describe('looksLikeCardNumber', () => {
  it.each([
    '4111111111111111',
    '4111 1111 1111 1111',
    'pan: 4111-1111-1111-1111',
    // with a number next to it, the whole run fails the Luhn check but the card number is there
    'card: 4111 1111 1111 1111 123',
    'card: 4111111111111111 123',
    'ref 12 4111-1111-1111-1111',
    '4111.1111.1111.1111',
    '4111/1111/1111/1111',
    // printed groups with other punctuation between them, as the gateway's detector reads them
    '4111|1111|1111|1111',
    '4111:1111:1111:1111',
    '4111 * 1111 * 1111 * 1111',
    '4111\uff5c1111\uff5c1111\uff5c1111',
    '4111\u00a01111\u200b1111 1111',
  ])('finds one in %j', (text) => {
    expect(looksLikeCardNumber(text)).toBe(true);
  });

  it.each([
    'id: orders\ntimeoutMs: 30000',
    '4111 1111 1111 1112',
    'phone: +44 20 7946 0958',
    '- 1000\n- 2000\n- 4000\n- 8000\n- 16000',
  ])('finds none in %j', (text) => {
    expect(looksLikeCardNumber(text)).toBe(false);
  });
});
