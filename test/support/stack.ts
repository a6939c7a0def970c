/**
 * One real dev stack (Temporal dev server + moto_server) shared by the whole
 * suite, started on first use and stopped by the root hook.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadInvariants } from '../../src/config/load';
import { pointEnvironmentAt } from '../../dev/stack/exports';
import { startDevStack, type DevStack } from '../../dev/stack/stack';

let starting: Promise<DevStack> | undefined;
let makeStack = (workDir: string): Promise<DevStack> =>
  startDevStack({ invariants: loadInvariants(), workDir });

/** The production-shape tier (test/production) puts its own Temporal under the same support code. Call before first use. */
export function useStack(factory: (workDir: string) => Promise<DevStack>): void {
  makeStack = factory;
}

export const suiteDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-'));

/** Starts the stack once and points this process's AWS SDK and Temporal settings at it. */
export function sharedStack(): Promise<DevStack> {
  starting ??= (async () => {
    const stack = await makeStack(path.join(suiteDir, 'stack'));
    pointEnvironmentAt(process.env, stack.env);
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
