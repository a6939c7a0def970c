/**
 * Runs an installer script for real, as a host would (`curl … | sh`: the
 * script on sh's standard input), in a temporary directory whose PATH holds
 * only stub `docker` / `curl` (and optionally `nvidia-smi`). The stubs record
 * every call: its arguments and the onboarding token it saw in its
 * environment. Nothing of the test's own environment reaches the script.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suiteDir } from './stack';

export interface StubCall {
  tool: string;
  args: string[];
  /** RADIX_ONBOARDING_TOKEN as the tool saw it (undefined when unset). */
  token: string | undefined;
}

export interface HostRun {
  exit: number | null;
  stdout: string;
  stderr: string;
  calls: StubCall[];
  /** The host's scratch directory (the script's working directory). */
  dir: string;
}

export interface HostOptions {
  /** No docker on PATH. */
  noDocker?: boolean;
  /** Exit status of `docker pull` / `docker run` (0 when absent). */
  dockerPullExit?: number;
  dockerRunExit?: number;
  /** Exit status of curl (0 when absent). */
  curlExit?: number;
  /** Put an nvidia-smi on PATH (an NVIDIA host). */
  nvidia?: boolean;
}

let hosts = 0;

function stub(bin: string, tool: string, log: string, exits: string): void {
  const file = path.join(bin, tool);
  writeFileSync(
    file,
    [
      '#!/bin/sh',
      '{',
      `  printf 'call %s\\n' '${tool}'`,
      '  if [ "${RADIX_ONBOARDING_TOKEN+set}" = set ]; then printf \'token %s\\n\' "$RADIX_ONBOARDING_TOKEN"; fi',
      '  for a in "$@"; do printf \'arg %s\\n\' "$a"; done',
      "  printf 'end\\n'",
      `} >> '${log}'`,
      exits,
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(file, 0o755);
}

export async function runOnHost(script: string, options: HostOptions = {}): Promise<HostRun> {
  hosts += 1;
  const dir = mkdtempSync(path.join(suiteDir, `host-${hosts}-`));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const log = path.join(dir, 'calls.log');
  if (!options.noDocker) {
    stub(
      bin,
      'docker',
      log,
      `case "$1" in pull) exit ${options.dockerPullExit ?? 0} ;; run) exit ${options.dockerRunExit ?? 0} ;; esac`,
    );
  }
  stub(bin, 'curl', log, `exit ${options.curlExit ?? 0}`);
  if (options.nvidia) stub(bin, 'nvidia-smi', log, '');

  const child = spawn('/bin/sh', ['-s'], {
    cwd: dir,
    env: { PATH: bin, HOME: dir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(script);
  const exit = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`installer still running after 20s; stderr: ${stderr}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  return { exit, stdout, stderr, calls: existsSync(log) ? parseCalls(readFileSync(log, 'utf8')) : [], dir };
}

function parseCalls(text: string): StubCall[] {
  const calls: StubCall[] = [];
  let current: StubCall | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('call ')) current = { tool: line.slice(5), args: [], token: undefined };
    else if (line.startsWith('token ') && current) current.token = line.slice(6);
    else if (line.startsWith('arg ') && current) current.args.push(line.slice(4));
    else if (line === 'end' && current) {
      calls.push(current);
      current = undefined;
    }
  }
  return calls;
}

export function callsOf(run: HostRun, tool: string): StubCall[] {
  return run.calls.filter((c) => c.tool === tool);
}
