import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { laneRequestSignal, laneWorkflowId, type LaneRequest } from '../temporal/definitions';
import type { ActivityDeps } from './deps';

export interface LaneEntry {
  environment: string;
  request: LaneRequest;
  holderCheckIntervalMs: number;
  /** The run's own task queue, where the lane is started (absent in runs from before it: the worker's configured one). */
  taskQueue?: string;
}

/** True while the workflow (this run of it, when `runId` is given) is still running. */
export async function isWorkflowOpen(
  temporal: Client,
  ref: { workflowId: string; runId?: string },
): Promise<boolean> {
  try {
    const description = await temporal.workflow.getHandle(ref.workflowId, ref.runId).describe();
    return description.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

export function laneActivities({ temporal, invariants }: Pick<ActivityDeps, 'temporal' | 'invariants'>) {
  return {
    /** Queues the run at its environment's lane, starting the lane (on the run's task queue) when none is running. */
    async requestLane(entry: LaneEntry): Promise<void> {
      await temporal.workflow.signalWithStart('sentinelLaneWorkflow', {
        workflowId: laneWorkflowId(entry.environment),
        taskQueue: entry.taskQueue ?? invariants.temporal.taskQueue,
        args: [
          {
            environment: entry.environment,
            holderCheckIntervalMs: entry.holderCheckIntervalMs,
            holder: null,
            queue: [],
          },
        ],
        signal: laneRequestSignal,
        signalArgs: [entry.request],
      });
    },

    async isWorkflowOpen(ref: { workflowId: string; runId?: string }): Promise<boolean> {
      return isWorkflowOpen(temporal, ref);
    },
  };
}
