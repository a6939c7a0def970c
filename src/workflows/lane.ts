/**
 * The lane of an environment: a small mutex workflow (`sentinel-lane-<env>`)
 * that lets matrix runs of one environment through strictly one at a time,
 * whoever started them (CLI, CI, schedule).
 *
 * Runs ask with a `laneRequest` signal (sent by signal-with-start, so the
 * lane exists as soon as anyone needs it), are answered with `laneGrant`,
 * and give the lane back with `laneRelease` when they finish, whatever way
 * they finish. A holder that can no longer release (terminated, timed out)
 * is noticed by a periodic check and skipped, so it never blocks the lane.
 * The lane closes itself when idle and carries its state over
 * continue-as-new when its history grows.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import {
  laneGrantSignal,
  laneReleaseSignal,
  laneRequestSignal,
  laneStateQuery,
  type LaneGrant,
  type LaneRequest,
  type LaneState,
} from './definitions';

const { isWorkflowOpen } = proxyActivities<SentinelActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5 },
});

/** Past this many events the lane starts afresh with its state (keeps replay cheap). */
const HISTORY_LIMIT = 2_000;

const same = (a: Pick<LaneRequest, 'workflowId' | 'runId'>, b: Pick<LaneRequest, 'workflowId' | 'runId'>) =>
  a.workflowId === b.workflowId && a.runId === b.runId;

export async function sentinelLaneWorkflow(initial: LaneState): Promise<void> {
  const state: LaneState = { ...initial, queue: [...initial.queue] };
  const refusals: LaneRequest[] = [];
  let changed = false;

  setHandler(laneStateQuery, () => state);
  setHandler(laneRequestSignal, (request) => {
    changed = true;
    // Signal-with-start may be retried: a request already known is not queued twice.
    if ((state.holder && same(state.holder, request)) || state.queue.some((q) => same(q, request))) return;
    if (request.mode === 'refuse' && (state.holder || state.queue.length > 0)) refusals.push(request);
    else state.queue.push(request);
  });
  setHandler(laneReleaseSignal, (release) => {
    changed = true;
    if (state.holder && same(state.holder, release)) state.holder = null;
    else state.queue = state.queue.filter((q) => !same(q, release));
  });

  /** Signals a run; false when the run is gone (closed runs cannot be signalled). */
  async function tell(request: LaneRequest, grant: LaneGrant): Promise<boolean> {
    try {
      await getExternalWorkflowHandle(request.workflowId, request.runId).signal(laneGrantSignal, grant);
      return true;
    } catch (err) {
      log.warn('lane: run no longer reachable, skipped', { workflowId: request.workflowId, error: String(err) });
      return false;
    }
  }

  for (;;) {
    while (refusals.length > 0) {
      const refused = refusals.shift()!;
      await tell(refused, { granted: false, holder: state.holder?.workflowId ?? state.queue[0]?.workflowId });
    }
    if (!state.holder && state.queue.length > 0) {
      const next = state.queue.shift()!;
      if (await tell(next, { granted: true })) state.holder = next;
      continue;
    }
    if (!state.holder && state.queue.length === 0 && refusals.length === 0) {
      await condition(allHandlersFinished);
      return; // idle: the next request starts the lane anew
    }
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_LIMIT) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof sentinelLaneWorkflow>(state);
    }
    changed = false;
    const woke = await condition(() => changed, state.holderCheckIntervalMs);
    if (!woke && state.holder) {
      const holder = state.holder;
      if (!(await isWorkflowOpen({ workflowId: holder.workflowId, runId: holder.runId }))) {
        log.warn('lane: holder ended without releasing, lane freed', { workflowId: holder.workflowId });
        if (state.holder && same(state.holder, holder)) state.holder = null;
      }
    }
  }
}
