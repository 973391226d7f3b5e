import type { ConnectorLogger } from '../logger';

/**
 * A logger for integration tests: keeps every line (a test can assert on them) and prints them
 * only with JUNCTION_TEST_LOG=1, so expected reconnect warnings do not drown the test output.
 */
export function testLogger(): ConnectorLogger & { lines: string[] } {
  const lines: string[] = [];
  const print = process.env.JUNCTION_TEST_LOG === '1';
  const at =
    (level: string) =>
    (message: string): void => {
      lines.push(`${level} ${message}`);
      if (print) process.stderr.write(`${level} ${message}\n`);
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
