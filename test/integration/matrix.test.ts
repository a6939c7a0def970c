import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { evidenceSchema } from '../../src/evidence/schema';
import { TAG } from '../../src/machines/tags';
import { candidate, instancesTagged, parameterValue } from '../support/aws';
import { testEnvironment, recordTool } from '../support/invariants';
import { readEvidence, startRun } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';

describe('matrix run on the real Temporal server', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('promotes a candidate that passes on both vendors and writes the evidence pack', async () => {
    const env = testEnvironment('pass');
    const worker = await startWorker(env.invariants);
    try {
      const digest = await candidate('pass');
      const handle = await startRun(env, { candidate: digest });
      const result = await handle.result();

      assert.equal(result.verdict, 'passed');
      assert.equal(result.promotion.status, 'promoted');
      assert.equal(await parameterValue(`/radix/${env.name}/agent_digest_approved`), digest);
      assert.deepEqual(
        result.legs.map((l) => [l.target, l.outcome]),
        [
          ['nvidia-a10g', 'passed'],
          ['amd-v520', 'passed'],
        ],
      );

      const evidence = readEvidence(result);
      evidenceSchema.parse(evidence);
      assert.equal(evidence.simulated, true);
      assert.equal(evidence.approvedDigest.before?.reference, null);
      assert.equal(evidence.approvedDigest.after?.reference, digest);
      const nvidia = evidence.legs.find((l) => l.target === 'nvidia-a10g')!;
      assert.deepEqual(nvidia.gpu, {
        vendor: 'nvidia',
        model: 'NVIDIA A10G',
        count: 1,
        driverVersion: '535.104.05',
        memoryMiB: 23028,
      });
      assert.equal(nvidia.instance?.instanceType, 'g5.xlarge');
      const amd = evidence.legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.gpu?.model, 'Navi 12 [Radeon Pro V520]');
      assert.equal(amd.runtime?.gpuRuntime, 'rocm-devices');
      const markdown = readFileSync(result.evidence!.markdown, 'utf8');
      assert.match(markdown, /SIMULATED RUN/);
      assert.match(markdown, /\| Verdict \| \*\*passed\*\* \|/);

      // Every machine of the run was launched with its tags and is gone.
      const instances = await instancesTagged(TAG.runId, result.workflowId);
      assert.equal(instances.length, 2);
      for (const i of instances) {
        assert.equal(i.State?.Name, 'terminated');
        const tags = Object.fromEntries((i.Tags ?? []).map((t) => [t.Key, t.Value]));
        assert.equal(tags['radix:purpose'], 'gpu-matrix');
        assert.equal(tags['radix:environment'], env.name);
        assert.ok(
          Date.parse(tags['radix:expires-at']) > Date.now() + 3 * 3600_000,
          'expires-at is cleanupTtl (4h) ahead',
        );
      }
    } finally {
      await worker.stop();
    }
  });

  it('blocks promotion when the AMD GPU check fails, and the evidence names the failure and its remediation', async () => {
    const env = testEnvironment('amd-fails');
    recordTool(env.hostsDir, 'amd-v520', 'rocm-smi', {
      cmd: 'rocm-smi --showproductname',
      out: 'ERROR:root:Driver not initialized (amdgpu not found in modules)\n',
      exit: 0,
    });
    const worker = await startWorker(env.invariants);
    try {
      const result = await (await startRun(env, { candidate: await candidate('amd-fails') })).result();
      assert.equal(result.verdict, 'failed');
      assert.equal(result.promotion.status, 'not_promoted_failed');
      assert.equal(await parameterValue(`/radix/${env.name}/agent_digest_approved`), undefined);

      const amd = readEvidence(result).legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.outcome, 'failed');
      assert.equal(amd.failure?.code, 'GPU_DRIVER_ERROR');
      assert.match(amd.failure.remediation, /kernel module/);
      assert.deepEqual(
        amd.phases.map((p) => [p.name, p.outcome]),
        [
          ['provision', 'passed'],
          ['host_ready', 'passed'],
          ['host_setup', 'passed'],
          ['gpu_detect', 'failed'],
          ['container_runtime', 'skipped'],
          ['installer', 'skipped'],
          ['onboarding', 'skipped'],
          ['smoke_job', 'skipped'],
          ['cleanup', 'passed'],
        ],
      );
      assert.match(readFileSync(result.evidence!.markdown, 'utf8'), /GPU_DRIVER_ERROR/);
      const nvidia = result.legs.find((l) => l.target === 'nvidia-a10g')!;
      assert.equal(nvidia.outcome, 'passed');
      for (const i of await instancesTagged(TAG.runId, result.workflowId))
        assert.equal(i.State?.Name, 'terminated');
    } finally {
      await worker.stop();
    }
  });
});
