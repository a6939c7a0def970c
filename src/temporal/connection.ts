/**
 * How Sentinel reaches Temporal: Temporal's own client configuration
 * (@temporalio/envconfig), the same the `temporal` CLI and the other SDKs
 * read. A profile of a TOML file (TEMPORAL_CONFIG_FILE, else
 * ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE names it, else
 * "default"), overridden by the standard variables: TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS,
 * TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
 * TEMPORAL_TLS_SERVER_NAME, the *_DATA forms and TEMPORAL_GRPC_META_*.
 * TEMPORAL_TASK_QUEUE (Sentinel's own) overrides temporal.taskQueue of
 * ops/invariants.yaml.
 *
 * envconfig lets some mistakes pass and connects to localhost:7233 anyway (a
 * named config file that is missing, half a client certificate pair, an
 * unknown TEMPORAL_TLS value); this module refuses them, and the names this
 * project used before, before anything connects.
 */
import { readFileSync } from 'node:fs';
import {
  loadClientConfig,
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';

export interface TemporalConfig {
  /** host:port the connections go to (for messages; also in connectionOptions). */
  address: string;
  namespace: string;
  /** For both `Connection.connect` (client) and `NativeConnection.connect` (worker). */
  connectionOptions: {
    address: string;
    tls?: TLSConfig | boolean;
    apiKey?: string;
    metadata?: Record<string, string>;
  };
}

/** The Temporal connection is misconfigured; the message names the variable or file and the fix. */
export class TemporalConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemporalConfigError';
  }
}

export const DEFAULT_ADDRESS = 'localhost:7233';
export const DEFAULT_NAMESPACE = 'default';
const DEFAULT_PROFILE = 'default';

/**
 * The variables that override a profile's connection settings. A shell
 * pointed at the dev stack clears them (dev/stack/exports.ts), so that a
 * key or certificate meant for another server does not follow it there.
 */
export const CONNECTION_OVERRIDE_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
] as const;

/** Names this project read before it used Temporal's standard ones. */
const RENAMED: Record<string, string> = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};

/** Where a TLS file setting comes from: its variable when set, else the profile's key. */
const TLS_FILES = [
  { field: 'clientCert', variable: 'TEMPORAL_TLS_CLIENT_CERT_PATH', key: 'tls.client_cert_path' },
  { field: 'clientKey', variable: 'TEMPORAL_TLS_CLIENT_KEY_PATH', key: 'tls.client_key_path' },
  { field: 'serverCACert', variable: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', key: 'tls.server_ca_cert_path' },
] as const;

export function loadTemporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  // An empty variable (a CI secret that is not set) means unset, as it did before; envconfig would take "" as a value.
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (value !== '' || name.startsWith('TEMPORAL_GRPC_META_'))) vars[name] = value;
  }
  const renamed = Object.keys(RENAMED).filter((name) => vars[name] !== undefined);
  if (renamed.length > 0) {
    throw new TemporalConfigError(
      `${renamed.map((name) => `${name} is no longer read: set ${RENAMED[name]} instead`).join('; ')} (Temporal's standard names, docs/temporal-connection.md)`,
    );
  }
  const tlsFlag = vars.TEMPORAL_TLS;
  if (tlsFlag !== undefined && !['true', 'false', '1', '0'].includes(tlsFlag)) {
    throw new TemporalConfigError(`TEMPORAL_TLS=${tlsFlag}: use true or false`);
  }
  if (vars.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION !== undefined) {
    throw new TemporalConfigError(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported by the TypeScript SDK; set TEMPORAL_TLS_SERVER_NAME to the name in the server certificate instead',
    );
  }

  const configFile = vars.TEMPORAL_CONFIG_FILE;
  if (configFile !== undefined) {
    // envconfig treats a missing file as no file and would connect to the defaults.
    try {
      readFileSync(configFile);
    } catch (err) {
      throw new TemporalConfigError(`TEMPORAL_CONFIG_FILE=${configFile}: ${(err as Error).message}`);
    }
  }
  const fileLabel = configFile ?? 'the default Temporal config file (~/.config/temporalio/temporal.toml)';
  let profiles: string[];
  try {
    profiles = Object.keys(loadClientConfig({ overrideEnvVars: vars, configFileStrict: true }).profiles);
  } catch (err) {
    throw new TemporalConfigError(
      `${fileLabel}: ${(err as Error).message}; it must hold [profile.<name>] tables (address, namespace, api_key, tls, grpc_meta)`,
    );
  }
  const profileName = vars.TEMPORAL_PROFILE;
  if (profileName !== undefined && !profiles.includes(profileName)) {
    throw new TemporalConfigError(
      `TEMPORAL_PROFILE=${profileName}: ${fileLabel} has no [profile.${profileName}]` +
        (profiles.length > 0 ? ` (it has ${profiles.join(', ')})` : '') +
        '; name one of its profiles, or set TEMPORAL_CONFIG_FILE to the file that has it',
    );
  }

  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars, configFileStrict: true });
  } catch (err) {
    throw new TemporalConfigError(`${fileLabel}: ${(err as Error).message}`);
  }
  const tls = profile.tls;
  if (tls && !tls.disabled) {
    const source = (file: (typeof TLS_FILES)[number]): string =>
      vars[file.variable] !== undefined
        ? file.variable
        : `${file.key} of profile ${profileName ?? DEFAULT_PROFILE} in ${fileLabel}`;
    if (Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
      throw new TemporalConfigError(
        "set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or the profile's tls.client_cert_path and tls.client_key_path) for mTLS, or neither",
      );
    }
    for (const file of TLS_FILES) {
      const data: ConfigDataSource | undefined = tls[file.field];
      if (data && 'path' in data) {
        try {
          readFileSync(data.path);
        } catch (err) {
          throw new TemporalConfigError(`${source(file)}=${data.path}: ${(err as Error).message}`);
        }
      }
    }
  }

  const { connectionOptions, namespace } = toClientOptions(profile);
  const address = connectionOptions.address ?? DEFAULT_ADDRESS;
  return {
    address,
    namespace: namespace ?? DEFAULT_NAMESPACE,
    connectionOptions: {
      address,
      ...(connectionOptions.tls !== undefined && connectionOptions.tls !== null
        ? { tls: connectionOptions.tls }
        : {}),
      ...(connectionOptions.apiKey !== undefined ? { apiKey: connectionOptions.apiKey } : {}),
      ...(profile.grpcMeta ? { metadata: profile.grpcMeta } : {}),
    },
  };
}

export function taskQueueOf(configured: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.TEMPORAL_TASK_QUEUE || configured;
}
