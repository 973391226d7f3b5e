import { sourceOf } from './login-throttle.service';

describe('sourceOf', () => {
  it('is the address for IPv4, the /64 network for IPv6, and the IPv4 of a mapped address', () => {
    const cases: [string, string][] = [
      ['203.0.113.7', '203.0.113.7'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
      ['2001:db8:1:2::ffff', '2001:db8:1:2::/64'],
      ['2001:DB8:1:2:0:0:0:1', '2001:db8:1:2::/64'],
      ['2001:db8::1', '2001:db8:0:0::/64'],
      ['2001:db8:0:0:1::', '2001:db8:0:0::/64'],
      ['2001:db8:1::2:3:4:5', '2001:db8:1:0::/64'],
      ['1:2:3::4:5:6:7', '1:2:3:0::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
      ['::1', '0:0:0:0::/64'],
      ['::ffff:203.0.113.7', '203.0.113.7'],
      ['::ffff:cb00:7107', '203.0.113.7'],
      ['64:ff9b::203.0.113.7', '64:ff9b:0:0::/64'],
      ['unknown', 'unknown'],
    ];
    expect(cases.map(([ip]) => [ip, sourceOf(ip)])).toEqual(cases);
  });
});
