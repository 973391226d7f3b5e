import { containsPan, redactPanText } from '@junction/pipeline';
import { panFreeMessageId } from './message-id';

describe('message ids holding a card number', () => {
  it('keeps an ordinary id as it is', () => {
    for (const id of ['o-17', '0191b3c4-7d2e-7a00-8000-000000000000', 'sig-0123abcd'])
      expect(panFreeMessageId(id)).toBe(id);
  });

  it.each(['4111111111111111', 'order-4111 1111 1111 1111', '4111\n1111\n1111\n1111'])(
    'replaces %j by a UUID made from it, the same each time',
    (id) => {
      const safe = panFreeMessageId(id);
      expect(safe).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(redactPanText(safe)).toBe(safe);
      expect(panFreeMessageId(id)).toBe(safe);
      expect(containsPan(id)).toBe(true);
    },
  );
});
