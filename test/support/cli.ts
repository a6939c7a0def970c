/** The real `sentinel` command (bin/sentinel.js) as a child process, pointed at the shared stack. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';
import { sharedStack } from './stack';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function sentinelCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const stack = await sharedStack();
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'sentinel.js'), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...stack.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

/** The one JSON document `--json` prints on stdout. */
export function jsonOf(run: CliRun): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    return JSON.parse(run.stdout);
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}
