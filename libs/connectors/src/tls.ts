import { rootCertificates } from 'node:tls';
import { badConfig } from './config';
import type { ConnectorConnection } from './connector';

/** TLS settings of a connection: a private CA to trust, and a client certificate with its key. */
export interface TlsSettings {
  /**
   * The certificates trusted: Node's own roots and the connection's PEM (an internal CA). Node's
   * `ca` replaces its roots, so they are listed too: a private CA adds trust, it does not narrow it.
   */
  ca?: string[];
  /** PEM client certificate (mutual TLS); its private key is a secret. */
  cert?: string;
  /** PEM private key of `cert`, from the connection's secrets. */
  key?: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/**
 * Reads `config[block]` (`{ ca?, cert? }`, PEM text) and the private key from
 * `secrets[keySecret]`. Undefined when neither is set. A certificate needs its key and a key its
 * certificate: half a client identity is refused here, not by the far side's handshake.
 */
export function tlsSettings(
  connection: ConnectorConnection,
  block: string,
  keySecret: string,
): TlsSettings | undefined {
  const raw = connection.config[block];
  const settings: TlsSettings = {};
  if (raw !== undefined && raw !== null && typeof raw === 'object') {
    const { ca, cert } = raw as { ca?: unknown; cert?: unknown };
    if (ca !== undefined) {
      if (typeof ca !== 'string' || !PEM_CERT.test(ca))
        throw badConfig(connection, `config.${block}.ca must be PEM certificates`);
      settings.ca = [...rootCertificates, ca];
    }
    if (cert !== undefined) {
      if (typeof cert !== 'string' || !PEM_CERT.test(cert))
        throw badConfig(connection, `config.${block}.cert must be a PEM certificate`);
      settings.cert = cert;
    }
  }
  const key = connection.secrets[keySecret];
  if (key !== undefined) {
    if (!PEM_KEY.test(key))
      throw badConfig(connection, `secrets.${keySecret} must be a PEM private key`);
    settings.key = key;
  }
  // A key secret that also holds its certificate (one PEM bundle) serves as both.
  if (settings.key && !settings.cert && PEM_CERT.test(settings.key)) settings.cert = settings.key;
  if (settings.cert && !settings.key)
    throw badConfig(
      connection,
      `config.${block}.cert needs its private key in secrets.${keySecret}`,
    );
  if (settings.key && !settings.cert)
    throw badConfig(
      connection,
      `secrets.${keySecret} needs its certificate in config.${block}.cert`,
    );
  return settings.ca || settings.cert || settings.key ? settings : undefined;
}
