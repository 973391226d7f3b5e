import { Logger } from '@nestjs/common';

/**
 * How often a directory or identity provider is asked whether the users holding roles here still
 * hold them. Such a user who leaves may never sign in again to lose its roles, while its
 * sessions and API keys act with them.
 */
export const PROVIDER_CHECK_MS = 5 * 60_000;

/** Runs `check` every PROVIDER_CHECK_MS; a check that fails is logged and tried at the next. */
export function everyProviderCheck(
  log: Logger,
  what: string,
  check: () => Promise<unknown>,
): NodeJS.Timeout {
  const timer = setInterval(() => {
    check().catch((err: unknown) =>
      log.warn(`the ${what} check did not run: ${(err as Error).message}`),
    );
  }, PROVIDER_CHECK_MS);
  timer.unref();
  return timer;
}
