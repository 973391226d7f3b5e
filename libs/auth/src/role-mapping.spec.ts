import { normalizeDn } from './ldap/dn';
import { RoleMapping } from './role-mapping';

describe('RoleMapping', () => {
  it('reads group=role entries, split at the last "=" (DNs have their own)', () => {
    const m = RoleMapping.parse(
      'cn=gateway-admins,ou=groups,dc=junction,dc=test=admin;\n' +
        'CN=Gateway-Viewers, OU=groups, DC=junction, DC=test = viewer ; cn=ops\\;team,dc=test=operator,viewer',
      normalizeDn,
    );
    expect(m.size).toBe(3);
    expect(
      m.rolesFor([
        'cn=gateway-admins,ou=groups,dc=junction,dc=test',
        'cn=gateway-viewers,ou=groups,dc=junction,dc=test',
        'cn=unmapped,dc=test',
        'not a dn',
      ]),
    ).toEqual(['admin', 'viewer']);
    expect(m.rolesFor(['cn=ops\\3Bteam,dc=test'])).toEqual(['operator', 'viewer']);
    expect(m.rolesFor([])).toEqual([]);
  });

  it('reads "\\;" inside a claim value as ";"', () => {
    expect(RoleMapping.parse('a\\;b=admin;c=viewer').rolesFor(['a;b'])).toEqual(['admin']);
  });

  it('reads a JSON object', () => {
    const m = RoleMapping.parse(
      '{"gateway-admins": "admin", "gateway-editors": ["editor", "viewer"]}',
    );
    expect(m.rolesFor(['gateway-editors', 'gateway-admins'])).toEqual([
      'admin',
      'editor',
      'viewer',
    ]);
    expect(m.rolesFor(['Gateway-Admins'])).toEqual([]);
  });

  it('says what is wrong', () => {
    expect(() => RoleMapping.parse('')).toThrow(/no group/);
    expect(() => RoleMapping.parse('gateway-admins')).toThrow(/group=role/);
    expect(() => RoleMapping.parse('gateway-admins=king')).toThrow(/unknown role "king"/);
    expect(() => RoleMapping.parse('{"a": 1}')).toThrow(/string or an array/);
    expect(() => RoleMapping.parse('{nope')).toThrow(/JSON/);
    expect(() => RoleMapping.parse('gateway-admins=admin', normalizeDn)).toThrow(
      /distinguished name/,
    );
  });
});
