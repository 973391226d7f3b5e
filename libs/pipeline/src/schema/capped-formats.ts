import type { default as AjvCore } from 'ajv/dist/core';

/**
 * ajv-formats' `url` pattern, cut into the parts {@link linearUrl} checks one at a time: the
 * scheme, the user info (`\S+(?::\S*)?@`, which matches the very strings `\S+@` does: `:` is no
 * space), the host and port, and the path (`/` and no space to the end).
 */
const URL_PREFIX = '^(?:https?|ftp):\\/\\/(?:\\S+(?::\\S*)?@)?';
const URL_PATH = '(?:\\/[^\\s]*)?$';
const SCHEME = /^(?:https?|ftp):\/\//i;
const WHITE_SPACE = /\s/gu;

/**
 * The `url` format with ajv-formats' answers, in linear time. Its pattern backtracks over the
 * user info in quadratic time (a crafted 50 KB string took 1.1 s; 300 KB about 40 s), so it was
 * checked on at most 2,048 characters, and a string of 2,048 could still take 2 ms, 500 of them
 * one validate stage 1 s. Here the host-and-port part of the pattern (linear: a crafted 1 MB host
 * 50 ms) runs once on each place a host may start: after the scheme, or after an `@` with no
 * space before it. It runs only up to the first `/` after that place and only where no `@` comes
 * before that `/` (a host holds no `@`), so the parts it reads do not overlap. Undefined when
 * ajv-formats' pattern is not the one this was cut for (the capped pattern is used then).
 */
export function linearUrl(pattern: RegExp): ((text: string) => boolean) | undefined {
  const source = pattern.source;
  if (!source.startsWith(URL_PREFIX) || !source.endsWith(URL_PATH)) return undefined;
  const hostAndPort = new RegExp(
    `^${source.slice(URL_PREFIX.length, source.length - URL_PATH.length)}$`,
    pattern.flags,
  );
  return (text: string): boolean => {
    const scheme = SCHEME.exec(text);
    if (!scheme) return false;
    const rest = text.slice(scheme[0].length);
    let firstSpace = -1;
    let lastSpace = -1;
    for (const space of rest.matchAll(WHITE_SPACE)) {
      if (firstSpace < 0) firstSpace = space.index;
      lastSpace = space.index;
    }
    const ats: number[] = [];
    for (let at = rest.indexOf('@'); at >= 0; at = rest.indexOf('@', at + 1)) ats.push(at);
    let slash = -1; // the first `/` at or after the place tried; starts only grow, so one pass
    for (let i = 0; i <= ats.length; i++) {
      const start = i === 0 ? 0 : ats[i - 1] + 1;
      // The user info: no space (nor any further on), and at least one character.
      if (i > 0 && firstSpace >= 0 && firstSpace < ats[i - 1]) break;
      if (i > 0 && ats[i - 1] === 0) continue;
      if (slash < start) {
        slash = rest.indexOf('/', start);
        if (slash < 0) slash = rest.length;
      }
      if (i < ats.length && ats[i] < slash) continue; // an `@` in the host
      if (slash < rest.length && lastSpace > slash) continue; // a space in the path
      if (hostAndPort.test(rest.slice(start, slash))) return true;
    }
    return false;
  };
}

/** ajv-formats' `url`, in linear time (see {@link linearUrl}). */
export function useCappedFormats(ajv: AjvCore): void {
  const url = ajv.formats.url;
  if (!(url instanceof RegExp)) return;
  const linear = linearUrl(url);
  ajv.addFormat('url', {
    type: 'string',
    validate: linear ?? ((text: string) => text.length <= URL_FORMAT_MAX_LENGTH && url.test(text)),
  });
}

/** Longest string the `url` pattern is checked on if it is not the one {@link linearUrl} knows. */
export const URL_FORMAT_MAX_LENGTH = 2048;
