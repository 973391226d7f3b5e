import { containsPan } from '@junction/pipeline';
import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * A field that is kept and shown back (a name, a username, a saved search) must hold no card
 * number: it would be stored, listed, written into metrics and audit records as it is. Refused
 * with a 400 that names the field and never quotes the value.
 */
export function HoldsNoCardNumber(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'holdsNoCardNumber',
      validator: {
        validate: (value: unknown) => !containsPan(value),
        defaultMessage: (args) => `${args?.property ?? 'value'} must not hold a card number`,
      },
    },
    options,
  );
}
