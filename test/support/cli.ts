/** The `sentinel` command line as a user runs it: its own process, pointed at the suite's stack. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';
import { sharedStack } from './stack';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, when the command ran with --json. */
  json?: any;
}

export async function sentinel(
  args: string[],
  invariantsFile?: string,
  env: NodeJS.ProcessEnv = {},
): Promise<CliRun> {
  const stack = await sharedStack();
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'sentinel.js'), ...args], {
    env: {
      ...process.env,
      ...stack.env,
      ...(invariantsFile ? { SENTINEL_INVARIANTS: invariantsFile } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  let json;
  if (args.includes('--json')) {
    try {
      json = JSON.parse(stdout);
    } catch {
      // left undefined: the assertion on it says what was printed
    }
  }
  return { code, stdout, stderr, ...(json === undefined ? {} : { json }) };
}

/** `sentinel(args)` with the configuration passed as `--invariants` in args. */
export function sentinelCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return sentinel(args, undefined, env);
}

/** The one JSON document `--json` printed on stdout, or an error that shows what was printed. */
export function jsonOf(run: CliRun): any {
  if (run.json !== undefined) return run.json;
  throw new Error(
    `stdout is not one JSON document (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`,
  );
}
