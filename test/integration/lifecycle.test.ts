import { strict as assert } from 'node:assert';
import { GetBucketLifecycleConfigurationCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { TAG } from '../../src/machines/tags';
import { bootstrapEnvironment } from '../../src/bootstrap/bootstrap';
import type { EvidenceRecord } from '../../src/domain/evidence';
import { aws, candidate, instancesTagged, parameterValue, putParameter, REGION } from '../support/aws';
import { slowGpuDetect, testEnvironment } from '../support/invariants';
import { legReachesPhase, readEvidence, startRun, temporalClient } from '../support/runs';
import { sharedStack } from '../support/stack';
import { eventually } from '../support/wait';
import { startWorker, startWorkerProcess } from '../support/worker';

async function allTerminated(runWorkflowId: string, expected: number): Promise<void> {
  const instances = await eventually(`${expected} terminated instances of ${runWorkflowId}`, async () => {
    const found = await instancesTagged(TAG.runId, runWorkflowId);
    return found.length === expected && found.every((i) => i.State?.Name === 'terminated')
      ? found
      : undefined;
  });
  assert.equal(instances.length, expected);
}

describe('run lifecycle: cancellation, the lane, conflicts, crashes', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('cancelling a run mid-leg terminates its instances and still writes the evidence', async () => {
    const env = testEnvironment('cancel');
    slowGpuDetect(env.hostsDir, 'amd-v520', 60);
    const worker = await startWorker(env.invariants);
    try {
      const handle = await startRun(env, { candidate: await candidate('cancel') });
      await legReachesPhase(handle.workflowId, 'amd-v520', 'gpu_detect');
      await handle.cancel();
      const result = await handle.result();

      assert.equal(result.verdict, 'cancelled');
      assert.equal(
        await parameterValue(`/radix/${env.name}/agent_digest_approved`),
        undefined,
        'nothing promoted',
      );
      const evidence = readEvidence(result);
      assert.equal(evidence.verdict, 'cancelled');
      const amd = evidence.legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.outcome, 'cancelled');
      assert.equal(amd.phases.find((p) => p.name === 'gpu_detect')?.outcome, 'cancelled');
      assert.equal(amd.phases.find((p) => p.name === 'cleanup')?.outcome, 'passed');
      await allTerminated(result.workflowId, 2);
    } finally {
      await worker.stop();
    }
  });

  it('ends a run that outlives timeouts.run with RUN_TIMEOUT: its legs are cancelled and cleaned up, nothing is promoted', async () => {
    const env = testEnvironment('run-timeout', (e) => {
      e.timeouts.run = '4s';
    });
    slowGpuDetect(env.hostsDir, 'amd-v520', 60);
    const worker = await startWorker(env.invariants);
    try {
      const result = await (await startRun(env, { candidate: await candidate('run-timeout') })).result();
      assert.equal(result.verdict, 'failed');
      assert.equal(result.failure?.code, 'RUN_TIMEOUT');
      assert.equal(result.promotion.status, 'not_promoted_failed');
      assert.equal(await parameterValue(`/radix/${env.name}/agent_digest_approved`), undefined);
      const amd = readEvidence(result).legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.outcome, 'cancelled');
      assert.equal(amd.phases.find((p) => p.name === 'cleanup')?.outcome, 'passed');
      await allTerminated(result.workflowId, 2);
      // Deterministic, whatever the machine's load: the legs were cancelled by the run's own timer of exactly timeouts.run.
      const events =
        (await (await temporalClient()).workflow.getHandle(result.workflowId).fetchHistory()).events ?? [];
      const at = (has: (e: (typeof events)[number]) => unknown) => events.findIndex((e) => Boolean(has(e)));
      const timer = at(
        (e) =>
          e.timerStartedEventAttributes &&
          String(e.timerStartedEventAttributes.startToFireTimeout?.seconds) === '4',
      );
      assert.ok(timer >= 0, 'the run started a timer of timeouts.run (4s)');
      const timerId = events[timer]!.timerStartedEventAttributes!.timerId;
      assert.ok(
        timer <
          at((e) =>
            e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId?.endsWith('--amd-v520'),
          ),
        'the timer started before the legs',
      );
      const fired = at((e) => e.timerFiredEventAttributes?.timerId === timerId);
      const cancelled = at((e) =>
        e.requestCancelExternalWorkflowExecutionInitiatedEventAttributes?.workflowExecution?.workflowId?.endsWith(
          '--amd-v520',
        ),
      );
      assert.ok(fired > timer, 'the timeouts.run timer fired');
      assert.ok(
        cancelled > fired,
        `the slow leg was asked to cancel after the timer fired (events ${fired} and ${cancelled})`,
      );
    } finally {
      await worker.stop();
    }
  });

  it('runs two runs of one environment started at once one after the other', async () => {
    const env = testEnvironment('serial');
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 2);
    const worker = await startWorker(env.invariants);
    try {
      // Image A is built before image B; the lane decides which run goes first.
      const older = await candidate('serial-a');
      const newer = await candidate('serial-b');
      const [a, b] = await Promise.all([
        startRun(env, { candidate: older }),
        startRun(env, { candidate: newer }),
      ]);
      const results = await Promise.all([a.result(), b.result()]);
      const [first, second] = results
        .map(readEvidence)
        .sort((x, y) => Date.parse(x.run.finishedAt) - Date.parse(y.run.finishedAt)) as [
        EvidenceRecord,
        EvidenceRecord,
      ];
      const secondStart = Math.min(
        ...second.legs.flatMap((l) =>
          l.phases.filter((p) => p.startedAt).map((p) => Date.parse(p.startedAt!)),
        ),
      );
      assert.ok(
        secondStart >= Date.parse(first.run.finishedAt),
        `second run's legs began ${Date.parse(first.run.finishedAt) - secondStart}ms before the first run finished`,
      );
      assert.equal(first.verdict, 'passed');
      assert.equal(
        second.approvedDigest.before?.reference,
        first.candidate.reference,
        'the second run started from what the first promoted',
      );
      // The pointer only moves forward: if the older image's run went second, it passed its legs but is not promoted.
      assert.equal(second.verdict, second.candidate.reference === newer ? 'passed' : 'promotion_stale');
      assert.equal(await parameterValue(`/radix/${env.name}/agent_digest_approved`), newer);
    } finally {
      await worker.stop();
    }
  });

  it('fails with PROMOTION_CONFLICT and overwrites nothing when the pointer moved during the run', async () => {
    const env = testEnvironment('conflict');
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 3);
    const parameter = `/radix/${env.name}/agent_digest_approved`;
    const before = await candidate('conflict-before');
    await putParameter(parameter, before);
    const worker = await startWorker(env.invariants);
    try {
      const handle = await startRun(env, { candidate: await candidate('conflict-candidate') });
      await legReachesPhase(handle.workflowId, 'nvidia-a10g', 'gpu_detect');
      const meanwhile = await candidate('conflict-meanwhile');
      await putParameter(parameter, meanwhile);
      const result = await handle.result();
      assert.equal(result.verdict, 'promotion_conflict');
      assert.equal(result.failure?.code, 'PROMOTION_CONFLICT');
      assert.equal(result.promotion.status, 'conflict');
      assert.equal(await parameterValue(parameter), meanwhile);
      const evidence = readEvidence(result);
      assert.equal(evidence.approvedDigest.before?.reference, before);
      assert.equal(evidence.approvedDigest.after?.reference, meanwhile);
    } finally {
      await worker.stop();
    }
  });

  it('finishes a run whose worker was killed mid-leg, with exactly one instance per target and none left running', async () => {
    const env = testEnvironment('restart');
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 4);
    slowGpuDetect(env.hostsDir, 'amd-v520', 4);
    const first = await startWorkerProcess(env.file, `${env.name}-worker-1`);
    const handle = await startRun(env, { candidate: await candidate('restart') });
    await legReachesPhase(handle.workflowId, 'amd-v520', 'gpu_detect');
    await first.stop('SIGKILL');
    const second = await startWorkerProcess(env.file, `${env.name}-worker-2`);
    try {
      const result = await handle.result();
      assert.equal(result.verdict, 'passed');
      await allTerminated(result.workflowId, 2);
      const targets = (await instancesTagged(TAG.runId, result.workflowId))
        .map((i) => i.Tags?.find((t) => t.Key === TAG.target)?.Value)
        .sort();
      assert.deepEqual(targets, ['amd-v520', 'nvidia-a10g']);
    } finally {
      await second.stop('SIGKILL');
    }
  });

  it('does not let a terminated run block the lane, and its legs still clean up', async () => {
    const env = testEnvironment('holder');
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 60);
    const worker = await startWorker(env.invariants);
    try {
      const stuck = await startRun(env, { candidate: await candidate('holder-stuck') });
      await legReachesPhase(stuck.workflowId, 'nvidia-a10g', 'gpu_detect');
      await stuck.terminate('operator terminated a stuck run');
      // Its legs are asked to cancel (parent close policy), so their machines go away.
      await allTerminated(stuck.workflowId, 2);

      const next = await startRun(env, { candidate: await candidate('holder-next'), dryRun: true });
      const result = await next.result();
      assert.equal(result.verdict, 'passed');
    } finally {
      await worker.stop();
    }
  });

  it('stores the evidence pack in S3 when the environment says s3://', async () => {
    const env = testEnvironment('s3', (e) => {
      e.evidence.location = 's3://sentinel-test-evidence/runs/';
    });
    const report = await bootstrapEnvironment(aws, env.name, env.invariants.environments[env.name]!, {
      apply: true,
    });
    assert.equal(report.items.find((i) => i.item === 'evidence-store')?.status, 'created');
    const rules = await aws
      .s3(REGION)
      .send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'sentinel-test-evidence' }));
    assert.equal(rules.Rules?.[0]?.Expiration?.Days, 90);

    const worker = await startWorker(env.invariants);
    try {
      const result = await (await startRun(env, { candidate: await candidate('s3') })).result();
      assert.equal(result.evidence?.json, `s3://sentinel-test-evidence/runs/${result.workflowId}.json`);
      const object = await aws
        .s3(REGION)
        .send(
          new GetObjectCommand({ Bucket: 'sentinel-test-evidence', Key: `runs/${result.workflowId}.json` }),
        );
      const stored = JSON.parse(await object.Body!.transformToString()) as EvidenceRecord;
      assert.equal(stored.verdict, 'passed');
      const markdown = await aws
        .s3(REGION)
        .send(
          new GetObjectCommand({ Bucket: 'sentinel-test-evidence', Key: `runs/${result.workflowId}.md` }),
        );
      assert.match(await markdown.Body!.transformToString(), /# Sentinel GPU matrix: PASSED/);
    } finally {
      await worker.stop();
    }
  });
});
