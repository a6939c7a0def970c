/**
 * Time tier: the lane's clocks with the production durations (laneWait 1h,
 * laneHolderCheck 1m), on Temporal's time-skipping test server, so that an
 * hour of waiting takes seconds and the bounds are exact (virtual time, not
 * the load of the machine). docs/testing.md says why and how.
 */
import { strict as assert } from 'node:assert';
import { TAG } from '../../src/machines/tags';
import type { MatrixRunResult } from '../../src/domain/run';
import type { sentinelLaneWorkflow } from '../../src/workflows';
import {
  laneGrantSignal,
  laneRequestSignal,
  laneWorkflowId,
  runProgressQuery,
  runWorkflowId,
  type LaneRequest,
} from '../../src/temporal/definitions';
import { candidate, instancesTagged, parameterValue } from '../support/aws';
import { testEnvironment, type TestEnvironment } from '../support/invariants';
import { readEvidence } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startTimeSkippingTemporal, type TimeSkippingTemporal } from '../support/time-skipping';
import { eventually } from '../support/wait';

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** A run that holds the lane and never ends on its own (a hung run: test/fixtures/hung-run-workflow.ts). */
async function hungHolder(
  temporal: TimeSkippingTemporal,
  env: TestEnvironment,
  holderCheckIntervalMs: number,
) {
  const hung = await temporal.startHungRun(runWorkflowId(env.name, 'hung'));
  await temporal.steadyClient.workflow.signalWithStart<typeof sentinelLaneWorkflow, [LaneRequest]>(
    'sentinelLaneWorkflow',
    {
      workflowId: laneWorkflowId(env.name),
      taskQueue: env.invariants.temporal.taskQueue,
      args: [{ environment: env.name, holderCheckIntervalMs, holder: null, queue: [] }],
      signal: laneRequestSignal,
      signalArgs: [{ workflowId: hung.workflowId, runId: hung.firstExecutionRunId, mode: 'wait' }],
    },
  );
  await eventually('the hung run to hold the lane', async () =>
    (await temporal.laneState(env.name))?.holder?.workflowId === hung.workflowId ? true : undefined,
  );
  return hung;
}

describe("time tier: the lane's clocks (time-skipping server)", function () {
  this.timeout(180_000);
  let temporal: TimeSkippingTemporal;

  before(async function () {
    this.timeout(300_000);
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });
  // A server of its own for each test: time is the server's, shared by everything on it.
  beforeEach(async () => {
    temporal = await startTimeSkippingTemporal();
  });
  afterEach(async () => {
    await temporal?.stop();
  });

  it('ends a run that waited timeouts.laneWait (1h) behind a hung holder with LANE_WAIT_TIMEOUT: nothing launched, nothing promoted, the queue left', async () => {
    const env = testEnvironment('tt-lane-wait', (e) => {
      e.timeouts.laneWait = '1h';
      e.timeouts.laneHolderCheck = '1m';
    });
    const worker = await temporal.startWorker(env.invariants);
    const hung = await hungHolder(temporal, env, MINUTE);
    try {
      const wallStart = Date.now();
      const waiting = await temporal.startRun(env, { candidate: await candidate('tt-lane-wait') });
      const result = await waiting.result(); // the server skips the hour
      const wall = Date.now() - wallStart;

      assert.equal(result.verdict, 'failed');
      assert.equal(result.failure?.code, 'LANE_WAIT_TIMEOUT');
      assert.equal(result.promotion.status, 'not_promoted_failed');
      const waited = Date.parse(result.finishedAt) - Date.parse(result.startedAt);
      assert.ok(waited >= HOUR, `the run gave up after ${waited}ms, before timeouts.laneWait (1h)`);
      assert.ok(
        waited < HOUR + 10 * MINUTE,
        `the run gave up ${waited - HOUR}ms after timeouts.laneWait (1h)`,
      );
      assert.equal(readEvidence(result).failure?.code, 'LANE_WAIT_TIMEOUT', 'the evidence says why');
      assert.equal(
        await parameterValue(`/radix/${env.name}/agent_digest_approved`),
        undefined,
        'nothing promoted',
      );
      assert.deepEqual(await instancesTagged(TAG.runId, waiting.workflowId), [], 'no machine launched');
      const lane = await temporal.laneState(env.name);
      assert.equal(lane?.holder?.workflowId, hung.workflowId, 'the holder keeps the lane');
      assert.ok(
        !lane?.queue.some((q) => q.workflowId === waiting.workflowId),
        'the run that gave up left the queue: it is never granted later',
      );
      console.log(`      waited ${Math.round(waited / 1000)}s of server time in ${wall}ms`);
    } finally {
      await temporal.steadyClient.workflow
        .getHandle(hung.workflowId)
        .terminate('test over')
        .catch(() => undefined);
      await temporal.steadyClient.workflow
        .getHandle(laneWorkflowId(env.name))
        .terminate('test over')
        .catch(() => undefined);
      await worker.stop();
    }
  });

  it("frees a dead holder's lane within one laneHolderCheck (1m), even while --no-queue attempts arrive every half laneHolderCheck", async () => {
    const holderCheckMs = MINUTE;
    const env = testEnvironment('tt-dead-holder', (e) => {
      e.timeouts.laneHolderCheck = '1m';
    });
    const worker = await temporal.startWorker(env.invariants);
    const attempts: MatrixRunResult[] = [];
    try {
      const wallStart = Date.now();
      // A run that held the lane and died without releasing it (its legs' cleanup is lifecycle.test.ts's concern).
      const dead = await hungHolder(temporal, env, holderCheckMs);
      await temporal.steadyClient.workflow
        .getHandle(dead.workflowId)
        .terminate('operator terminated a stuck run');
      const terminatedAt = await temporal.now();
      const queued = await temporal.startRun(env, {
        candidate: await candidate('tt-dead-holder-queued'),
        ciRunId: 'queued',
        dryRun: true,
      });

      // A CI job retrying `sentinel run --no-queue` every half laneHolderCheck of server time; nothing else moves the clock.
      const refusedCandidate = await candidate('tt-dead-holder-retry');
      for (
        let n = 1;
        ['preparing', 'waiting_for_lane'].includes((await queued.query(runProgressQuery)).stage);
        n += 1
      ) {
        const elapsed = (await temporal.now()) - terminatedAt;
        if (elapsed > 5 * holderCheckMs)
          assert.fail(
            `the queued run still waits ${elapsed}ms of server time after its holder was terminated (laneHolderCheck ${holderCheckMs}ms, ${n - 1} attempts meanwhile)`,
          );
        const attempt = await temporal.startRun(env, {
          candidate: refusedCandidate,
          ciRunId: `retry-${n}`,
          queue: 'refuse',
          dryRun: true,
        });
        attempts.push(await temporal.steadyClient.workflow.getHandle(attempt.workflowId).result());
        // The next attempt half an interval after this one began, however long this one took.
        const untilNext = terminatedAt + n * (holderCheckMs / 2) - (await temporal.now());
        if (untilNext > 0) await temporal.sleep(untilNext);
      }
      // When the lane granted it, by the server's clock (the grant signal in the queued run's history).
      const grant = ((await queued.fetchHistory()).events ?? []).find(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === laneGrantSignal.name,
      );
      assert.ok(grant?.eventTime, 'the queued run received its grant');
      const freedAfter =
        Number(String(grant.eventTime.seconds)) * 1000 +
        Math.floor((grant.eventTime.nanos ?? 0) / 1e6) -
        terminatedAt;
      assert.equal((await queued.result()).verdict, 'passed');
      // One interval, plus the check itself (an activity: server time passes at the wall clock's pace while it runs).
      assert.ok(
        freedAfter <= holderCheckMs + 30_000,
        `the lane was freed ${freedAfter}ms of server time after its holder died, more than one laneHolderCheck (${holderCheckMs}ms) and the check`,
      );
      const refused = attempts.filter((r) => r.verdict === 'lane_busy').length;
      assert.ok(refused >= 1, 'the retrying job met a held lane and was refused');
      await temporal.assertLaneReplays(env.name);
      console.log(
        `      the queued run got the lane ${freedAfter}ms of server time after its holder was terminated (${refused} refused attempts meanwhile), in ${Date.now() - wallStart}ms`,
      );
    } finally {
      await worker.stop();
    }
  });
});
