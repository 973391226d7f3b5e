import type { default as AjvCore } from 'ajv/dist/core';

/**
 * Longest string the `url` format is checked on; a longer one does not match. ajv-formats' `url`
 * pattern backtracks over its user-info part (`\S+(?::\S*)?@`) in quadratic time: a crafted
 * 50 KB string took 1.1 s, a 1 MB one would take minutes. At 2,048 characters (what browsers and
 * servers commonly take) its worst case is about 2 ms.
 */
export const URL_FORMAT_MAX_LENGTH = 2048;

/** Caps the formats whose check grows faster than the string (see {@link URL_FORMAT_MAX_LENGTH}). */
export function useCappedFormats(ajv: AjvCore): void {
  const url = ajv.formats.url;
  if (!(url instanceof RegExp)) return;
  ajv.addFormat('url', {
    type: 'string',
    validate: (text: string) => text.length <= URL_FORMAT_MAX_LENGTH && url.test(text),
  });
}
