/**
 * One simulated instance driven through the local executor directly (no
 * Temporal): boot it from a simulated host image, run check and setup
 * scripts on it exactly as a leg does.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildCheckScript, buildSetupScript, type CheckName } from '../../src/checks/scripts';
import { LocalExecutor } from '../../src/executors/local';
import type { HostRef, ScriptResult, WaitContext } from '../../src/executors/types';

let sequence = 0;

const wait: WaitContext = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  heartbeat: () => undefined,
  signal: new AbortController().signal,
};

export interface SimulatedInstance {
  executor: LocalExecutor;
  host: HostRef;
  /** The instance's own root (RADIX_HOST_ROOT of its scripts). */
  root: string;
  check(check: CheckName, inputs?: Record<string, string>): Promise<string>;
  setup(script: string): Promise<ScriptResult>;
  release(): Promise<void>;
}

export async function bootInstance(hostsDir: string, target: string): Promise<SimulatedInstance> {
  const executor = new LocalExecutor(hostsDir, mkdtempSync(path.join(os.tmpdir(), 'instances-')));
  const host: HostRef = { instanceId: `i-sim${process.pid}${++sequence}`, target, region: 'us-west-2' };
  const ready = await executor.probeReady(host);
  if (!ready.ready) throw new Error(ready.detail);
  const run = (name: string, script: string) =>
    executor.runScript(host, script, {
      name,
      timeoutMs: 60_000,
      wait,
      polling: { initialMs: 50, maxMs: 200 },
    });
  return {
    executor,
    host,
    root: executor.rootDir(host),
    async check(check, inputs = {}) {
      const result = await run(check, buildCheckScript(check, inputs));
      if (result.status !== 'success') throw new Error(`${check} ${result.status}: ${result.stderr}`);
      return result.stdout;
    },
    setup: (script) => run(`setup-${script}`, buildSetupScript(script)),
    release: () => executor.release(host),
  };
}
