/**
 * How Sentinel reaches Temporal, from the standard variables:
 *   TEMPORAL_ADDRESS        host:port (default localhost:7233)
 *   TEMPORAL_NAMESPACE      namespace (default "default")
 *   TEMPORAL_TASK_QUEUE     overrides temporal.taskQueue of ops/invariants.yaml
 *   TEMPORAL_API_KEY        API key (Temporal Cloud); implies TLS
 *   TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY   client certificate and key files (mTLS)
 *   TEMPORAL_TLS_CA         CA bundle file for a private server certificate
 *   TEMPORAL_TLS_SERVER_NAME  server name to verify, when it differs from the address
 *   TEMPORAL_TLS=true       TLS with the system's CAs and no client certificate
 */
import { readFileSync } from 'node:fs';

export interface TemporalSettings {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
}

export class TemporalSettingsError extends Error {}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const read = (variable: string): Buffer => {
    const file = env[variable]!;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TemporalSettingsError(`${variable}=${file}: ${(err as Error).message}`);
    }
  };
  const settings: TemporalSettings = {
    address: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
  };
  if (Boolean(env.TEMPORAL_TLS_CERT) !== Boolean(env.TEMPORAL_TLS_KEY)) {
    throw new TemporalSettingsError('set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY for mTLS, or neither');
  }
  const wantsTls = env.TEMPORAL_TLS === 'true' || !!env.TEMPORAL_API_KEY || !!env.TEMPORAL_TLS_CERT || !!env.TEMPORAL_TLS_CA;
  if (wantsTls) {
    settings.tls = {
      ...(env.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME } : {}),
      ...(env.TEMPORAL_TLS_CA ? { serverRootCACertificate: read('TEMPORAL_TLS_CA') } : {}),
      ...(env.TEMPORAL_TLS_CERT ? { clientCertPair: { crt: read('TEMPORAL_TLS_CERT'), key: read('TEMPORAL_TLS_KEY') } } : {}),
    };
  }
  if (env.TEMPORAL_API_KEY) settings.apiKey = env.TEMPORAL_API_KEY;
  return settings;
}

/** Options for both `Connection.connect` (client) and `NativeConnection.connect` (worker). */
export function connectionOptions(settings: TemporalSettings): { address: string; tls?: NonNullable<TemporalSettings['tls']>; apiKey?: string } {
  return {
    address: settings.address,
    ...(settings.tls ? { tls: settings.tls } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
  };
}

export function taskQueueOf(configured: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.TEMPORAL_TASK_QUEUE || configured;
}
