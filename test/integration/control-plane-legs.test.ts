import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TAG } from '../../src/machines/tags';
import { legWorkflowId } from '../../src/temporal/definitions';
import { candidate, instancesTagged } from '../support/aws';
import { testEnvironment } from '../support/invariants';
import { readEvidence, startRun, temporalClient } from '../support/runs';
import { sharedStack, suiteDir } from '../support/stack';
import { startWorker, startWorkerProcess } from '../support/worker';

describe('legs through the control plane: install, onboarding, smoke job, cleanup', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('records onboarding duration, time to active and the smoke job, and deletes each test cluster', async () => {
    const env = testEnvironment('onboard');
    const worker = await startWorker(env.invariants);
    const stack = await sharedStack();
    try {
      const digest = await candidate('onboard');
      const result = await (await startRun(env, { candidate: digest })).result();
      assert.equal(result.verdict, 'passed');
      for (const leg of readEvidence(result).legs) {
        assert.ok(leg.onboarding, `${leg.target} has onboarding facts`);
        assert.equal(
          leg.onboarding.installedDigest,
          digest.slice(digest.indexOf('@') + 1),
          'the candidate, not the approved digest, was installed',
        );
        assert.ok(leg.onboarding.onboardingDurationSeconds > 0);
        assert.ok(leg.onboarding.timeToActiveSeconds >= leg.onboarding.onboardingDurationSeconds);
        assert.equal(leg.smokeJob?.status, 'succeeded');
        assert.match(
          leg.smokeJob.message!,
          leg.vendor === 'nvidia' ? /NVIDIA A10G visible/ : /Radeon Pro V520\] visible/,
        );
        assert.equal(
          stack.controlPlane.store.findByName(leg.workflowId),
          undefined,
          `${leg.target}'s cluster is deleted`,
        );
      }
    } finally {
      await worker.stop();
    }
  });

  it('fails a leg whose cluster never turns active with ONBOARDING_TIMEOUT after the configured time, and cleans up', async () => {
    const env = testEnvironment('never-active', (e) => {
      e.timeouts.timeToActive = '3s';
    });
    writeFileSync(path.join(env.hostsDir, 'amd-v520', 'agent-behaviour'), 'never-ready\n');
    const worker = await startWorker(env.invariants);
    const stack = await sharedStack();
    try {
      const result = await (await startRun(env, { candidate: await candidate('never-active') })).result();
      assert.equal(result.verdict, 'failed');
      const amd = readEvidence(result).legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.failure?.code, 'ONBOARDING_TIMEOUT');
      const onboarding = amd.phases.find((p) => p.name === 'onboarding')!;
      assert.equal(onboarding.outcome, 'failed');
      assert.ok(
        onboarding.durationSeconds! >= 3 && onboarding.durationSeconds! < 10,
        `onboarding gave up after ${onboarding.durationSeconds}s`,
      );
      assert.equal(amd.phases.find((p) => p.name === 'smoke_job')!.outcome, 'skipped');
      assert.equal(
        stack.controlPlane.store.findByName(legWorkflowId(result.workflowId, 'amd-v520')),
        undefined,
        'cluster deleted',
      );
      for (const i of await instancesTagged(TAG.runId, result.workflowId))
        assert.equal(i.State?.Name, 'terminated');
    } finally {
      await worker.stop();
    }
  });

  it("fails a leg whose GPU smoke job fails with SMOKE_JOB_FAILED and the job's own message", async () => {
    const env = testEnvironment('smoke-fails');
    writeFileSync(path.join(env.hostsDir, 'nvidia-a10g', 'agent-behaviour'), 'smoke-fails\n');
    const worker = await startWorker(env.invariants);
    const stack = await sharedStack();
    try {
      const result = await (await startRun(env, { candidate: await candidate('smoke-fails') })).result();
      assert.equal(result.verdict, 'failed');
      assert.equal(result.promotion.status, 'not_promoted_failed');
      const nvidia = readEvidence(result).legs.find((l) => l.target === 'nvidia-a10g')!;
      assert.equal(nvidia.failure?.code, 'SMOKE_JOB_FAILED');
      assert.equal(nvidia.smokeJob?.status, 'failed');
      assert.match(nvidia.smokeJob.message!, /no CUDA-capable device/);
      assert.equal(stack.controlPlane.store.findByName(nvidia.workflowId), undefined, 'cluster deleted');
    } finally {
      await worker.stop();
    }
  });

  it('keeps the password and every token out of workflow history, worker logs and the evidence pack', async () => {
    const env = testEnvironment('secrets');
    const stack = await sharedStack();
    const worker = await startWorkerProcess(env.file, `${env.name}-worker`);
    try {
      const result = await (await startRun(env, { candidate: await candidate('secrets') })).result();
      assert.equal(result.verdict, 'passed');
      const client = await temporalClient();
      const histories = await Promise.all(
        [result.workflowId, ...result.legs.map((l) => l.workflowId)].map(async (id) =>
          decodedText(await client.workflow.getHandle(id).fetchHistory()),
        ),
      );
      // Every file under the evidence location, the attestations beside it included.
      const evidenceFiles = (readdirSync(env.evidenceDir, { recursive: true }) as string[])
        .map((f) => path.join(env.evidenceDir, f))
        .filter((f) => statSync(f).isFile())
        .map((f) => readFileSync(f, 'utf8'));
      const logs = readFileSync(path.join(suiteDir, `${env.name}-worker.log`), 'utf8');
      const places = {
        history: histories.join('\n'),
        evidence: evidenceFiles.join('\n'),
        'worker log': logs,
      };
      for (const [where, text] of Object.entries(places)) {
        assert.ok(!text.includes(stack.serviceUser.password), `the password is in the ${where}`);
        assert.doesNotMatch(
          text,
          /eyJ[A-Za-z0-9_-]{10,}\.eyJ/,
          `a JWT (IdToken or grant) is in the ${where}`,
        );
        assert.doesNotMatch(
          text,
          /\br[oa]t_[A-Za-z0-9_-]{16,}/,
          `an onboarding or agent token is in the ${where}`,
        );
      }
      assert.ok(
        places.history.includes('onboardingDurationSeconds'),
        'the history does hold the leg results',
      );
    } finally {
      await worker.stop('SIGKILL');
    }
  });
});

/** Every string and every payload of a history, payload bytes decoded as UTF-8 (they are JSON underneath). */
function decodedText(value: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') parts.push(v);
    else if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return parts.join('\n');
}
