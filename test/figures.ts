/**
 * A figure a test measured (ids lost and duplicated after a kill, memory held by an export):
 * printed only when asked for (`JUNCTION_TEST_FIGURES=1 npx jest …`), so that a passing run stays
 * quiet. The test's assertions, not this line, are what passes or fails.
 */
export function printFigure(line: string): void {
  if (process.env.JUNCTION_TEST_FIGURES === '1') process.stdout.write(`${line}\n`);
}
