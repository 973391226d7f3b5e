import { normalizeDn, parseDn, sameDn } from './dn';
import { escapeFilterValue, renderFilter, checkFilterTemplate } from './ldap-filter';

describe('normalizeDn', () => {
  it("treats OpenLDAP's \\2C and the \\, it was added with as the same DN", () => {
    const asReturned = 'cn=Frank (Ops)\\2C Jr,ou=people,dc=junction,dc=test';
    const asSeeded = 'cn=Frank (Ops)\\, Jr,ou=people,dc=junction,dc=test';
    expect(normalizeDn(asReturned)).toBe(normalizeDn(asSeeded));
    expect(normalizeDn(asReturned)).toBe('cn=frank (ops)\\, jr,ou=people,dc=junction,dc=test');
  });

  it('ignores the case of types and values, spaces around separators, OIDs for types', () => {
    expect(
      sameDn(
        'CN=Gateway-Admins, OU=Groups,  DC=junction , DC=test',
        '2.5.4.3=gateway-admins,ou=groups,0.9.2342.19200300.100.1.25=junction,dc=test',
      ),
    ).toBe(true);
    expect(
      sameDn(
        'cn=gateway-admins,ou=groups,dc=junction,dc=test',
        'cn=gateway-editors,ou=groups,dc=junction,dc=test',
      ),
    ).toBe(false);
  });

  it('decodes UTF-8 hex escapes and sorts multi-valued RDNs', () => {
    expect(normalizeDn('cn=J\\C3\\BCrgen,dc=test')).toBe(normalizeDn('cn=Jürgen,dc=test'));
    expect(normalizeDn('uid=a+cn=B,dc=test')).toBe(normalizeDn('cn=b+uid=A,dc=test'));
    expect(parseDn('cn=x\\+y,dc=test')).toEqual([
      [{ type: 'cn', value: 'x+y' }],
      [{ type: 'dc', value: 'test' }],
    ]);
  });

  it('refuses what is not a DN', () => {
    for (const bad of ['gateway-admins', 'cn=a,', '=x', 'cn=a,dc', 'c n=x']) {
      expect(() => normalizeDn(bad)).toThrow(/not a distinguished name/);
      expect(sameDn(bad, bad)).toBe(false);
    }
  });
});

describe('LDAP filter values (RFC 4515)', () => {
  it('escapes every filter metacharacter', () => {
    expect(escapeFilterValue('*')).toBe('\\2a');
    expect(escapeFilterValue('alice)(uid=*')).toBe('alice\\29\\28uid=\\2a');
    expect(escapeFilterValue('*)(|(uid=*')).toBe('\\2a\\29\\28|\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\0')).toBe('a\\5cb\\00');
    expect(renderFilter('(&(objectClass=person)(uid={username}))', { username: 'x*' })).toBe(
      '(&(objectClass=person)(uid=x\\2a))',
    );
  });

  it('checks filter templates', () => {
    expect(checkFilterTemplate('(uid={username})', ['username'])).toBeNull();
    expect(
      checkFilterTemplate('(|(member={dn})(memberUid={username}))', ['dn', 'username']),
    ).toBeNull();
    expect(checkFilterTemplate('uid={username}', ['username'])).toMatch(/parentheses/);
    expect(checkFilterTemplate('((uid={username})', ['username'])).toMatch(/unbalanced/);
    expect(checkFilterTemplate('(uid=alice)', ['username'])).toMatch(/must contain/);
    expect(checkFilterTemplate('(uid={user})', ['username'])).toMatch(/placeholders/);
    expect(checkFilterTemplate('(a={username})(b=c)', ['username'])).toMatch(/one filter/);
  });
});
