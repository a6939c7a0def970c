import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TAG } from '../../src/machines/tags';
import { evidenceSchema } from '../../src/evidence/schema';
import { candidate, instancesTagged, parameterValue } from '../support/aws';
import { testEnvironment } from '../support/invariants';
import { readEvidence, startRun } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';

type Json = Record<string, any>;

describe('host setup (phase host_setup) on the real Temporal server', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it("records what setup installed on each leg's host, with versions, and the AMD leg passes only because of it", async () => {
    const env = testEnvironment('setup-pass');
    const worker = await startWorker(env.invariants);
    try {
      const result = await (await startRun(env, { candidate: await candidate('setup-pass') })).result();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.legs));
      const evidence = readEvidence(result);
      evidenceSchema.parse(evidence);
      const amd = evidence.legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.phases.find((p) => p.name === 'host_setup')?.outcome, 'passed');
      assert.deepEqual(
        amd.host?.setup.map((s) => s.script),
        ['ubuntu-docker', 'amdgpu-driver'],
      );
      const installed = Object.fromEntries(
        amd.host.setup.flatMap((s) => s.components).map((c) => [c.name, [c.version, c.action]]),
      );
      assert.deepEqual(installed['docker.io'], ['24.0.7-0ubuntu2~22.04.1', 'installed']);
      assert.deepEqual(installed['amdgpu-dkms'], ['1:6.7.0.60103-1787201.22.04', 'installed']);
      assert.deepEqual(installed['rocm-smi-lib'], ['7.2.0.60103-122~22.04', 'installed']);
      assert.deepEqual(installed['amdgpu-kernel-module'], ['6.7.0', 'loaded']);
      assert.equal(amd.gpu?.model, 'Navi 12 [Radeon Pro V520]');

      const nvidia = evidence.legs.find((l) => l.target === 'nvidia-a10g')!;
      assert.deepEqual(
        nvidia.host?.setup[0]?.components.map((c) => [c.name, c.action]),
        [
          ['nvidia-driver', 'present'],
          ['nvidia-container-toolkit', 'present'],
          ['docker', 'present'],
        ],
      );
      const markdown = readFileSync(result.evidence!.markdown, 'utf8');
      assert.match(
        markdown,
        /\| `amdgpu-driver` \| rocm-smi-lib \| `7\.2\.0\.60103-122~22\.04` \| installed \|/,
      );
    } finally {
      await worker.stop();
    }
  });

  it('without its setup, the AMD leg fails as it would on stock Ubuntu: GPU_DRIVER_MISSING, nothing promoted', async () => {
    const env = testEnvironment('no-amd-setup', (e: Json) => {
      e.targets.find((t: Json) => t.name === 'amd-v520').setup = [];
    });
    const worker = await startWorker(env.invariants);
    try {
      const result = await (await startRun(env, { candidate: await candidate('no-amd-setup') })).result();
      assert.equal(result.verdict, 'failed');
      assert.equal(result.promotion.status, 'not_promoted_failed');
      assert.equal(await parameterValue(`/radix/${env.name}/agent_digest_approved`), undefined);
      const amd = readEvidence(result).legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.failure?.code, 'GPU_DRIVER_MISSING');
      assert.match(amd.failure.detail!, /AMD 1 GPU\(s\) \(0x1002:0x7362 at 0000:00:1e\.0\) on the PCI bus/);
      assert.deepEqual(amd.host, { setup: [] });
      assert.deepEqual(
        amd.phases.slice(0, 4).map((p) => [p.name, p.outcome]),
        [
          ['provision', 'passed'],
          ['host_ready', 'passed'],
          ['host_setup', 'passed'],
          ['gpu_detect', 'failed'],
        ],
      );
      assert.equal(result.legs.find((l) => l.target === 'nvidia-a10g')?.outcome, 'passed');
      for (const i of await instancesTagged(TAG.runId, result.workflowId))
        assert.equal(i.State?.Name, 'terminated');
    } finally {
      await worker.stop();
    }
  });

  it('a package mirror out of reach fails host_setup with HOST_SETUP_MIRROR_UNREACHABLE on every attempt, the legs are cleaned up, and the run is inconclusive', async () => {
    const env = testEnvironment('mirror-down');
    writeFileSync(path.join(env.hostsDir, 'amd-v520', 'mirror-unreachable'), '');
    const worker = await startWorker(env.invariants);
    try {
      const result = await (await startRun(env, { candidate: await candidate('mirror-down') })).result();
      // An unreachable mirror is the infrastructure's failure: tried again on a fresh machine (infraRetries 1), then inconclusive.
      assert.equal(result.verdict, 'inconclusive');
      const amd = readEvidence(result).legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.outcome, 'inconclusive');
      assert.equal(amd.attempt, 2);
      assert.equal(amd.earlierAttempts?.[0]?.failure?.code, 'HOST_SETUP_MIRROR_UNREACHABLE');
      assert.notEqual(amd.earlierAttempts?.[0]?.instance?.instanceId, amd.instance?.instanceId);
      assert.equal(amd.failure?.code, 'HOST_SETUP_MIRROR_UNREACHABLE');
      assert.match(
        amd.failure.detail!,
        /ubuntu-docker: apt-get update exit 100: .*Temporary failure resolving/,
      );
      assert.equal(amd.phases.find((p) => p.name === 'host_setup')?.outcome, 'failed');
      assert.equal(amd.phases.find((p) => p.name === 'gpu_detect')?.outcome, 'skipped');
      assert.equal(amd.phases.find((p) => p.name === 'cleanup')?.outcome, 'passed');
      for (const i of await instancesTagged(TAG.runId, result.workflowId))
        assert.equal(i.State?.Name, 'terminated');
    } finally {
      await worker.stop();
    }
  });
});
