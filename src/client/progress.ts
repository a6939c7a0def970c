/**
 * Follows a running matrix through its `progress` queries (the run's and
 * each leg's) and prints a line whenever something moves, so long waits
 * show where they are.
 *
 * Every query carries a deadline and is awaited, never abandoned: the
 * follower has no call left in flight (or waiting in the client's retry
 * backoff) once it returns, so its caller may close the connection then.
 */
import type { Client } from '@temporalio/client';
import type { LegProgress, RunProgress } from '../domain/run';
import { legProgressQuery, runProgressQuery } from '../workflows/definitions';
import type { Printer } from './output';

const POLL_MS = 1_000;
/** A progress query that has not answered by then is skipped for this round. */
const QUERY_TIMEOUT_MS = 3_000;

export async function followRun(client: Client, workflowId: string, printer: Printer, signal: AbortSignal): Promise<void> {
  const started = Date.now();
  const seen = new Map<string, string>();
  const instances = new Map<string, string>();
  const say = (key: string, value: string, line: string) => {
    // Answers that arrive after the follower was stopped (the verdict is being printed) are not news.
    if (signal.aborted || seen.get(key) === value) return;
    seen.set(key, value);
    printer.info(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  };
  while (!signal.aborted) {
    const run = await quietly(client, () => client.workflow.getHandle(workflowId).query(runProgressQuery));
    if (run) {
      say('run', run.stage, `run: ${run.stage.replace(/_/g, ' ')}${run.lane?.holder ? ` (lane held by ${run.lane.holder})` : ''}`);
      await Promise.all(
        run.legs.map(async (leg) => {
          // A leg the run already reports finished is not asked again: a closed workflow answers a query only by replaying its whole history.
          const progress: Pick<LegProgress, 'phase' | 'outcome' | 'instanceId'> | undefined = leg.outcome
            ? { phase: 'done', outcome: leg.outcome, instanceId: instances.get(leg.target) }
            : await quietly<LegProgress>(client, () => client.workflow.getHandle(leg.workflowId).query(legProgressQuery));
          if (!progress) return;
          if (progress.instanceId) instances.set(leg.target, progress.instanceId);
          const where = progress.phase === 'done' ? `done: ${progress.outcome}` : progress.phase;
          say(leg.target, where, `${leg.target}: ${where}${progress.instanceId ? ` (${progress.instanceId})` : ''}`);
        }),
      );
    }
    await sleep(POLL_MS, signal);
  }
}

/** The query's answer, or undefined when it failed or missed its deadline (a retry past the deadline fails at once). */
async function quietly<T>(client: Client, query: () => Promise<T>): Promise<T | undefined> {
  try {
    return await client.withDeadline(Date.now() + QUERY_TIMEOUT_MS, query);
  } catch {
    return undefined; // not started yet, finished, or busy: the result will tell
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export type { RunProgress };
