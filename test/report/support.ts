/** The report's tests: the `sentinel report` command in its own process, and the fixture read as plain JSON. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';

export const FIXTURE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'report-evidence');
export const OUTPUT = path.join(PROJECT_ROOT, 'test-output', 'report');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `sentinel <args>` as a user runs it, without the suite's dev stack (the local evidence needs none). */
export async function sentinelReport(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'sentinel.js'), 'report', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

/** The fixture's packs, read without the report's code. */

export function fixturePacks(dir = FIXTURE): any[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
}

export function assertNoStackTrace(output: string): void {
  if (/^\s+at .+:\d+:\d+\)?$/m.test(output)) throw new Error(`a stack trace was printed:\n${output}`);
}
