/**
 * The one way to look an environment up in the configuration: by its name
 * under `environments:`, or an error that names the file and what it defines.
 */
import type { EnvironmentConfig, Invariants } from './schema';

export function environmentOf(
  invariants: Invariants & { file?: string },
  envName: string,
): EnvironmentConfig {
  const env = Object.hasOwn(invariants.environments, envName) ? invariants.environments[envName] : undefined;
  if (!env) throw new UnknownEnvironmentError(envName, Object.keys(invariants.environments), invariants.file);
  return env;
}

export class UnknownEnvironmentError extends Error {
  constructor(
    readonly envName: string,
    readonly known: string[],
    readonly file = 'ops/invariants.yaml',
  ) {
    super(`unknown environment ${JSON.stringify(envName)}; ${file} defines ${known.join(', ')}`);
    this.name = 'UnknownEnvironmentError';
  }
}
