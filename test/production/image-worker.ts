/**
 * The worker started the way the image starts it: the runtime stage's ENV and
 * CMD, read from the Dockerfile, run from the built dist/ (npm run build and
 * the workflow bundle, as the build stage makes them), with /app read as the
 * project folder and the compose file's worker variables.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';
import { freePort, startProcess, waitUntil, type ManagedProcess } from '../../dev/stack/process';
import { projectGitHead } from '../../src/worker/versioning';
import { compose } from './stack';

type Json = Record<string, any>;

export interface ImageCommand {
  command: string[];
  env: Record<string, string>;
}

/**
 * The runtime stage's CMD and ENV (and the compose worker's environment), with
 * /app as the project folder; `${ARG}` in an ENV value takes the build
 * argument's value (SENTINEL_BUILD_ID: the git sha, as the compose file's
 * build passes it).
 */
export function imageCommand(
  buildArgs: Record<string, string> = { SENTINEL_BUILD_ID: projectGitHead() ?? '' },
): ImageCommand {
  const text = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
  const runtime = text.slice(text.indexOf('AS runtime'));
  const cmd = /^CMD (\[.*\])$/m.exec(runtime)?.[1];
  if (!cmd) throw new Error('the Dockerfile runtime stage has no exec-form CMD');
  const app = (value: string) => value.replace(/^\/app(?=\/|$)/, PROJECT_ROOT);
  const env: Record<string, string> = {};
  // ENV a=b \ c=d ... (one instruction, continued lines)
  for (const m of runtime.matchAll(/^ENV ((?:.*\\\n)*.*)$/gm)) {
    for (const pair of m[1]!.replace(/\\\n/g, ' ').trim().split(/\s+/)) {
      const [key, ...rest] = pair.split('=');
      env[key!] = app(rest.join('=').replace(/\$\{(\w+)\}/g, (_, arg: string) => buildArgs[arg] ?? ''));
    }
  }
  const worker = compose().services['sentinel-worker'].environment as Json;
  for (const [key, value] of Object.entries(worker)) env[key] = String(value);
  return { command: (JSON.parse(cmd) as string[]).map(app), env };
}

export interface ImageWorker {
  proc: ManagedProcess;
  metricsAddress: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `node dist/worker/main.js` as the image does, pointed at the given stack and configuration. */
export async function startImageWorker(logFile: string, env: Record<string, string>): Promise<ImageWorker> {
  const image = imageCommand();
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  const [command, ...args] = image.command;
  const proc = startProcess(
    command === 'node' ? process.execPath : command!,
    args.map((a) => (a.startsWith('dist/') ? path.join(PROJECT_ROOT, a) : a)),
    logFile,
    {
      ...process.env,
      ...image.env,
      ...env,
      // Loopback instead of the image's 0.0.0.0, on a free port.
      SENTINEL_METRICS_ADDRESS: metricsAddress,
    },
  );
  await waitUntil(
    'the worker',
    async () => readFileSync(logFile, 'utf8').includes('sentinel worker started'),
    90_000,
    proc,
  );
  return { proc, metricsAddress, stop: (signal = 'SIGTERM') => proc.stop(signal) };
}
