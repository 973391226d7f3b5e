import { dictionary } from '@zxcvbn-ts/language-common';
import unhomoglyph from 'unhomoglyph';

/**
 * What a user name and a password must be. Pure: the service applies it, the unit spec tries it.
 */

/** Names that belong to the system or read as a role: nobody may take them (compared by skeleton). */
export const RESERVED_USERNAMES = [
  'system',
  'root',
  'anonymous',
  'admin-api',
  'administrator',
  'superuser',
  'junction',
  'postgres',
  'nobody',
  'guest',
  'everyone',
  'unknown',
  'null',
  'undefined',
  'apikey',
  'api-key',
] as const;

export const MIN_PASSWORD_LENGTH = 12;

/**
 * The look-alike key of a user name (Unicode TR39's skeleton, case-blind): NFKC folds full-width
 * and compatibility forms, lower case folds case, then unhomoglyph maps every confusable
 * (confusables.txt) to its prototype, between NFDs as TR39 says. `Admin`, `аdmin` (Cyrillic а),
 * `ａｄｍｉｎ` and `adrnin` share the skeleton of `admin`.
 */
export function usernameSkeleton(name: string): string {
  const folded = name.normalize('NFKC').toLowerCase().normalize('NFD');
  return unhomoglyph(folded).normalize('NFD').toLowerCase();
}

const RESERVED_SKELETONS = new Set(RESERVED_USERNAMES.map(usernameSkeleton));

/** Control, format (zero-width, bidi), separator and unassigned code points; no surrogate halves. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

/** Why a new user name is refused, or null. `existing` are the names already taken (any provider). */
export function usernameProblem(name: string, existing: Iterable<string> = []): string | null {
  if (name.length === 0) return 'a user name cannot be empty';
  if (name !== name.trim() || /^\s|\s$/u.test(name))
    return 'a user name cannot start or end with a space';
  if (INVISIBLE.test(name)) return 'a user name cannot hold control or invisible characters';
  if (/\s{2,}/u.test(name) || /[^\S ]/u.test(name))
    return 'a user name can hold single plain spaces only';
  const skeleton = usernameSkeleton(name);
  if (RESERVED_SKELETONS.has(skeleton) || name.startsWith('('))
    return `'${name}' is a reserved name (or a look-alike of one)`;
  for (const other of existing)
    if (usernameSkeleton(other) === skeleton)
      return other === name
        ? `a user named '${name}' exists already`
        : `'${name}' looks like the existing user '${other}'`;
  return null;
}

let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  return (common ??= new Set(dictionary['passwords-common'].map((p) => p.toLowerCase())));
}

/** Why a password is refused for `username`, or null. */
export function passwordProblem(password: string, username: string): string | null {
  if ([...password].length < MIN_PASSWORD_LENGTH)
    return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  const folded = password.normalize('NFKC').toLowerCase();
  if (commonPasswords().has(folded)) return 'this password is on a list of common passwords';
  const name = username.normalize('NFKC').toLowerCase();
  if (
    name.length > 0 &&
    (folded === name || usernameSkeleton(password) === usernameSkeleton(username))
  )
    return 'a password cannot be the user name';
  if (/^(.)\1*$/u.test(folded)) return 'a password cannot be one character repeated';
  return null;
}
