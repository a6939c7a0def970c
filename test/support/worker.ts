/**
 * Sentinel workers for tests: the real worker (src/worker/worker.ts) in this
 * process, or as a separate process that a test can kill.
 */
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import path from 'node:path';
import { PROJECT_ROOT, type LoadedInvariants } from '../../src/config/load';
import { startProcess, waitUntil, type ManagedProcess } from '../../dev/stack/process';
import { loadTemporalConfig } from '../../src/temporal/connection';
import { createSentinelWorker, type SentinelWorker } from '../../src/worker/worker';
import { sharedStack, suiteDir } from './stack';

let bundle: Promise<WorkflowBundle> | undefined;
const running = new Set<{ stop(): Promise<void> }>();

/** The workflow bundle, built once for the suite. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: quietLogger,
  });
  return bundle;
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never;

export interface TestWorker {
  sentinel: SentinelWorker;
  stop(): Promise<void>;
}

export async function startWorker(invariants: LoadedInvariants): Promise<TestWorker> {
  const stack = await sharedStack();
  const sentinel = await createSentinelWorker({
    invariants,
    temporal: loadTemporalConfig(stack.env),
    workflowBundle: await workflowBundle(),
    localWorkRoot: path.join(suiteDir, 'hosts-work'),
  });
  const run = sentinel.worker.run();
  const handle = {
    sentinel,
    async stop() {
      running.delete(handle);
      if (sentinel.worker.getState() === 'RUNNING') sentinel.worker.shutdown();
      await run.catch(() => undefined);
      await sentinel.close();
    },
  };
  running.add(handle);
  return handle;
}

/** `npm run worker` as its own process, for tests that kill it. */
export async function startWorkerProcess(
  invariantsFile: string,
  logName: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<ManagedProcess> {
  const stack = await sharedStack();
  const proc = startProcess(
    process.execPath,
    ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/worker/main.ts')],
    path.join(suiteDir, `${logName}.log`),
    {
      ...process.env,
      ...stack.env,
      SENTINEL_INVARIANTS: invariantsFile,
      SENTINEL_LOCAL_WORK_ROOT: path.join(suiteDir, 'hosts-work'),
      ...extraEnv,
    },
  );
  const stopper = { stop: () => proc.stop('SIGKILL') };
  running.add(stopper);
  void proc.exited.then(() => running.delete(stopper));
  await waitUntil(
    'worker process',
    async () =>
      (await import('node:fs')).readFileSync(proc.logFile, 'utf8').includes('sentinel worker started'),
    60_000,
    proc,
  );
  return proc;
}

export async function stopAllWorkers(): Promise<void> {
  await Promise.all([...running].map((w) => w.stop()));
}
