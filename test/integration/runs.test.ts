import { strict as assert } from 'node:assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TAG } from '../../src/machines/tags';
import { EXIT } from '../../src/cli/exit-codes';
import { legWorkflowId } from '../../src/temporal/definitions';
import { candidate, instancesTagged } from '../support/aws';
import { jsonOf, sentinel } from '../support/cli';
import { recordTool, slowGpuDetect, testEnvironment, type TestEnvironment } from '../support/invariants';
import { legReachesPhase, startRun } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';

const UI = { TEMPORAL_UI_URL: 'http://ui.example' };

function breakAmdDriver(env: TestEnvironment): void {
  recordTool(env.hostsDir, 'amd-v520', 'rocm-smi', {
    cmd: 'rocm-smi --showproductname',
    out: 'ERROR:root:Driver not initialized (amdgpu not found in modules)\n',
  });
}

describe('sentinel runs: list, show, watch, cancel', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('lists runs newest first with their targets, filtered by environment, verdict, age and count; shows a passed and a failed run', async () => {
    const env = testEnvironment('runs-list');
    const other = testEnvironment('runs-list-other');
    const worker = await startWorker(env.invariants);
    const otherWorker = await startWorker(other.invariants);
    // The first run takes 20 s or more, so the two runs start far enough apart for an age to tell them apart (below).
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 20);
    try {
      const passed = await startRun(env, { candidate: await candidate('runs-list-pass'), ciRunId: 'pass' });
      assert.equal((await passed.result()).verdict, 'passed');
      rmSync(path.join(env.hostsDir, 'nvidia-a10g', 'recordings', 'nvidia-smi', 'query-gpu.delay'));
      breakAmdDriver(env);
      const failed = await startRun(env, { candidate: await candidate('runs-list-fail'), ciRunId: 'fail' });
      assert.equal((await failed.result()).verdict, 'failed');
      const elsewhere = await startRun(other, {
        candidate: await candidate('runs-list-other'),
        ciRunId: 'dry',
        dryRun: true,
      });
      await elsewhere.result();

      const all = await sentinel(['runs', 'list', '--env', env.name, '--json'], env.file);
      assert.equal(all.code, EXIT.PASSED, all.stderr);
      const rows = jsonOf(all).runs;
      assert.deepEqual(
        rows.map((r: { workflowId: string }) => r.workflowId),
        [failed.workflowId, passed.workflowId],
        'newest first, this environment only',
      );
      const [f, p] = rows;
      assert.equal(p.verdict, 'passed');
      assert.equal(f.verdict, 'failed');
      assert.equal(p.environment, env.name);
      assert.equal(p.trigger, 'cli');
      assert.match(p.candidateDigest, /^sha256:[0-9a-f]{64}$/);
      assert.ok(p.durationSeconds > 0);
      assert.deepEqual(p.targets, [
        { target: 'amd-v520', outcome: 'passed' },
        { target: 'nvidia-a10g', outcome: 'passed' },
      ]);
      assert.deepEqual(f.targets, [
        { target: 'amd-v520', outcome: 'failed' },
        { target: 'nvidia-a10g', outcome: 'passed' },
      ]);

      const text = await sentinel(['runs', 'list', '--env', env.name], env.file);
      assert.equal(text.code, EXIT.PASSED, text.stderr);
      assert.match(
        text.stdout,
        new RegExp(
          `${env.name} +${p.candidateDigest.slice(7, 19)} +cli +passed .* amd-v520=passed nvidia-a10g=passed +${passed.workflowId}`,
        ),
      );

      const everywhere = jsonOf(await sentinel(['runs', 'list', '--limit', '500', '--json'], env.file)).runs;
      assert.ok(
        everywhere.some((r: { workflowId: string }) => r.workflowId === elsewhere.workflowId),
        'without --env, every environment',
      );
      const byVerdict = jsonOf(
        await sentinel(['runs', 'list', '--env', env.name, '--verdict', 'failed', '--json'], env.file),
      ).runs;
      assert.deepEqual(
        byVerdict.map((r: { workflowId: string }) => r.workflowId),
        [failed.workflowId],
      );
      const limited = jsonOf(
        await sentinel(['runs', 'list', '--env', env.name, '--limit', '1', '--json'], env.file),
      ).runs;
      assert.deepEqual(
        limited.map((r: { workflowId: string }) => r.workflowId),
        [failed.workflowId],
      );
      // An age whose start lies halfway between the two runs' starts: it takes in the failed run only, however long the command takes to start (< 10 s).
      const midpoint = (Date.parse(p.startedAt) + Date.parse(f.startedAt)) / 2;
      assert.ok(
        Date.parse(f.startedAt) - Date.parse(p.startedAt) >= 20_000,
        'the runs started 20 s or more apart',
      );
      const sinceFailed = Math.round((Date.now() - midpoint) / 1000);
      const recent = jsonOf(
        await sentinel(['runs', 'list', '--env', env.name, '--since', `${sinceFailed}s`, '--json'], env.file),
      ).runs;
      assert.deepEqual(
        recent.map((r: { workflowId: string }) => r.workflowId),
        [failed.workflowId],
      );

      const showPassed = await sentinel(['runs', 'show', passed.workflowId], env.file, UI);
      assert.equal(showPassed.code, EXIT.PASSED, showPassed.stderr);
      assert.match(showPassed.stdout, /verdict: PASSED \[SIMULATED\]/);
      assert.match(showPassed.stdout, /PASSED +nvidia-a10g \(nvidia\) i-[0-9a-f]+/);
      assert.match(showPassed.stdout, /gpu_detect +passed +[\d.]+m?s/);
      assert.match(
        showPassed.stdout,
        new RegExp(`web ui: http://ui.example/namespaces/default/workflows/${passed.workflowId}/`),
      );

      // By run id and environment, as a user who knows only the CI run id would.
      const showFailed = await sentinel(['runs', 'show', 'fail', '--env', env.name, '--json'], env.file);
      assert.equal(showFailed.code, EXIT.PASSED, showFailed.stderr);
      const shown = jsonOf(showFailed);
      assert.equal(shown.workflowId, failed.workflowId);
      assert.equal(shown.evidence.verdict, 'failed');
      assert.match(showFailed.stderr, /FAILED +amd-v520/);
      assert.match(showFailed.stderr, /GPU_DRIVER_ERROR/);
      assert.match(showFailed.stderr, /remediation: The kernel module is not loaded/);
    } finally {
      await worker.stop();
      await otherWorker.stop();
    }
  });

  it("watch attaches to a run started elsewhere, shows its legs live and exits with its verdict's code", async () => {
    const env = testEnvironment('runs-watch');
    breakAmdDriver(env);
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 40);
    const worker = await startWorker(env.invariants);
    try {
      const handle = await startRun(env, { candidate: await candidate('runs-watch') });
      await legReachesPhase(handle.workflowId, 'nvidia-a10g', 'gpu_detect');

      const live = await sentinel(['runs', 'show', handle.workflowId, '--json'], env.file);
      assert.equal(live.code, EXIT.PASSED, live.stderr);
      assert.equal(jsonOf(live).status, 'running');
      assert.match(live.stderr, /stage: running legs/);
      assert.match(live.stderr, /nvidia-a10g: gpu_detect/);

      const watch = await sentinel(['runs', 'watch', handle.workflowId], env.file);
      assert.equal(watch.code, EXIT.FAILED, watch.stderr);
      assert.match(watch.stdout, /watching /);
      assert.match(watch.stdout, /\] nvidia-a10g: gpu_detect/, 'the leg still running is shown live');
      assert.match(watch.stdout, /\] amd-v520: done: failed/);
      assert.match(watch.stdout, /PASS {2}nvidia-a10g/);
      assert.match(watch.stdout, /verdict: FAILED/);
      assert.match(watch.stdout, /FAIL {2}amd-v520 .*GPU_DRIVER_ERROR/);

      const again = await sentinel(['runs', 'watch', handle.workflowId], env.file);
      assert.equal(again.code, EXIT.FAILED, "a finished run: its verdict's code at once");
      assert.match(again.stdout, /has already finished/);
    } finally {
      await worker.stop();
    }
  });

  it("cancel waits for the legs' cleanup: every instance terminated, every test cluster deleted; the reason is shown by show", async () => {
    const env = testEnvironment('runs-cancel', (e) => {
      e.timeouts.timeToActive = '5m';
    });
    // The AMD leg's cluster never turns active, so the cancel finds it onboarding, with a cluster to delete.
    writeFileSync(path.join(env.hostsDir, 'amd-v520', 'agent-behaviour'), 'never-ready\n');
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 120);
    const worker = await startWorker(env.invariants);
    const stack = await sharedStack();
    try {
      const handle = await startRun(env, { candidate: await candidate('runs-cancel') });
      await legReachesPhase(handle.workflowId, 'amd-v520', 'onboarding', 60_000);
      await legReachesPhase(handle.workflowId, 'nvidia-a10g', 'gpu_detect', 60_000);
      const amdLeg = legWorkflowId(handle.workflowId, 'amd-v520');
      assert.ok(
        stack.controlPlane.store.findByName(amdLeg),
        'the AMD leg has a test cluster before the cancel',
      );

      const cancel = await sentinel(
        ['runs', 'cancel', handle.workflowId, '--reason', 'candidate withdrawn', '--json'],
        env.file,
      );
      assert.equal(cancel.code, EXIT.CANCELLED, cancel.stderr);
      const out = jsonOf(cancel);
      assert.equal(out.verdict, 'cancelled');
      assert.equal(out.reason, 'candidate withdrawn');
      const amd = out.cleaned.find((c: { target: string }) => c.target === 'amd-v520');
      const nvidia = out.cleaned.find((c: { target: string }) => c.target === 'nvidia-a10g');
      assert.match(amd.instanceTerminated, /^i-/);
      assert.equal(amd.clusterDeleted, amdLeg);
      assert.match(nvidia.instanceTerminated, /^i-/);
      assert.equal(nvidia.clusterDeleted, undefined, 'the NVIDIA leg never asked for a cluster');
      assert.match(cancel.stderr, /amd-v520: instance i-[0-9a-f]+ terminated, cluster .* deleted/);

      // Cleanup had finished when the command returned: nothing to wait for here.
      const instances = await instancesTagged(TAG.runId, handle.workflowId);
      assert.equal(instances.length, 2);
      for (const i of instances) assert.equal(i.State?.Name, 'terminated', `${i.InstanceId} is terminated`);
      for (const target of ['amd-v520', 'nvidia-a10g']) {
        assert.equal(
          stack.controlPlane.store.findByName(legWorkflowId(handle.workflowId, target)),
          undefined,
          `${target} has no test cluster left`,
        );
      }

      const show = await sentinel(['runs', 'show', handle.workflowId], env.file);
      assert.equal(show.code, EXIT.PASSED, show.stderr);
      assert.match(show.stdout, /cancel requested .* by sentinel runs cancel .*: candidate withdrawn/);
      assert.match(
        show.stdout,
        /cancelled by sentinel runs cancel \(.*\): candidate withdrawn/,
        'from the evidence pack',
      );
      const pack = JSON.parse(readFileSync(out.evidence.json, 'utf8'));
      assert.deepEqual(pack.cancellation, { reason: 'candidate withdrawn', requestedBy: out.identity });
      assert.match(show.stdout, /verdict: CANCELLED/);
      assert.match(show.stdout, /CANCELLED +amd-v520/);
      assert.match(show.stdout, /onboarding +cancelled/);

      const twice = await sentinel(['runs', 'cancel', handle.workflowId], env.file);
      assert.equal(twice.code, EXIT.REFUSED);
      assert.match(twice.stderr, /is not running \(completed\): there is nothing to cancel/);
    } finally {
      await worker.stop();
    }
  });

  it('refuses bad input with a clear message and a distinct exit code, never a stack trace', async () => {
    const env = testEnvironment('runs-input');
    const cases: Array<[string[], number, RegExp, NodeJS.ProcessEnv?]> = [
      [
        ['runs', 'show', 'sentinel-run-nowhere-42'],
        EXIT.NOT_FOUND,
        /no run "sentinel-run-nowhere-42" in namespace default .*sentinel runs list shows the runs/,
      ],
      [
        ['runs', 'watch', '42', '--env', env.name],
        EXIT.NOT_FOUND,
        new RegExp(`no run "42" in environment ${env.name}`),
      ],
      [['runs', 'cancel', 'nope', '--env', env.name], EXIT.NOT_FOUND, /no run "nope"/],
      [
        ['runs', 'list', '--since', '7 days'],
        EXIT.REFUSED,
        /--since "7 days" is not an age: give a number and a unit \(m, h or d\), e.g. .*7d/,
      ],
      [['runs', 'list', '--since', '0d'], EXIT.REFUSED, /--since "0d" is not an age/],
      [['runs', 'list', '--limit', 'ten'], EXIT.REFUSED, /--limit "ten" is not a count/],
      [['runs', 'list', '--env', 'prod'], EXIT.REFUSED, /unknown environment "prod"/],
      [['runs', 'list', '--verdict', 'green'], EXIT.REFUSED, /argument 'green' is invalid/],
      [
        ['runs', 'list'],
        EXIT.TEMPORAL_UNREACHABLE,
        /cannot reach Temporal at 127.0.0.1:1/,
        { TEMPORAL_ADDRESS: '127.0.0.1:1' },
      ],
    ];
    for (const [args, code, message, extra] of cases) {
      const run = await sentinel([...args, '--json'], env.file, extra);
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
      if (code !== EXIT.REFUSED || !/argument/.test(message.source))
        assert.equal(jsonOf(run).exitCode, code, `${args.join(' ')} --json says its exit code`);
    }
  });
});
