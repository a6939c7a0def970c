/**
 * One real dev stack (Temporal dev server + moto_server) shared by the whole
 * suite, started on first use and stopped by the root hook.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadInvariants } from '../../src/config/load';
import { startDevStack, type DevStack } from '../../src/devstack/stack';

let starting: Promise<DevStack> | undefined;

export const suiteDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-'));

/** Starts the stack once and points this process's AWS SDK and Temporal settings at it. */
export function sharedStack(): Promise<DevStack> {
  starting ??= (async () => {
    const stack = await startDevStack({ invariants: loadInvariants(), workDir: path.join(suiteDir, 'stack') });
    Object.assign(process.env, stack.env);
    return stack;
  })();
  return starting;
}

export async function stopSharedStack(): Promise<void> {
  if (!starting) return;
  const stack = await starting.catch(() => undefined);
  starting = undefined;
  await stack?.stop();
}
