import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { freePort } from '../../dev/stack/process';
import { telemetrySettings, TelemetrySettingsError } from '../../src/worker/telemetry';
import { candidate } from '../support/aws';
import { recordTool, testEnvironment } from '../support/invariants';
import { startRun } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorkerProcess } from '../support/worker';

async function scrape(address: string): Promise<string> {
  const res = await fetch(`http://${address}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** Value of the first sample of `name` whose labels include every given label. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('worker observability: Prometheus metrics and JSON logs', function () {
  it('validates SENTINEL_METRICS_ADDRESS and SENTINEL_LOG_LEVEL', () => {
    assert.deepEqual(telemetrySettings({}), { logLevel: 'INFO' });
    assert.deepEqual(
      telemetrySettings({ SENTINEL_METRICS_ADDRESS: '0.0.0.0:9464', SENTINEL_LOG_LEVEL: 'debug' }),
      { metricsAddress: '0.0.0.0:9464', logLevel: 'DEBUG' },
    );
    assert.throws(() => telemetrySettings({ SENTINEL_METRICS_ADDRESS: '9464' }), TelemetrySettingsError);
    assert.throws(
      () => telemetrySettings({ SENTINEL_METRICS_ADDRESS: 'host:99999' }),
      TelemetrySettingsError,
    );
    assert.throws(() => telemetrySettings({ SENTINEL_LOG_LEVEL: 'LOUD' }), /SENTINEL_LOG_LEVEL=LOUD/);
  });

  it('a real worker process serves the metrics that matter and logs one JSON object per line', async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    const env = testEnvironment('metrics');
    // The AMD leg takes a few seconds to find a broken driver: legs are running while we look, and an activity fails.
    recordTool(env.hostsDir, 'amd-v520', 'rocm-smi', {
      cmd: 'rocm-smi --showproductname',
      out: 'ERROR:root:Driver not initialized (amdgpu not found in modules)\n',
      exit: 0,
      delaySeconds: 8,
    });
    const address = `127.0.0.1:${await freePort()}`;
    const worker = await startWorkerProcess(env.file, 'metrics-worker', {
      SENTINEL_METRICS_ADDRESS: address,
      SENTINEL_LOG_LEVEL: 'INFO',
    });
    try {
      const handle = await startRun(env, { candidate: await candidate('metrics') });
      const queue = { task_queue: env.invariants.temporal.taskQueue };
      let legsSeen = 0;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && legsSeen < 1) {
        legsSeen = sample(await scrape(address), 'sentinel_legs_running', queue) ?? 0;
        if (legsSeen < 1) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(legsSeen >= 1, 'sentinel_legs_running counted the open legs of the run');
      const result = await handle.result();
      assert.equal(result.verdict, 'failed');

      const metrics = await scrape(address);
      assert.ok(
        sample(metrics, 'temporal_activity_execution_failed', { activity_type: 'detectGpu', ...queue })! >= 1,
        'the failed GPU check is counted',
      );
      assert.ok(
        sample(metrics, 'temporal_activity_schedule_to_start_latency_count', queue)! >= 10,
        'activity schedule-to-start latency, per task queue',
      );
      assert.ok(sample(metrics, 'temporal_workflow_task_schedule_to_start_latency_count', queue)! >= 1);
      assert.ok(
        sample(metrics, 'temporal_worker_task_slots_available', {
          worker_type: 'ActivityWorker',
          ...queue,
        })! > 0,
      );
      assert.ok(
        sample(metrics, 'temporal_workflow_completed', { workflow_type: 'hardwareLegWorkflow', ...queue })! >=
          2,
      );
      assert.notEqual(sample(metrics, 'sentinel_runs_running', queue), undefined);

      // Log lines reach the file through the SDK's log buffer and a pipe: give them a moment.
      const logged = Date.now() + 10_000;
      while (
        Date.now() < logged &&
        !readFileSync(worker.logFile, 'utf8').includes('"activityType":"detectGpu"')
      )
        await new Promise((r) => setTimeout(r, 200));
      const lines = readFileSync(worker.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
      const entries = lines.map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`log line is not JSON: ${line}`);
        }
      });
      for (const e of entries) {
        assert.match(String(e.ts), /^\d{4}-\d\d-\d\dT/);
        assert.match(String(e.level), /^(trace|debug|info|warn|error)$/);
        assert.equal(typeof e.message, 'string');
      }
      const started = entries.find((e) => e.message === 'sentinel worker started');
      assert.equal(started?.taskQueue, env.invariants.temporal.taskQueue);
      assert.equal(started?.metrics, `http://${address}/metrics`);
      assert.ok(
        entries.some((e) => e.activityType === 'detectGpu' && e.level === 'warn'),
        'the activity failure is logged with its activity type',
      );
    } finally {
      await worker.stop('SIGTERM');
    }
  });
});
