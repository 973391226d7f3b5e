import { containsPan, redactPanText } from '@junction/pipeline';
import { keptMessageId, MAX_MESSAGE_ID_BYTES } from './message-id';

describe('message ids holding a card number', () => {
  it('keeps an ordinary id as it is', () => {
    for (const id of ['o-17', '0191b3c4-7d2e-7a00-8000-000000000000', 'sig-0123abcd'])
      expect(keptMessageId(id)).toBe(id);
  });

  it.each(['4111111111111111', 'order-4111 1111 1111 1111', '4111\n1111\n1111\n1111'])(
    'replaces %j by a UUID made from it, the same each time',
    (id) => {
      const safe = keptMessageId(id);
      expect(safe).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(redactPanText(safe)).toBe(safe);
      expect(keptMessageId(id)).toBe(safe);
      expect(containsPan(id)).toBe(true);
    },
  );
});

describe('message ids too long to keep', () => {
  it('keeps an id of up to 255 UTF-8 bytes, and replaces a longer one by a UUID made from it', () => {
    const longest = 'o'.repeat(MAX_MESSAGE_ID_BYTES);
    expect(keptMessageId(longest)).toBe(longest);
    for (const id of [`${longest}o`, 'é'.repeat(128), 'x'.repeat(1_000_000)]) {
      const kept = keptMessageId(id);
      expect(kept).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(keptMessageId(id)).toBe(kept);
    }
    expect(keptMessageId('a'.repeat(300))).not.toBe(keptMessageId('b'.repeat(300)));
  });
});
