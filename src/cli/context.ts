/**
 * What every command needs: the configuration (loaded once, validated) and,
 * lazily, a Temporal client. Failures become CliErrors with their exit codes.
 */
import { Client, Connection } from '@temporalio/client';
import { environmentOf, UnknownEnvironmentError } from '../config/environment';
import { InvariantsError, loadInvariants, type LoadedInvariants } from '../config/load';
import type { EnvironmentConfig } from '../config/schema';
import {
  loadTemporalConfig,
  taskQueueOf,
  TemporalConfigError,
  type TemporalConfig,
} from '../temporal/connection';
import { CliError, EXIT } from './exit-codes';

export interface GlobalOptions {
  invariants?: string;
  json?: boolean;
}

export function loadConfig(options: GlobalOptions): LoadedInvariants {
  try {
    return loadInvariants(options.invariants);
  } catch (err) {
    if (err instanceof InvariantsError) {
      throw new CliError(EXIT.CONFIG_INVALID, `invalid configuration in ${err.file}`, err.problems);
    }
    throw err;
  }
}

export function environmentFrom(invariants: LoadedInvariants, name: string): EnvironmentConfig {
  try {
    return environmentOf(invariants, name);
  } catch (err) {
    if (err instanceof UnknownEnvironmentError) throw new CliError(EXIT.REFUSED, err.message);
    throw err;
  }
}

export interface TemporalContext {
  client: Client;
  settings: TemporalConfig;
  taskQueue: string;
  uiUrl: string | undefined;
  close(): Promise<void>;
}

export async function connectTemporal(invariants: LoadedInvariants): Promise<TemporalContext> {
  let settings: TemporalConfig;
  try {
    settings = loadTemporalConfig();
  } catch (err) {
    if (err instanceof TemporalConfigError)
      throw new CliError(EXIT.CONFIG_INVALID, `invalid Temporal connection settings: ${err.message}`);
    throw err;
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...settings.connectionOptions, connectTimeout: 5_000 });
    await connection.workflowService.getSystemInfo({});
  } catch (err) {
    throw new CliError(
      EXIT.TEMPORAL_UNREACHABLE,
      `cannot reach Temporal at ${settings.address} (namespace ${settings.namespace}): ${(err as Error).message.split('\n')[0]}; set TEMPORAL_ADDRESS or a profile (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE), and the TLS variables for a secured server (docs/temporal-connection.md)`,
    );
  }
  const uiUrl = process.env.TEMPORAL_UI_URL || invariants.temporal.uiUrl;
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    settings,
    taskQueue: taskQueueOf(invariants.temporal.taskQueue),
    uiUrl,
    close: () => connection.close(),
  };
}

export function workflowUrl(ctx: TemporalContext, workflowId: string, runId?: string): string | undefined {
  if (!ctx.uiUrl) return undefined;
  const base = ctx.uiUrl.replace(/\/$/, '');
  const id = encodeURIComponent(workflowId);
  return `${base}/namespaces/${encodeURIComponent(ctx.settings.namespace)}/workflows/${id}${runId ? `/${runId}` : ''}/history`;
}
