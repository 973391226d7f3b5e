import { ConnectorError, type ConnectorConnection } from './connector';

/** Reads an optional string from a stored connection's config (validated at save time; checked again here). */
export function configString(connection: ConnectorConnection, key: string, required: true): string;
export function configString(
  connection: ConnectorConnection,
  key: string,
  required?: false,
): string | undefined;
export function configString(
  connection: ConnectorConnection,
  key: string,
  required = false,
): string | undefined {
  const value = connection.config[key];
  if (value === undefined || value === null) {
    if (required) throw badConfig(connection, `config.${key} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw badConfig(connection, `config.${key} must be a string`);
  return value;
}

export function configNumber(connection: ConnectorConnection, key: string): number | undefined {
  const value = connection.config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw badConfig(connection, `config.${key} must be a number`);
  return value;
}

export function badConfig(connection: ConnectorConnection, message: string): ConnectorError {
  return new ConnectorError('REJECTED', `connection ${connection.name}: ${message}`, false);
}
