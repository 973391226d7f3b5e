import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Level, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { redactLogText, redactLogValue } from './log-redaction';
import type { LogSettings } from './log-settings';
import { requestContext } from './request-context';

/**
 * The gateway's pino logger: JSON lines (level as a name, ISO time, pid, the request's `reqId` and
 * `traceId` while one is handled) or, for a person at a terminal, pino-pretty. Every argument of
 * every line, message and fields alike, goes through the PAN and URL-password redaction here, in
 * pino's own hook, so that no call site can forget it.
 */
export function createPinoLogger(settings: LogSettings, stream?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Errors are made plain (and redacted) by the hook below; pino's own serializer would see an object.
    serializers: { err: (value: unknown) => value },
    mixin() {
      const context = requestContext();
      if (!context) return {};
      return context.traceId
        ? { reqId: context.requestId, traceId: context.traceId }
        : { reqId: context.requestId };
    },
    hooks: {
      logMethod(args, method) {
        const clean = (args as unknown[]).map((a) =>
          typeof a === 'string' ? redactLogText(a) : redactLogValue(a),
        );
        return method.apply(this, clean as Parameters<typeof method>);
      },
    },
  };
  // pino-pretty reads numeric levels; JSON lines carry the name, which collectors show as is.
  if (settings.format === 'json') options.formatters = { level: (label) => ({ level: label }) };
  return pino(options, stream ?? destination(settings));
}

function destination(settings: LogSettings): DestinationStream {
  // Synchronous: the last lines before an exit (a start-up failure) must not be lost.
  if (settings.format === 'json') return pino.destination({ fd: 1, sync: true });
  return pretty({
    colorize: settings.color,
    sync: true,
    destination: 1,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context',
    messageFormat: '{if context}[{context}] {end}{msg}',
  });
}

/** Nest's own start-up chatter (modules loaded, routes mapped): useful when debugging only. */
const CHATTY_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'NestApplication',
]);

const STACK = /\n\s+at /;

/**
 * Nest's LoggerService on pino. Nest calls `log(message, ...params, context)`; `params` may hold
 * a stack (errors), objects (fields of the line) or an Error. A message that is an object is the
 * line's fields, its `msg` the text.
 */
export class PinoLoggerService implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    const rest = [...params];
    let context: string | undefined;
    const last = rest[rest.length - 1];
    if (typeof last === 'string' && !STACK.test(last)) context = rest.pop() as string;
    if (level === 'info' && context && CHATTY_CONTEXTS.has(context)) level = 'debug';
    if (!this.pino.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    const details: unknown[] = [];
    let text: string;
    if (message instanceof Error) {
      text = message.message;
      fields.err = message;
    } else if (message !== null && typeof message === 'object') {
      const { msg, message: m, ...others } = message as Record<string, unknown>;
      Object.assign(fields, others);
      text = String(msg ?? m ?? '');
    } else {
      text = String(message);
    }
    for (const p of rest) {
      if (p === undefined) continue;
      if (typeof p === 'string' && STACK.test(p)) fields.stack = p;
      else if (p instanceof Error) fields.err = p;
      else if (p !== null && typeof p === 'object') Object.assign(fields, p);
      else details.push(p);
    }
    if (details.length > 0) fields.details = details;
    if (context) fields.context = context;
    this.pino[level](fields, text);
  }
}
