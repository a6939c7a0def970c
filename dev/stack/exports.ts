/**
 * The `export` lines that point a shell's `sentinel` and `temporal` at a
 * running dev stack (`npm run demo -- --keep`): each value single-quoted, so
 * a shell takes it literally whatever it holds. The names in `unset` that the
 * stack does not set are cleared (the Temporal variables that would override
 * the stack's profile).
 */
import { CONNECTION_OVERRIDE_VARIABLES } from '../../src/temporal/connection';

export function shellExports(env: Record<string, string>, unset: readonly string[] = []): string[] {
  const valid = (name: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
  const cleared = unset.filter((name) => valid(name) && !(name in env));
  return [
    ...Object.entries(env)
      .filter(([name]) => valid(name))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => `export ${name}='${value.replace(/'/g, `'\\''`)}'`),
    ...(cleared.length > 0 ? [`unset ${[...cleared].sort().join(' ')}`] : []),
  ];
}

/**
 * Points a process's environment at the dev stack: its variables set, and the
 * Temporal variables that would override its profile (an API key, a client
 * certificate for another server) removed.
 */
export function pointEnvironmentAt(target: NodeJS.ProcessEnv, env: Record<string, string>): void {
  for (const name of CONNECTION_OVERRIDE_VARIABLES) if (!(name in env)) delete target[name];
  Object.assign(target, env);
}
