import { regexShape } from './regex-degree';

const shape = (source: string, flags = '') => regexShape({ source, flags });

describe('regexShape', () => {
  it.each([
    ['(.*a){20}', 21, true],
    ['^(.*a){20}$', 20, true],
    ['(?:.*a){2,5}b', 6, true],
    ['(\\w+,){3}x', 4, true],
    ['^(\\d+,)*\\d+$', 3, true],
    ['(.*a)+', 3, true],
    ['(\\w+)\\s(\\w+)', 3, false],
    ['^[A-Z]{3}$', 0, false],
    ['\\d{4}-\\d{2}', 1, false],
    ['^(\\d{1,3}[.-]?){4}$', 0, false],
    ['^[\\w.+-]+@[\\w-]+\\.[\\w.-]+$', 3, false],
    ['a|^b', 1, false],
    ['[(.*]{20}\\(.*\\){5}', 2, false],
    ['(?<n>x+)\\k<n>{3}', 2, false],
    ['(?=(a+))a*b', 3, false],
  ])('/%s/ has degree at most %d, nested: %s', (source, degree, nested) => {
    expect(shape(source)).toEqual({ degree, nested });
  });

  it('counts a search that starts at every position, unless sticky or anchored', () => {
    expect(shape('^a+$', 'm').degree).toBe(2);
    expect(shape('a+', 'y').degree).toBe(1);
    expect(shape('[[a-z]--[aeiou]]+', 'v')).toEqual({ degree: 2, nested: false });
  });
});
