import { forwardedAddress } from './forwarded-for';

describe('X-Forwarded-For entries as addresses', () => {
  it.each([
    ['203.0.113.5', '203.0.113.5'],
    [' 203.0.113.5:51234 ', '203.0.113.5'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['unknown', 'unknown'],
    ['999.1.1.1:80', '999.1.1.1:80'],
  ])('%s is %s', (entry, address) => {
    expect(forwardedAddress(entry)).toBe(address);
  });
});
