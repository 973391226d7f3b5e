import { randomBytes } from 'node:crypto';
import {
  passwordProblem,
  RESERVED_USERNAMES,
  usernameProblem,
  usernameSkeleton,
} from './account-policy';

/** Look-alikes of `name`: case, full-width, Cyrillic and Greek letters, NFKC forms. */
function lookAlikes(name: string): string[] {
  const cyrillic: Record<string, string> = {
    a: '\u0430',
    e: '\u0435',
    o: '\u043e',
    p: '\u0440',
    c: '\u0441',
    x: '\u0445',
    i: '\u0456',
  };
  const out = [
    name.toUpperCase(),
    name[0].toUpperCase() + name.slice(1),
    [...name].map((ch) => String.fromCodePoint(ch.codePointAt(0)! + 0xfee0)).join(''), // full-width
  ];
  for (let i = 0; i < name.length; i++)
    if (cyrillic[name[i]]) out.push(name.slice(0, i) + cyrillic[name[i]] + name.slice(i + 1));
  return out.filter((n) => n !== name);
}

describe('user names', () => {
  it.each([
    ['admin', 'Admin'],
    ['admin', '\u0430dmin'],
    ['admin', '\uff41\uff44\uff4d\uff49\uff4e'],
    ['admin', 'adrnin'],
    ['paypal', 'p\u0430yp\u0430l'],
    ['ffice', '\ufb03ce'], // the ffi ligature, an NFKC form
    ['alice', '\u24d0lice'], // circled a
  ])('%s and %s share a skeleton, and the second is refused beside the first', (a, b) => {
    expect(usernameSkeleton(a)).toBe(usernameSkeleton(b));
    expect(usernameProblem(b, [a])).toMatch(/looks like/);
    expect(usernameProblem(a, [b])).toMatch(/looks like/);
  });

  it('refuses generated look-alikes of generated names', () => {
    for (let i = 0; i < 50; i++) {
      const name = `user${randomBytes(3).toString('hex').replace(/[0-9]/g, '')}ace`;
      expect(usernameProblem(name, ['someone'])).toBeNull();
      for (const other of lookAlikes(name))
        expect({ other, problem: usernameProblem(other, [name]) }).toMatchObject({
          problem: expect.stringMatching(/looks like/),
        });
    }
  });

  it('refuses reserved names and their look-alikes', () => {
    for (const name of [
      ...RESERVED_USERNAMES,
      'SYSTEM',
      'R\u043e\u043et',
      'Anonymous',
      '(anonymous)',
    ])
      expect({ name, problem: usernameProblem(name) }).toMatchObject({
        problem: expect.stringMatching(/reserved/),
      });
  });

  it.each([
    [' alice', /start or end/],
    ['alice ', /start or end/],
    ['ali\u0000ce', /control|invisible/],
    ['ali\u200bce', /control|invisible/], // zero-width space
    ['ali\u202ece', /control|invisible/], // right-to-left override
    ['ali\tce', /control|invisible/],
    ['ali\u00a0ce', /plain spaces/],
    ['ali  ce', /plain spaces/],
    ['', /empty/],
  ])('refuses %j', (name, problem) => {
    expect(usernameProblem(name)).toMatch(problem);
  });

  it('takes ordinary names, with accents and single spaces', () => {
    for (const name of ['jane', 'Jane Doe', 'jürgen', 'o.brien', 'svc-erp_01', '李雷'])
      expect({ name, problem: usernameProblem(name, ['admin', 'bob']) }).toEqual({
        name,
        problem: null,
      });
  });
});

describe('passwords', () => {
  it.each([
    ['short', 'at least 12'],
    ['password1234', 'common'],
    ['PASSWORD1234', 'common'],
    ['qwerty123456', 'common'],
    ['1q2w3e4r5t6y', 'common'],
    ['aaaaaaaaaaaaaaa', 'repeated'],
    ['jane.the.admin', 'user name'],
    ['JANE.THE.ADMIN', 'user name'],
  ])('refuses %j', (password, why) => {
    expect(passwordProblem(password, 'jane.the.admin')).toContain(why);
  });

  it('takes long, uncommon passwords', () => {
    for (let i = 0; i < 20; i++)
      expect(passwordProblem(randomBytes(12).toString('base64url'), 'jane')).toBeNull();
    expect(passwordProblem('correct horse battery staple', 'jane')).toBeNull();
  });
});
