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
 * That check keeps its own deadline, however many requests, releases and
 * refusals arrive meanwhile; a check that fails (Temporal throttling or
 * briefly unreachable) keeps the holder and is tried again at the next
 * deadline: the lane never fails, since a failed lane would forget its holder
 * and the next request would start a fresh one beside it. A release that
 * arrives while its run's grant is still being sent is applied too.
 * The lane closes itself when idle and carries its state over
 * continue-as-new when its history grows.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { setWorkflowOptions } from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import {
  laneGrantSignal,
  laneReleaseSignal,
  laneRequestSignal,
  laneStateQuery,
  type LaneGrant,
  type LaneRequest,
  type LaneState,
} from '../temporal/definitions';

const { isWorkflowOpen } = proxyActivities<Pick<SentinelActivities, 'isWorkflowOpen'>>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5 },
});

/** Past this many events the lane starts afresh with its state (keeps replay cheap). */
const HISTORY_LIMIT = 2_000;

/** The holder check runs on its own deadline (histories from before wait `holderCheckIntervalMs` after every signal). */
const HOLDER_CHECK_DEADLINE_PATCH = 'lane-holder-check-on-its-own-deadline';
/** A holder check that fails keeps the holder and is tried again later (histories from before fail the lane). */
const HOLDER_CHECK_ERROR_PATCH = 'lane-keeps-holder-when-check-fails';
/** A release that arrives while its run's grant is being sent frees the lane (histories from before dropped it). */
const RELEASE_DURING_GRANT_PATCH = 'lane-applies-release-during-grant';

const same = (a: Pick<LaneRequest, 'workflowId' | 'runId'>, b: Pick<LaneRequest, 'workflowId' | 'runId'>) =>
  a.workflowId === b.workflowId && a.runId === b.runId;

// The lane outlives deploys and moves to the current build: its changes go behind patched() (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, sentinelLaneWorkflow);

export async function sentinelLaneWorkflow(initial: LaneState): Promise<void> {
  const state: LaneState = { ...initial, queue: [...initial.queue] };
  const refusals: LaneRequest[] = [];
  let changed = false;
  const holderCheckOnItsOwnDeadline = patched(HOLDER_CHECK_DEADLINE_PATCH);
  let nextHolderCheck = Date.now() + state.holderCheckIntervalMs;
  /** The run whose grant is being sent, and whether it released the lane meanwhile. */
  let granting: LaneRequest | null = null;
  let releasedWhileGranting = false;

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
    else {
      if (granting && same(granting, release)) releasedWhileGranting = true;
      state.queue = state.queue.filter((q) => !same(q, release));
    }
  });

  /** Signals a run; false when the run is gone (closed runs cannot be signalled). */
  async function tell(request: LaneRequest, grant: LaneGrant): Promise<boolean> {
    try {
      await getExternalWorkflowHandle(request.workflowId, request.runId).signal(laneGrantSignal, grant);
      return true;
    } catch (err) {
      log.warn('lane: run no longer reachable, skipped', {
        workflowId: request.workflowId,
        error: String(err),
      });
      return false;
    }
  }

  /** True when the holder has ended. A check that fails says no: the holder is kept and checked again later. */
  async function holderEnded(holder: LaneRequest): Promise<boolean> {
    try {
      return !(await isWorkflowOpen({ workflowId: holder.workflowId, runId: holder.runId }));
    } catch (err) {
      if (!(err instanceof ActivityFailure) || isCancellation(err) || !patched(HOLDER_CHECK_ERROR_PATCH))
        throw err;
      log.warn('lane: could not check the holder; keeping it, checking again later', {
        workflowId: holder.workflowId,
        error: String(err),
      });
      return false;
    }
  }

  async function checkHolder(): Promise<void> {
    const holder = state.holder!;
    if (await holderEnded(holder)) {
      log.warn('lane: holder ended without releasing, lane freed', { workflowId: holder.workflowId });
      if (state.holder && same(state.holder, holder)) state.holder = null;
    }
  }

  /**
   * Checks the holder without holding the lane up: a failing check can take minutes (its activity's retries),
   * and once the holder has released, its answer no longer matters, so the check is cancelled.
   */
  async function checkHolderUnlessReleased(): Promise<void> {
    const holder = state.holder!;
    const stillHolder = () => state.holder !== null && same(state.holder, holder);
    const scope = new CancellationScope();
    const answer = scope.run(() => holderEnded(holder));
    const settled = answer.then(
      () => undefined,
      () => undefined,
    );
    await Promise.race([settled, condition(() => !stillHolder())]);
    if (!stillHolder()) {
      scope.cancel();
      await settled;
      return;
    }
    if (await answer) {
      log.warn('lane: holder ended without releasing, lane freed', { workflowId: holder.workflowId });
      state.holder = null;
    }
  }

  for (;;) {
    while (refusals.length > 0) {
      const refused = refusals.shift()!;
      await tell(refused, { granted: false, holder: state.holder?.workflowId ?? state.queue[0]?.workflowId });
    }
    if (!state.holder && state.queue.length > 0) {
      const next = state.queue.shift()!;
      granting = next;
      releasedWhileGranting = false;
      const reached = await tell(next, { granted: true });
      granting = null;
      if (reached && releasedWhileGranting && patched(RELEASE_DURING_GRANT_PATCH)) {
        log.info('lane: the run released the lane while its grant was being sent', {
          workflowId: next.workflowId,
        });
      } else if (reached) {
        state.holder = next;
        nextHolderCheck = Date.now() + state.holderCheckIntervalMs;
      }
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
    if (holderCheckOnItsOwnDeadline) {
      // Signals wake the lane without moving the check: a dead holder is found within one interval, whatever arrives.
      const wait = nextHolderCheck - Date.now();
      if (wait > 0) await condition(() => changed, wait);
      if (state.holder && Date.now() >= nextHolderCheck) {
        await checkHolderUnlessReleased();
        nextHolderCheck = Date.now() + state.holderCheckIntervalMs;
      }
    } else {
      const woke = await condition(() => changed, state.holderCheckIntervalMs);
      if (!woke && state.holder) await checkHolder();
    }
  }
}
