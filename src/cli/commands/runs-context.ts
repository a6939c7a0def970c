/** What every `sentinel runs` subcommand shares: its options and the checked configuration with a Temporal connection. */
import type { LoadedInvariants } from '../../config/load';
import type { Verdict } from '../../domain/run';
import {
  connectTemporal,
  environmentFrom,
  loadConfig,
  type GlobalOptions,
  type TemporalContext,
} from '../context';

export interface RunsOptions extends GlobalOptions {
  env?: string;
  verdict?: Verdict | 'running';
  since?: string;
  limit?: string;
  reason?: string;
}

export const VERDICT_CHOICES = [
  'passed',
  'failed',
  'cancelled',
  'lane_busy',
  'promotion_conflict',
  'running',
] as const;

/** The configuration (and the environment, when named) checked, then a Temporal connection for the body. */
export async function withRunsContext<T>(
  options: RunsOptions,
  body: (ctx: TemporalContext, invariants: LoadedInvariants) => Promise<T>,
): Promise<T> {
  const invariants = loadConfig(options);
  if (options.env !== undefined) environmentFrom(invariants, options.env);
  const temporal = await connectTemporal(invariants);
  try {
    return await body(temporal, invariants);
  } finally {
    await temporal.close();
  }
}
