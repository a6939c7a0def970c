/**
 * Worker Versioning against the real dev server (docs/versioning.md): a run
 * that started on build A finishes on build A after build B, whose leg
 * workflow is incompatible with A's, is made current; new runs go to B; the
 * lane (AUTO_UPGRADE) moves to B in the middle of its execution.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeVersioningBehavior } from '@temporalio/common';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { temporalBinary } from '../../dev/stack/tools';
import { createSentinelWorker, type SentinelWorker } from '../../src/worker/worker';
import { laneWorkflowId, legWorkflowId, runProgressQuery } from '../../src/temporal/definitions';
import { candidate } from '../support/aws';
import { holdGpuDetect, testEnvironment, type TestEnvironment } from '../support/invariants';
import type { HistoryEvent } from '../support/lane';
import { legReachesPhase, startRun, temporalClient } from '../support/runs';
import { sharedStack, suiteDir } from '../support/stack';
import { eventually } from '../support/wait';
import { workflowBundle } from '../support/worker';

/** WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR of Temporal's API. */
const NON_DETERMINISTIC_CAUSE = 24;
const TARGETS = ['nvidia-a10g', 'amd-v520'] as const;

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never;

async function startBuild(
  env: TestEnvironment,
  buildId: string,
  bundle: WorkflowBundle,
): Promise<{ sentinel: SentinelWorker; stop(): Promise<void> }> {
  const stack = await sharedStack();
  const sentinel = await createSentinelWorker({
    invariants: env.invariants,
    temporal: {
      address: stack.temporal.address,
      namespace: stack.temporal.namespace,
      connectionOptions: { address: stack.temporal.address },
    },
    workflowBundle: bundle,
    localWorkRoot: path.join(suiteDir, 'hosts-work'),
    versioning: { enabled: true, version: { deploymentName: env.invariants.temporal.taskQueue, buildId } },
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

async function history(workflowId: string): Promise<HistoryEvent[]> {
  const client = await temporalClient();
  return (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

/** The build id of every workflow task the execution completed, in order. */
function buildsOf(events: HistoryEvent[]): string[] {
  return events
    .filter((e) => e.workflowTaskCompletedEventAttributes)
    .map((e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? '(none)');
}

function nonDeterminismFailures(events: HistoryEvent[]): HistoryEvent[] {
  return events.filter(
    (e) =>
      e.workflowTaskFailedEventAttributes &&
      (Number(e.workflowTaskFailedEventAttributes.cause) === NON_DETERMINISTIC_CAUSE ||
        /TMPRL1100|[Nn]ondetermin/.test(e.workflowTaskFailedEventAttributes?.failure?.message ?? '')),
  );
}

/** The first command the execution issued (after its first workflow task). */
function firstCommandEvent(events: HistoryEvent[]): HistoryEvent | undefined {
  const completed = events.findIndex((e) => e.workflowTaskCompletedEventAttributes);
  return events[completed + 1];
}

async function versioningOf(workflowId: string) {
  const client = await temporalClient();
  const info = (await client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo
    ?.versioningInfo;
  return { behavior: decodeVersioningBehavior(info?.behavior), buildId: info?.deploymentVersion?.buildId };
}

describe('Worker Versioning: a deploy in the middle of a run', function () {
  this.timeout(300_000);
  let buildBBundle: WorkflowBundle;

  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    buildBBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../fixtures/build-b-workflows'),
      logger: quietLogger,
    });
  });

  it('finishes a run on build A after build B (an incompatible leg) is made current, sends new runs to B and moves the lane to B', async () => {
    const env = testEnvironment('versioning');
    const deploymentName = env.invariants.temporal.taskQueue;
    const stack = await sharedStack();
    const client = await temporalClient();
    // The first run's legs stay in gpu_detect until the rollout below is done and the second run waits behind it.
    const releases = TARGETS.map((target) => holdGpuDetect(env.hostsDir, target));
    const release = () => releases.forEach((r) => r());

    const buildA = await startBuild(env, 'build-a', await workflowBundle());
    let buildB: Awaited<ReturnType<typeof startBuild>> | undefined;
    try {
      // A fresh deployment: its first version becomes current by itself; the next one waits for the operator.
      assert.equal(await buildA.sentinel.currentVersion, 'made-current');
      buildB = await startBuild(env, 'build-b', buildBBundle);
      assert.equal(await buildB.sentinel.currentVersion, 'other-version-current');

      const first = await startRun(env, { candidate: await candidate('versioning-a') });
      for (const target of TARGETS) await legReachesPhase(first.workflowId, target, 'gpu_detect', 90_000);

      // The rollout, as docs/versioning.md gives it.
      await promisify(execFile)(temporalBinary(), [
        'worker',
        'deployment',
        'set-current-version',
        '--address',
        stack.temporal.address,
        '--namespace',
        stack.temporal.namespace,
        '--deployment-name',
        deploymentName,
        '--build-id',
        'build-b',
        '--yes',
      ]);
      for (const target of TARGETS) {
        const leg = await client.workflow.getHandle(legWorkflowId(first.workflowId, target)).describe();
        assert.equal(
          leg.status.name,
          'RUNNING',
          `the first run's ${target} leg is still running when build B becomes current`,
        );
      }

      // Queued behind the first run in the lane, which receives its request on build B.
      const second = await startRun(env, { candidate: await candidate('versioning-b') });
      await eventually(
        'the second run to wait behind the first at the lane',
        async () => {
          const progress = await client.workflow
            .getHandle(second.workflowId)
            .query(runProgressQuery)
            .catch(() => undefined);
          return progress?.stage === 'waiting_for_lane' ? true : undefined;
        },
        60_000,
      );
      release();
      const firstResult = await first.result();
      const secondResult = await second.result();

      assert.equal(firstResult.verdict, 'passed');
      assert.equal(secondResult.verdict, 'passed');

      // The first run: pinned to A throughout, legs included; nothing failed non-determinism.
      for (const id of [first.workflowId, ...TARGETS.map((t) => legWorkflowId(first.workflowId, t))]) {
        assert.deepEqual(await versioningOf(id), { behavior: 'PINNED', buildId: 'build-a' }, id);
        const events = await history(id);
        assert.deepEqual([...new Set(buildsOf(events))], ['build-a'], `${id} ran on build A only`);
        assert.deepEqual(nonDeterminismFailures(events), [], `${id} had no non-determinism failure`);
      }
      for (const target of TARGETS) {
        const events = await history(legWorkflowId(first.workflowId, target));
        assert.ok(
          !firstCommandEvent(events)?.timerStartedEventAttributes,
          `the first run's ${target} leg ran build A's code`,
        );
      }

      // The second run: pinned to B, and its legs ran B's changed code (they start with its timer).
      for (const id of [second.workflowId, ...TARGETS.map((t) => legWorkflowId(second.workflowId, t))]) {
        assert.deepEqual(await versioningOf(id), { behavior: 'PINNED', buildId: 'build-b' }, id);
        const events = await history(id);
        assert.deepEqual([...new Set(buildsOf(events))], ['build-b'], `${id} ran on build B only`);
        assert.deepEqual(nonDeterminismFailures(events), [], `${id} had no non-determinism failure`);
      }
      for (const target of TARGETS) {
        const events = await history(legWorkflowId(second.workflowId, target));
        assert.equal(
          firstCommandEvent(events)?.timerStartedEventAttributes?.startToFireTimeout?.seconds?.toString(),
          '1',
          `the second run's ${target} leg ran build B's code`,
        );
      }

      // The lane: one execution, started on A, moved to B (AUTO_UPGRADE), never failing non-determinism.
      const lane = await eventually(
        'the lane to record a workflow task on build B',
        async () => {
          const events = await history(laneWorkflowId(env.name));
          return buildsOf(events).includes('build-b') ? events : undefined;
        },
        60_000,
      );
      const laneBuilds = buildsOf(lane);
      assert.equal(laneBuilds[0], 'build-a', 'the lane started on build A');
      const firstB = laneBuilds.indexOf('build-b');
      assert.ok(
        laneBuilds.slice(firstB).every((b) => b === 'build-b'),
        `once on build B the lane stays there (${laneBuilds.join(', ')})`,
      );
      assert.deepEqual(nonDeterminismFailures(lane), [], 'the lane had no non-determinism failure');
      assert.equal((await versioningOf(laneWorkflowId(env.name))).behavior, 'AUTO_UPGRADE');
    } finally {
      release();
      await buildB?.stop();
      await buildA.stop();
    }
  });
});
