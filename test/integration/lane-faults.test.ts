/**
 * The lane under faults: a Temporal that fails the lane's holder checks, a
 * release that races its grant (the dead holder with CI retrying --no-queue
 * is in the time tier, test/time/lane-clocks.test.ts).
 * Whatever happens, two runs of one environment never overlap, and a free
 * lane is given to the next run in a bounded time.
 */
import { strict as assert } from 'node:assert';
import type { EvidenceRecord } from '../../src/domain/evidence';
import {
  laneReleaseSignal,
  laneRequestSignal,
  laneWorkflowId,
  runWorkflowId,
  type LaneRequest,
} from '../../src/temporal/definitions';
import type { sentinelLaneWorkflow } from '../../src/workflows';
import { candidate } from '../support/aws';
import { startGrpcFaultProxy } from '../support/grpc-fault-proxy';
import { slowGpuDetect, testEnvironment } from '../support/invariants';
import {
  assertLaneReplays,
  laneHistory,
  laneState,
  laneStatus,
  runIdOf,
  signalMentions,
  signalName,
  startWorkerThrough,
} from '../support/lane';
import { readEvidence, startRun, temporalClient } from '../support/runs';
import { sharedStack } from '../support/stack';
import { eventually } from '../support/wait';
import { startWorker } from '../support/worker';

/** When the run's first leg phase began (its legs ran from then on). */
function legsBegan(evidence: EvidenceRecord): number {
  return Math.min(
    ...evidence.legs.flatMap((l) => l.phases.filter((p) => p.startedAt).map((p) => Date.parse(p.startedAt!))),
  );
}

async function withDeadline<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the lane under faults', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('survives a holder check that keeps failing: the lane keeps its holder, and the next run starts only after it', async function () {
    this.timeout(300_000);
    const env = testEnvironment('lane-check-fails', (e) => {
      e.timeouts.laneHolderCheck = '1s';
    });
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 45);
    const stack = await sharedStack();
    const proxy = await startGrpcFaultProxy(stack.temporal.address);
    const worker = await startWorkerThrough(env.invariants, proxy.address);
    try {
      const first = await startRun(env, {
        candidate: await candidate('check-fails-first'),
        ciRunId: 'first',
      });
      // The Temporal frontend answers the lane's question about this run with an error, every time.
      proxy.injectError({
        method: 'DescribeWorkflowExecution',
        bodyIncludes: runIdOf(first),
        code: 4,
        message: 'injected fault: the frontend timed out',
      });
      await eventually('the first run to hold the lane', async () =>
        (await laneState(env.name))?.holder?.workflowId === first.workflowId ? true : undefined,
      );
      // One check is isWorkflowOpen with up to five attempts: wait for a sixth failed call, one check more than a whole failed one.
      await eventually(
        'the holder check to fail more than five times (or the lane to close)',
        async () =>
          (proxy.injected.get('DescribeWorkflowExecution') ?? 0) > 5 ||
          (await laneStatus(env.name)) !== 'RUNNING'
            ? true
            : undefined,
        90_000,
      );
      const laneAfterFailures = await laneStatus(env.name);
      const holderAfterFailures = (await laneState(env.name))?.holder?.workflowId;

      const second = await startRun(env, {
        candidate: await candidate('check-fails-second'),
        ciRunId: 'second',
      });
      const [a, b] = await Promise.all([first.result(), second.result()]);
      const secondBegan = legsBegan(readEvidence(b));
      const firstFinished = Date.parse(readEvidence(a).run.finishedAt);
      assert.ok(Number.isFinite(secondBegan), `the second run ran its legs (verdict ${b.verdict})`);
      assert.ok(
        secondBegan >= firstFinished,
        `the second run's legs began ${firstFinished - secondBegan}ms before the first run finished (the lane was ${laneAfterFailures} after the failed checks)`,
      );
      assert.deepEqual([a.verdict, b.verdict], ['passed', 'passed']);
      assert.equal(laneAfterFailures, 'RUNNING', 'the lane kept running through the failed checks');
      assert.equal(
        holderAfterFailures,
        first.workflowId,
        'the lane kept its holder through the failed checks',
      );
      // Its history (patches, failed and cancelled checks) replays: a worker that lost it from its cache can go on.
      await assertLaneReplays(env.name);
      console.log(
        `      holder check failed ${proxy.injected.get('DescribeWorkflowExecution')} times; the second run's legs began ${secondBegan - firstFinished}ms after the first run finished`,
      );
    } finally {
      await worker.stop();
      await proxy.close();
    }
  });

  // A dead holder's lane freed on its own deadline while --no-queue attempts arrive: test/time/lane-clocks.test.ts (time tier).

  it("applies a release that arrives while the run's grant is still being sent", async function () {
    this.timeout(300_000);
    const env = testEnvironment('lane-release-race', (e) => {
      // Long enough that only the release, never the holder check, can free the lane in this test.
      e.timeouts.laneHolderCheck = '10m';
    });
    const client = await temporalClient();
    const stack = await sharedStack();
    // The lane runs on a worker of its own, reached through a proxy that can cut it off; runs use another worker.
    const laneQueue = `${env.invariants.temporal.taskQueue}-lane`;
    const proxy = await startGrpcFaultProxy(stack.temporal.address);
    const laneWorker = await startWorkerThrough(
      { ...env.invariants, temporal: { ...env.invariants.temporal, taskQueue: laneQueue } },
      proxy.address,
    );
    const runWorker = await startWorker(env.invariants);
    // A holder that never runs and never ends on its own: a run parked on a task queue no worker polls.
    const parked = await client.workflow.start('gpuMatrixWorkflow', {
      workflowId: runWorkflowId(env.name, 'parked'),
      taskQueue: `${env.invariants.temporal.taskQueue}-parked`,
      args: [{}],
    });
    try {
      await client.workflow.signalWithStart<typeof sentinelLaneWorkflow, [LaneRequest]>(
        'sentinelLaneWorkflow',
        {
          workflowId: laneWorkflowId(env.name),
          taskQueue: laneQueue,
          args: [{ environment: env.name, holderCheckIntervalMs: 600_000, holder: null, queue: [] }],
          signal: laneRequestSignal,
          signalArgs: [{ workflowId: parked.workflowId, runId: runIdOf(parked), mode: 'wait' }],
        },
      );
      await eventually('the parked run to hold the lane', async () =>
        (await laneState(env.name))?.holder?.workflowId === parked.workflowId ? true : undefined,
      );
      const racing = await startRun(env, {
        candidate: await candidate('release-race'),
        ciRunId: 'racing',
        dryRun: true,
      });
      await eventually('the racing run to queue', async () =>
        (await laneState(env.name))?.queue.some((q) => q.workflowId === racing.workflowId) ? true : undefined,
      );

      // The lane's worker is cut off right after it sends the grant: the lane learns the grant went out only later.
      const cutOff = proxy.holdAnswersAfter({
        method: 'RespondWorkflowTaskCompleted',
        bodyIncludes: 'laneGrant',
      });
      await client.workflow
        .getHandle(laneWorkflowId(env.name))
        .signal(laneReleaseSignal, { workflowId: parked.workflowId, runId: runIdOf(parked) });
      await withDeadline('the lane to send its grant', cutOff, 60_000);
      const raced = await racing.result();
      assert.equal(raced.verdict, 'passed', 'the racing run got its grant, ran and released the lane');
      // Its release is in the lane's history before the lane has taken in that its grant was sent.
      await eventually(
        'the release to be recorded while the grant is still unacknowledged by the lane',
        async () => {
          const events = await laneHistory(env.name);
          const granted = events
            .map((e) => Boolean(e.externalWorkflowExecutionSignaledEventAttributes))
            .lastIndexOf(true);
          const released = events.findIndex(
            (e, i) => i > granted && signalName(e) === 'laneRelease' && signalMentions(e, racing.workflowId),
          );
          if (granted < 0 || released < 0) return undefined;
          const after = events.slice(granted + 1);
          assert.equal(
            after.filter((e) => e.workflowTaskCompletedEventAttributes).length,
            0,
            'the lane completed no task since the grant',
          );
          // No task the cut-off worker could still complete: none started, or the last one started has timed out.
          const lastIndex = (has: (e: (typeof after)[number]) => unknown) =>
            after.map((e) => Boolean(has(e))).lastIndexOf(true);
          const started = lastIndex((e) => e.workflowTaskStartedEventAttributes);
          return started < 0 || lastIndex((e) => e.workflowTaskTimedOutEventAttributes) > started
            ? true
            : undefined;
        },
        60_000,
      );
      proxy.releaseAnswers();

      const next = await startRun(env, {
        candidate: await candidate('release-race-next'),
        ciRunId: 'next',
        dryRun: true,
      });
      const result = await withDeadline(
        'the next run to get the lane (laneHolderCheck is 10m)',
        next.result(),
        90_000,
      ).catch(async (err: Error) => {
        throw new Error(
          `${err.message}; the lane's holder: ${JSON.stringify((await laneState(env.name))?.holder ?? null)}`,
        );
      });
      assert.equal(result.verdict, 'passed');
      await assertLaneReplays(env.name);
    } finally {
      proxy.releaseAnswers();
      await client.workflow
        .getHandle(parked.workflowId)
        .terminate('test over')
        .catch(() => undefined);
      await client.workflow
        .getHandle(laneWorkflowId(env.name))
        .terminate('test over')
        .catch(() => undefined);
      await runWorker.stop();
      await laneWorker.stop();
      await proxy.close();
    }
  });
});
