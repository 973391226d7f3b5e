import { ConfigError } from '@junction/common';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export type LogFormat = 'json' | 'pretty';

export interface LogSettings {
  level: LogLevelName;
  format: LogFormat;
  /** Colours in the pretty format: only on a terminal, and never with NO_COLOR set. */
  color: boolean;
}

/**
 * LOG_LEVEL (JUNCTION_LOG is its older name, still read when LOG_LEVEL is unset), LOG_FORMAT
 * (json | pretty; default pretty on a terminal, JSON lines otherwise) and NO_COLOR
 * (https://no-color.org: any non-empty value). Read before everything else, since every other
 * start-up problem is reported through the logger these settings make.
 */
export function logSettings(env: NodeJS.ProcessEnv, stdoutIsTty: boolean): LogSettings {
  const problems: string[] = [];
  const levelVar =
    env.LOG_LEVEL !== undefined && env.LOG_LEVEL !== '' ? 'LOG_LEVEL' : 'JUNCTION_LOG';
  const rawLevel = (env[levelVar] ?? '').trim().toLowerCase();
  let level: LogLevelName = 'info';
  if (rawLevel !== '') {
    // Nest's names, as a convenience for those who know them.
    const alias: Record<string, LogLevelName> = { log: 'info', verbose: 'trace', warning: 'warn' };
    const named = alias[rawLevel] ?? rawLevel;
    if ((LOG_LEVELS as readonly string[]).includes(named)) level = named as LogLevelName;
    else problems.push(`${levelVar} must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const rawFormat = (env.LOG_FORMAT ?? '').trim().toLowerCase();
  let format: LogFormat = stdoutIsTty ? 'pretty' : 'json';
  if (rawFormat === 'json' || rawFormat === 'pretty') format = rawFormat;
  else if (rawFormat !== '') problems.push('LOG_FORMAT must be json or pretty');
  if (problems.length > 0) throw new ConfigError(problems);
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return { level, format, color: format === 'pretty' && stdoutIsTty && !noColor };
}
