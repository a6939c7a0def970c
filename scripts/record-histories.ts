/**
 * Records the histories of representative real runs into test/histories/,
 * for the replay test (test/replay.test.ts): whatever change to a workflow
 * would make one of these histories replay differently is non-deterministic
 * and fails the suite. Run `npm run record-histories` after adding a
 * workflow or a deliberate, versioned (patched) change; commit the files.
 *
 * Each file is a bare history as `temporal workflow show --output json`
 * prints it, so a history fetched from any cluster can be dropped in too,
 * named <scenario>--<workflow type>--<URI-encoded workflow id>.json.
 */
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/config/load';
import { laneWorkflowId, scheduleId } from '../src/temporal/definitions';
import { candidate, putParameter } from '../test/support/aws';
import { slowGpuDetect, recordTool, testEnvironment } from '../test/support/invariants';
import { legReachesPhase, startRun, temporalClient } from '../test/support/runs';
import { sharedStack, stopSharedStack } from '../test/support/stack';
import { eventually } from '../test/support/wait';
import { startWorker, stopAllWorkers } from '../test/support/worker';

const OUT = path.join(PROJECT_ROOT, 'test', 'histories');

async function save(scenario: string, workflowId: string, runId?: string): Promise<void> {
  const client = await temporalClient();
  const handle = client.workflow.getHandle(workflowId, runId);
  const description = await handle.describe();
  const history = await handle.fetchHistory();
  // The workflow id is part of what replays (children are named after it): kept, URI-encoded, in the name.
  const file = path.join(OUT, `${scenario}--${description.type}--${encodeURIComponent(workflowId)}.json`);
  writeFileSync(file, `${historyToJSON(history)}\n`);
  console.log(`  ${path.relative(PROJECT_ROOT, file)} (${history.events?.length ?? 0} events)`);
}

async function saveRun(
  scenario: string,
  result: { workflowId: string; legs: Array<{ workflowId: string }>; janitor?: { workflowId?: string } },
) {
  await save(scenario, result.workflowId);
  for (const leg of result.legs) await save(scenario, leg.workflowId);
  if (result.janitor?.workflowId) await save(scenario, result.janitor.workflowId);
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const stack = await sharedStack();
  await stack.bootstrap('local');

  console.log('passed run, with the lane it went through');
  const pass = testEnvironment('hist-pass');
  let worker = await startWorker(pass.invariants);
  const passed = await (await startRun(pass, { candidate: await candidate('hist-pass') })).result();
  await saveRun('passed', passed);
  await eventually('the lane to close', async () =>
    (await (await temporalClient()).workflow.getHandle(laneWorkflowId(pass.name)).describe()).status.name ===
    'COMPLETED'
      ? true
      : undefined,
  );
  await save('passed', laneWorkflowId(pass.name));
  await worker.stop();

  console.log('failed AMD leg');
  const failEnv = testEnvironment('hist-fail');
  recordTool(failEnv.hostsDir, 'amd-v520', 'rocm-smi', {
    cmd: 'rocm-smi --showproductname',
    out: 'ERROR:root:Driver not initialized (amdgpu not found in modules)\n',
  });
  worker = await startWorker(failEnv.invariants);
  await saveRun(
    'failed',
    await (await startRun(failEnv, { candidate: await candidate('hist-fail') })).result(),
  );
  await worker.stop();

  console.log(
    'host setup: a passed run with every leg prepared, and an AMD leg whose package mirror is out of reach',
  );
  const setupEnv = testEnvironment('hist-setup');
  worker = await startWorker(setupEnv.invariants);
  await saveRun(
    'host-setup',
    await (await startRun(setupEnv, { candidate: await candidate('hist-setup') })).result(),
  );
  await worker.stop();
  const mirrorEnv = testEnvironment('hist-mirror');
  writeFileSync(path.join(mirrorEnv.hostsDir, 'amd-v520', 'mirror-unreachable'), '');
  worker = await startWorker(mirrorEnv.invariants);
  await saveRun(
    'host-setup-failed',
    await (await startRun(mirrorEnv, { candidate: await candidate('hist-mirror') })).result(),
  );
  await worker.stop();

  console.log('cancelled run');
  const cancelEnv = testEnvironment('hist-cancel');
  slowGpuDetect(cancelEnv.hostsDir, 'amd-v520', 60);
  worker = await startWorker(cancelEnv.invariants);
  const cancelled = await startRun(cancelEnv, { candidate: await candidate('hist-cancel') });
  await legReachesPhase(cancelled.workflowId, 'amd-v520', 'gpu_detect');
  await cancelled.cancel();
  await saveRun('cancelled', await cancelled.result());

  console.log('lane busy, then promotion conflict');
  const busyEnv = testEnvironment('hist-busy');
  slowGpuDetect(busyEnv.hostsDir, 'nvidia-a10g', 3);
  await worker.stop();
  worker = await startWorker(busyEnv.invariants);
  const parameter = `/radix/${busyEnv.name}/agent_digest_approved`;
  await putParameter(parameter, await candidate('hist-before'));
  const holder = await startRun(busyEnv, { candidate: await candidate('hist-holder') });
  await legReachesPhase(holder.workflowId, 'nvidia-a10g', 'gpu_detect');
  const refused = await startRun(busyEnv, { candidate: await candidate('hist-refused'), queue: 'refuse' });
  await saveRun('lane-busy', await refused.result());
  await putParameter(parameter, await candidate('hist-meanwhile'));
  await saveRun('promotion-conflict', await holder.result());
  await worker.stop();

  console.log('dry run, nightly run, janitor');
  const nightlyEnv = testEnvironment('hist-nightly');
  worker = await startWorker(nightlyEnv.invariants);
  await saveRun(
    'dry-run',
    await (await startRun(nightlyEnv, { candidate: await candidate('hist-dry'), dryRun: true })).result(),
  );
  await candidate('hist-nightly', undefined, {
    tag: 'latest',
    revision: '0123456789abcdef0123456789abcdef01234567',
  });
  const client = await temporalClient();
  const nightly = await client.workflow.start('nightlyMatrixWorkflow', {
    workflowId: `${scheduleId('nightly', nightlyEnv.name)}-2026-11-25T10:00:00Z`,
    taskQueue: nightlyEnv.invariants.temporal.taskQueue,
    args: [{ environment: nightlyEnv.name }],
  });
  const nightlyResult = (await nightly.result()) as {
    workflowId: string;
    legs: Array<{ workflowId: string }>;
  };
  await save('nightly', nightly.workflowId);
  await saveRun('nightly', nightlyResult);
  const janitor = await client.workflow.start('janitorWorkflow', {
    workflowId: `sentinel-janitor-${nightlyEnv.name}-recorded`,
    taskQueue: nightlyEnv.invariants.temporal.taskQueue,
    args: [{ environment: nightlyEnv.name, dryRun: false }],
  });
  await janitor.result();
  await save('janitor', janitor.workflowId);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAllWorkers();
    await stopSharedStack();
  });
