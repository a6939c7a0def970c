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
import { legProgressQuery, runProgressQuery } from '../temporal/definitions';
import { newLegLines, type LegView } from './leg-progress-lines';
import type { Printer } from './output';

const POLL_MS = 1_000;
/** A progress query that has not answered by then is skipped for this round. */
const QUERY_TIMEOUT_MS = 3_000;

export async function followRun(
  client: Client,
  workflowId: string,
  printer: Printer,
  signal: AbortSignal,
): Promise<void> {
  const started = Date.now();
  const seen = new Map<string, string>();
  const printedByLeg = new Map<string, Set<string>>();
  const finished = new Set<string>();
  const stamp = (line: string) =>
    printer.info(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  const say = (key: string, value: string, line: string) => {
    // Answers that arrive after the follower was stopped (the verdict is being printed) are not news.
    if (signal.aborted || seen.get(key) === value) return;
    seen.set(key, value);
    stamp(line);
  };
  while (!signal.aborted) {
    const run = await quietly(client, () => client.workflow.getHandle(workflowId).query(runProgressQuery));
    if (run) {
      say(
        'run',
        run.stage,
        `run: ${run.stage.replace(/_/g, ' ')}${run.lane?.holder ? ` (lane held by ${run.lane.holder})` : ''}`,
      );
      await Promise.all(
        run.legs.map(async (leg) => {
          // A leg the run reports finished is asked once more, for the phases it ran since the last poll; then never again:
          // a closed workflow answers a query only by replaying its whole history.
          if (finished.has(leg.target)) return;
          const progress = await quietly<LegProgress>(client, () =>
            client.workflow.getHandle(leg.workflowId).query(legProgressQuery),
          );
          if (leg.outcome) finished.add(leg.target);
          const view: LegView | undefined =
            progress ??
            (leg.outcome
              ? { target: leg.target, phase: 'done', phases: [], outcome: leg.outcome }
              : undefined);
          if (!view || signal.aborted) return;
          const printed = printedByLeg.get(leg.target) ?? new Set<string>();
          printedByLeg.set(leg.target, printed);
          for (const line of newLegLines(view, printed)) stamp(line);
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
