import type { Destination, DeliveryReceipt, OutboundMessage } from '@junction/connectors';
import { redactPanText } from '@junction/pipeline';

/** The built-in `log` destination: writes the message to the gateway's log, card numbers redacted. */
export class LogDestination implements Destination {
  constructor(
    private readonly routeId: string,
    private readonly level: 'info' | 'debug',
    private readonly write: (level: 'info' | 'debug', line: string) => void,
  ) {}

  send(message: OutboundMessage): Promise<DeliveryReceipt> {
    this.write(
      this.level,
      `route ${this.routeId} message ${redactPanText(message.id)}: ${redactPanText(message.body.toString('utf8'))}`,
    );
    return Promise.resolve({ kind: 'log' });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
