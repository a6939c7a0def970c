import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT, exitCodeForVerdict } from '../../src/cli/exit-codes';
import { candidate } from '../support/aws';
import { sentinel } from '../support/cli';
import { recordTool, slowGpuDetect, testEnvironment } from '../support/invariants';
import { legReachesPhase, startRun } from '../support/runs';
import { sharedStack, suiteDir } from '../support/stack';
import { startWorker } from '../support/worker';

describe('the sentinel command', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it("runs a matrix to its verdict, showing each leg's phase and the Web UI link; --json prints one result (exit 0)", async () => {
    const env = testEnvironment('cli-pass');
    // The NVIDIA leg ends well after the AMD one (host setup included), so the AMD leg's end is shown before the verdict.
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 15);
    const worker = await startWorker(env.invariants);
    try {
      const digest = await candidate('cli-pass');
      const run = await sentinel(
        ['run', '--env', env.name, '--digest', digest, '--run-id', 'cli-1', '--json'],
        env.file,
        { TEMPORAL_UI_URL: 'http://ui.example' },
      );
      assert.equal(run.code, EXIT.PASSED, run.stderr);
      const result = JSON.parse(run.stdout);
      assert.equal(result.verdict, 'passed');
      assert.equal(result.candidate, digest);
      assert.equal(result.workflowId, `sentinel-run-${env.name}-cli-1`);
      assert.match(
        result.url,
        new RegExp(`^http://ui.example/namespaces/default/workflows/sentinel-run-${env.name}-cli-1/`),
      );
      assert.match(run.stderr, /started sentinel-run-.*\[SIMULATED hosts\]/);
      assert.match(run.stderr, /nvidia-a10g: gpu_detect/);
      assert.match(run.stderr, /amd-v520: host_setup/);
      assert.match(run.stderr, /amd-v520: done: passed/);
      assert.match(run.stderr, /verdict: PASSED \[SIMULATED\]/);
      assert.match(run.stderr, /evidence: .*\.json/);
    } finally {
      await worker.stop();
    }
  });

  it('exits 1 on a failed leg, printing the failure code and its remediation', async () => {
    const env = testEnvironment('cli-fail');
    recordTool(env.hostsDir, 'amd-v520', 'rocm-smi', {
      cmd: 'rocm-smi --showproductname',
      out: 'ERROR:root:Driver not initialized (amdgpu not found in modules)\n',
    });
    const worker = await startWorker(env.invariants);
    try {
      const run = await sentinel(
        ['run', '--env', env.name, '--digest', await candidate('cli-fail')],
        env.file,
      );
      assert.equal(run.code, EXIT.FAILED, run.stderr);
      assert.match(run.stdout, /FAIL {2}amd-v520 .*GPU_DRIVER_ERROR/);
      assert.match(run.stdout, /remediation: The kernel module is not loaded/);
      assert.match(run.stdout, /promotion: not_promoted_failed/);
    } finally {
      await worker.stop();
    }
  });

  it('refuses with exit 4 and names the holder when --no-queue meets a busy lane', async () => {
    const env = testEnvironment('cli-busy');
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 30);
    const worker = await startWorker(env.invariants);
    try {
      const holder = await startRun(env, { candidate: await candidate('cli-busy-holder') });
      await legReachesPhase(holder.workflowId, 'nvidia-a10g', 'gpu_detect');
      const run = await sentinel(
        ['run', '--env', env.name, '--digest', await candidate('cli-busy'), '--no-queue', '--json'],
        env.file,
      );
      assert.equal(run.code, EXIT.LANE_BUSY, run.stderr);
      const result = JSON.parse(run.stdout);
      assert.equal(result.verdict, 'lane_busy');
      assert.equal(result.failure.code, 'LANE_BUSY');
      assert.match(result.failure.detail, new RegExp(`held by ${holder.workflowId}`));
      // Let the holder clean up (its legs' cleanup needs the worker) before the worker goes.
      await holder.cancel();
      assert.equal((await holder.result()).verdict, 'cancelled');
    } finally {
      await worker.stop();
    }
  });

  it('refuses bad input before starting anything, with distinct exit codes', async () => {
    const env = testEnvironment('cli-input');
    const tagged = await sentinel(
      ['run', '--env', env.name, '--digest', 'ghcr.io/iangreen74/radix-cluster-agent:latest'],
      env.file,
    );
    assert.equal(tagged.code, EXIT.REFUSED);
    assert.match(tagged.stderr, /--digest refused: .* is a tag; pin it by digest/);

    const other = await sentinel(
      ['run', '--env', env.name, '--digest', `ghcr.io/evil/agent@sha256:${'a'.repeat(64)}`],
      env.file,
    );
    assert.equal(other.code, EXIT.REFUSED);
    assert.match(other.stderr, /not of the configured repository ghcr.io\/iangreen74\/radix-cluster-agent/);

    const unknown = await sentinel(['run', '--env', 'prod', '--digest', await candidate('x')], env.file);
    assert.equal(unknown.code, EXIT.REFUSED);
    assert.match(unknown.stderr, /unknown environment "prod"/);

    const broken = path.join(suiteDir, 'broken-invariants.yaml');
    writeFileSync(broken, 'schemaVersion: 1\ntemporal: { taskQueue: q }\nenvironments: {}\n');
    const config = await sentinel([
      '--invariants',
      broken,
      'run',
      '--env',
      'dev',
      '--digest',
      await candidate('x'),
    ]);
    assert.equal(config.code, EXIT.CONFIG_INVALID);
    assert.match(config.stderr, /environments.dev: the dev environment is required/);

    const unreachable = await sentinel(
      ['run', '--env', env.name, '--digest', await candidate('x')],
      env.file,
      { TEMPORAL_ADDRESS: '127.0.0.1:1' },
    );
    assert.equal(unreachable.code, EXIT.TEMPORAL_UNREACHABLE);
    assert.match(unreachable.stderr, /cannot reach Temporal at 127.0.0.1:1/);

    const usage = await sentinel(['run', '--env', env.name]);
    assert.equal(usage.code, EXIT.REFUSED);
    assert.match(usage.stderr, /required option '--digest <image>'/);
  });

  it('maps every verdict to its documented exit code', () => {
    assert.equal(exitCodeForVerdict('passed'), 0);
    assert.equal(exitCodeForVerdict('failed'), 1);
    assert.equal(exitCodeForVerdict('lane_busy'), 4);
    assert.equal(exitCodeForVerdict('promotion_conflict'), 5);
    assert.equal(exitCodeForVerdict('cancelled'), 7);
    assert.equal(exitCodeForVerdict('promotion_stale'), 12);
    assert.equal(exitCodeForVerdict('promotion_overwritten'), 13);
  });
});
