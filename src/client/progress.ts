/**
 * Follows a running matrix through its `progress` queries (the run's and
 * each leg's) and prints a line whenever something moves, so long waits
 * show where they are.
 */
import type { Client } from '@temporalio/client';
import type { LegProgress, RunProgress } from '../domain/run';
import { legProgressQuery, runProgressQuery } from '../workflows/definitions';
import type { Printer } from './output';

const POLL_MS = 1_000;

export async function followRun(client: Client, workflowId: string, printer: Printer, signal: AbortSignal): Promise<void> {
  const started = Date.now();
  const seen = new Map<string, string>();
  const say = (key: string, value: string, line: string) => {
    if (seen.get(key) === value) return;
    seen.set(key, value);
    printer.info(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  };
  while (!signal.aborted) {
    const run = await quietly(client.workflow.getHandle(workflowId).query(runProgressQuery));
    if (run) {
      say('run', run.stage, `run: ${run.stage.replace(/_/g, ' ')}${run.lane?.holder ? ` (lane held by ${run.lane.holder})` : ''}`);
      await Promise.all(
        run.legs.map(async (leg) => {
          const progress = await quietly<LegProgress>(client.workflow.getHandle(leg.workflowId).query(legProgressQuery));
          if (!progress) return;
          const where = progress.phase === 'done' ? `done: ${progress.outcome}` : progress.phase;
          say(leg.target, where, `${leg.target}: ${where}${progress.instanceId ? ` (${progress.instanceId})` : ''}`);
        }),
      );
    }
    await sleep(POLL_MS, signal);
  }
}

async function quietly<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3_000).unref())]);
  } catch {
    return undefined; // not started yet, or finished: the result will tell
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

export type { RunProgress };
