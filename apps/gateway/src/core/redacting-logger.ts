import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { redactPanText } from '@junction/pipeline';

/**
 * Nest's console logger with card numbers redacted from every line and stack it prints: a log
 * line may quote an error, a header or a connector's reply, and a log is read by more people
 * than the audit trail. One place, so that no later log call can forget.
 */
export class RedactingLogger extends ConsoleLogger {
  protected override formatMessage(
    logLevel: LogLevel,
    message: unknown,
    pidMessage: string,
    formattedLogLevel: string,
    contextMessage: string,
    timestampDiff: string,
  ): string {
    return redactPanText(
      super.formatMessage(
        logLevel,
        message,
        pidMessage,
        formattedLogLevel,
        contextMessage,
        timestampDiff,
      ),
    );
  }

  protected override printStackTrace(stack: string): void {
    super.printStackTrace(redactPanText(stack));
  }
}
