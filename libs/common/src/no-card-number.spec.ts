import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { HoldsNoCardNumber } from './no-card-number';

class Named {
  @HoldsNoCardNumber()
  name!: unknown;
}

const problems = (name: unknown) =>
  validateSync(plainToInstance(Named, { name })).flatMap((e) => Object.values(e.constraints ?? {}));

describe('HoldsNoCardNumber', () => {
  it.each([
    '4111111111111111',
    'key 4111-1111-1111-1111',
    '4111\n1111\n1111\n1111',
    { q: '5555555555554444' },
  ])('refuses %j, naming the field and not the value', (value) => {
    const found = problems(value);
    expect(found).toEqual(['name must not hold a card number']);
  });

  it.each(['erp-integration', 'orders 2026-01-15', { routeId: 'refunds' }])(
    'accepts %j',
    (value) => {
      expect(problems(value)).toEqual([]);
    },
  );
});
