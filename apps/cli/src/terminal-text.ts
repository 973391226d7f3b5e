/**
 * Control characters a terminal (or a CI log viewer) would act on rather than show: C0 but tab
 * and line feed (a carriage return only before a line feed), DEL, C1 (0x9b is CSI to some
 * terminals), and the bidirectional overrides and isolates that reorder what a line shows.
 */
const ACTIVE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /\r(?!\n)|[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from a gateway, a route source or a message, made safe to print: each active control
 * character becomes its visible `\uXXXX` escape (also a valid escape inside a JSON string, so
 * `--json` output stays JSON with the same value). A route source with `ESC ] 0 ;` in a comment
 * retitled the terminal of whoever ran `route diff`, and `ESC [ 1 A ESC [ 2 K` erased the diff
 * line above it.
 */
export function printable(text: string): string {
  return text.replace(ACTIVE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
