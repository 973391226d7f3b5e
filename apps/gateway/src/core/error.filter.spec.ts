import { HttpException, Logger, NotFoundException } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import { errorBody } from './error.filter';

const log = { warn: () => undefined, error: () => undefined } as unknown as Logger;

describe('error bodies', () => {
  it.each([
    [
      "Nest's 404 for an unknown URL",
      new NotFoundException('Cannot GET /x/4111111111111111?pan=5555555555554444'),
    ],
    [
      'an HttpException with a list',
      new HttpException({ message: ['name 4111 1111 1111 1111 is bad'] }, 400),
    ],
    [
      'a Fastify request error',
      Object.assign(new Error('bad content type application/x-4111111111111111'), {
        statusCode: 415,
      }),
    ],
    [
      'a JunctionError with details',
      new JunctionError('BAD_REQUEST', 'bad', { value: '5555\n5555\n5555\n4444' }),
    ],
  ])('carry no card number: %s', (_name, exception) => {
    const body = errorBody(exception, log);
    expect(JSON.stringify(body)).not.toMatch(/4111|5555/);
    expect(JSON.stringify(body)).toContain('[PAN REDACTED]');
  });

  it('leaves a message without a card number as it was', () => {
    expect(errorBody(new NotFoundException('Cannot GET /x/12'), log)).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'Cannot GET /x/12',
    });
  });
});
