/**
 * A run's configuration snapshot is the one its janitor pre-step and its lane
 * use: a configuration changed after the run started (a worker redeployed
 * with another ops/invariants.yaml, another task queue) does not change what
 * the run does.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { parse, stringify } from 'yaml';
import { loadInvariants } from '../../src/config/load';
import type { JanitorReport } from '../../src/domain/janitor';
import type { MatrixRunResult } from '../../src/domain/run';
import { legMachineTags } from '../../src/machines/tags';
import type { gpuMatrixWorkflow } from '../../src/workflows';
import {
  janitorPreStepWorkflowId,
  laneReleaseSignal,
  laneRequestSignal,
  laneWorkflowId,
  runWorkflowId,
} from '../../src/temporal/definitions';
import { aws, candidate, REGION } from '../support/aws';
import { testEnvironment } from '../support/invariants';
import { laneState } from '../support/lane';
import { startRun, temporalClient } from '../support/runs';
import { sharedStack } from '../support/stack';
import { eventually } from '../support/wait';
import { startWorker, startWorkerProcess } from '../support/worker';

const HOUR = 3600_000;

describe("a run's configuration snapshot: its janitor and its lane use the run's plan, not the worker's configuration", function () {
  this.timeout(240_000);
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('the janitor pre-step sweeps with the cleanupTtl the run started with, though the worker now runs with another file', async () => {
    const env = testEnvironment('plan-janitor-ttl');
    const client = await temporalClient();
    const taskQueue = env.invariants.temporal.taskQueue;
    // A machine of a long-gone run, expiring in an hour: young under the run's cleanupTtl (4h), expired under one of 1s.
    const tags = legMachineTags({
      environment: env.name,
      runWorkflowId: runWorkflowId(env.name, 'long-gone'),
      legWorkflowId: `${runWorkflowId(env.name, 'long-gone')}--nvidia-a10g`,
      target: 'nvidia-a10g',
      expiresAt: new Date(Date.now() + HOUR).toISOString(),
    });
    const launched = await aws.ec2(REGION).send(
      new RunInstancesCommand({
        ImageId: 'ami-0c2b8ca305e393e06',
        InstanceType: 'g5.xlarge',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
      }),
    );
    const instanceId = launched.Instances![0]!.InstanceId!;

    // The lane is held by a run no worker serves, so the run waits there after its plan was captured.
    const blocker = await client.workflow.start('gpuMatrixWorkflow', {
      workflowId: runWorkflowId(env.name, 'blocker'),
      taskQueue: `nobody-polls-${env.name}`,
      args: [],
    });
    await client.workflow.signalWithStart('sentinelLaneWorkflow', {
      workflowId: laneWorkflowId(env.name),
      taskQueue,
      args: [{ environment: env.name, holderCheckIntervalMs: 2_000, holder: null, queue: [] }],
      signal: laneRequestSignal,
      signalArgs: [{ workflowId: blocker.workflowId, runId: blocker.firstExecutionRunId, mode: 'wait' }],
    });

    const first = await startWorker(env.invariants);
    let firstStopped = false;
    let second: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const run = await startRun(env, { candidate: await candidate('plan-janitor-ttl'), dryRun: true });
      await eventually(
        'the run queued at the lane',
        async () =>
          (await laneState(env.name))?.queue.some((q) => q.workflowId === run.workflowId) ? true : undefined,
        60_000,
      );

      // Redeployed: the same queue, a file whose cleanupTtl is 1s.
      await first.stop();
      firstStopped = true;
      const file = parse(readFileSync(env.file, 'utf8'));
      file.environments[env.name].cleanupTtl = '1s';
      writeFileSync(env.file, stringify(file));
      const changed = loadInvariants(env.file);
      assert.equal(changed.environments[env.name]!.cleanupTtl, 1_000);
      second = await startWorker(changed);
      await client.workflow
        .getHandle(laneWorkflowId(env.name))
        .signal(laneReleaseSignal, { workflowId: blocker.workflowId, runId: blocker.firstExecutionRunId });

      const result: MatrixRunResult = await run.result();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.failure));
      const report: JanitorReport = await client.workflow
        .getHandle(janitorPreStepWorkflowId(run.workflowId))
        .result();
      assert.equal(report.cleanupTtlSeconds, 4 * 3600, "the cleanupTtl of the run's snapshot");
      assert.deepEqual(
        report.wouldTerminate.map((w) => w.instanceId),
        [],
        "nothing is expired under the run's cleanupTtl",
      );
      assert.deepEqual(
        report.spared.filter((s) => s.instanceId === instanceId).map((s) => s.reason),
        ['young'],
      );
    } finally {
      await blocker.terminate('test over').catch(() => undefined);
      await second?.stop();
      if (!firstStopped) await first.stop();
    }
  });

  it("the lane starts on the run's own task queue, not on the one the worker's file names", async () => {
    // The worker serves another queue than its file names (TEMPORAL_TASK_QUEUE); a lane started on the file's queue would never run.
    const env = testEnvironment('plan-lane-queue', (e) => {
      e.timeouts.laneWait = '20s';
    });
    const served = `${env.invariants.temporal.taskQueue}-served`;
    const worker = await startWorkerProcess(env.file, `${env.name}-worker`, { TEMPORAL_TASK_QUEUE: served });
    const client = await temporalClient();
    try {
      const run = await client.workflow.start<typeof gpuMatrixWorkflow>('gpuMatrixWorkflow', {
        workflowId: runWorkflowId(env.name, 'r1'),
        taskQueue: served,
        args: [
          {
            environment: env.name,
            gitSha: '0123456789abcdef0123456789abcdef01234567',
            ciRunId: 'r1',
            dryRun: true,
            queue: 'wait',
            trigger: 'cli',
            candidate: await candidate('plan-lane-queue'),
          },
        ],
      });
      const result = await run.result();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.failure));
      assert.equal((await client.workflow.getHandle(laneWorkflowId(env.name)).describe()).taskQueue, served);
    } finally {
      await client.workflow
        .getHandle(laneWorkflowId(env.name))
        .terminate('test over')
        .catch(() => undefined);
      await worker.stop('SIGKILL');
    }
  });
});
