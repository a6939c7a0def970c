import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { workflowBundle } from './support/worker';

const DIR = path.join(__dirname, 'histories');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

function load(file: string) {
  // <scenario>--<workflow type>--<URI-encoded workflow id>.json (see scripts/record-histories.ts)
  const [, , ...id] = file.replace(/\.json$/, '').split('--');
  return {
    workflowId: decodeURIComponent(id.join('--')),
    history: historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8'))),
  };
}

describe('replay of recorded histories (test/histories, npm run record-histories)', function () {
  it('has histories of every workflow type and of the runs that matter', () => {
    const types = new Set(files.map((f) => f.split('--')[1]));
    for (const type of [
      'gpuMatrixWorkflow',
      'hardwareLegWorkflow',
      'sentinelLaneWorkflow',
      'janitorWorkflow',
      'nightlyMatrixWorkflow',
    ]) {
      assert.ok(types.has(type), `no recorded history of ${type}`);
    }
    const scenarios = new Set(files.map((f) => f.split('--')[0]));
    for (const scenario of [
      'passed',
      'failed',
      'cancelled',
      'lane-busy',
      'promotion-conflict',
      'dry-run',
      'nightly',
      'host-setup',
      'host-setup-failed',
    ]) {
      assert.ok(scenarios.has(scenario), `no recorded ${scenario} run`);
    }
  });

  it('replays every history with the current workflow code', async () => {
    const results = Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, files.map(load));
    const failures: string[] = [];
    for await (const result of results) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.deepEqual(failures, []);
  });

  it('fails a workflow change that would replay differently', async () => {
    const changed = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/changed-workflows'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
    const passed = files.find((f) => f.startsWith('passed--gpuMatrixWorkflow'))!;
    const { history, workflowId } = load(passed);
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: changed }, history, workflowId),
      DeterminismViolationError,
    );
  });
});
