/**
 * The lane as the tests see it: its state (query), its history, and workers
 * whose Temporal traffic goes through a fault proxy.
 */
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import path from 'node:path';
import type { LoadedInvariants } from '../../src/config/load';
import { loadTemporalConfig } from '../../src/temporal/connection';
import { createSentinelWorker } from '../../src/worker/worker';
import { laneStateQuery, laneWorkflowId, type LaneState } from '../../src/temporal/definitions';
import { Worker } from '@temporalio/worker';
import { temporalClient } from './runs';
import { sharedStack, suiteDir } from './stack';
import { eventually } from './wait';
import type { TestWorker } from './worker';
import { workflowBundle } from './worker';

export async function laneState(environment: string): Promise<LaneState | undefined> {
  const client = await temporalClient();
  return client.workflow
    .getHandle(laneWorkflowId(environment))
    .query(laneStateQuery)
    .catch(() => undefined);
}

export async function laneStatus(environment: string): Promise<string | undefined> {
  const client = await temporalClient();
  return (
    await client.workflow
      .getHandle(laneWorkflowId(environment))
      .describe()
      .catch(() => undefined)
  )?.status.name;
}

export type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** The events of the lane's current run, read from the server (no worker involved). */
export async function laneHistory(environment: string): Promise<HistoryEvent[]> {
  const client = await temporalClient();
  const history = await client.workflow.getHandle(laneWorkflowId(environment)).fetchHistory();
  return history.events ?? [];
}

/** Waits for the lane to close (idle), then replays its whole history against the current workflow code. */
export async function assertLaneReplays(environment: string): Promise<void> {
  await eventually(
    'the lane to close, idle',
    async () => ((await laneStatus(environment)) === 'COMPLETED' ? true : undefined),
    60_000,
  );
  const client = await temporalClient();
  const history = await client.workflow.getHandle(laneWorkflowId(environment)).fetchHistory();
  await Worker.runReplayHistory(
    { workflowBundle: await workflowBundle(), replayName: `lane ${environment}` },
    history,
    laneWorkflowId(environment),
  );
}

export function signalName(event: HistoryEvent): string | undefined {
  return event.workflowExecutionSignaledEventAttributes?.signalName ?? undefined;
}

/** The run the lane acts for in a signal event (its JSON payload names the workflow id). */
export function signalMentions(event: HistoryEvent, workflowId: string): boolean {
  const payloads = event.workflowExecutionSignaledEventAttributes?.input?.payloads ?? [];
  return payloads.some((p) =>
    Buffer.from(p.data ?? [])
      .toString('utf8')
      .includes(workflowId),
  );
}

export function runIdOf(handle: WorkflowHandleWithFirstExecutionRunId): string {
  return handle.firstExecutionRunId;
}

/** The real Sentinel worker, in this process, talking to Temporal only through `address` (a fault proxy). */
export async function startWorkerThrough(invariants: LoadedInvariants, address: string): Promise<TestWorker> {
  const stack = await sharedStack();
  const sentinel = await createSentinelWorker({
    invariants,
    temporal: loadTemporalConfig({ ...stack.env, TEMPORAL_ADDRESS: address }),
    workflowBundle: await workflowBundle(),
    localWorkRoot: path.join(suiteDir, 'hosts-work'),
  });
  const run = sentinel.worker.run();
  return {
    sentinel,
    async stop() {
      if (sentinel.worker.getState() === 'RUNNING') sentinel.worker.shutdown();
      await run.catch(() => undefined);
      await sentinel.close();
    },
  };
}
