import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';
import { temporalBinary } from '../../dev/stack/tools';
import { candidate } from '../support/aws';
import { testEnvironment } from '../support/invariants';
import { startRun } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';

function replay(args: string[]) {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts', 'replay-history.ts'), ...args],
    { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 120_000 },
  );
}

describe("replaying a run's history (docs/replay.md)", function () {
  let files: string[];

  before(async function () {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    const env = testEnvironment('replay');
    const worker = await startWorker(env.invariants);
    let result;
    try {
      result = await (await startRun(env, { candidate: await candidate('replay') })).result();
    } finally {
      await worker.stop();
    }
    // Exactly what the docs tell an operator to do: `temporal workflow show --output json`.
    files = [result.workflowId, result.legs[0]!.workflowId].map((id) => {
      const out = spawnSync(
        temporalBinary(),
        [
          'workflow',
          'show',
          '--workflow-id',
          id,
          '--output',
          'json',
          '--address',
          stack.temporal.address,
          '--namespace',
          stack.temporal.namespace,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(out.status, 0, out.stderr);
      const file = path.join(env.dir, `${id}.json`);
      writeFileSync(file, out.stdout);
      return file;
    });
  });

  it('replays a matrix run and its leg against the current workflow code', () => {
    const out = replay(files);
    assert.equal(out.status, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /2 replayed, 0 failed/);
  });

  it('reports a determinism violation when the workflow code changed incompatibly', () => {
    const out = replay([
      files[0]!,
      '--workflows',
      path.join(PROJECT_ROOT, 'test', 'fixtures', 'changed-workflows.ts'),
    ]);
    assert.equal(out.status, 1, out.stdout + out.stderr);
    assert.match(out.stdout, /FAIL .*DeterminismViolationError/);
  });

  it('refuses a file that is not a history', () => {
    const out = replay([path.join(PROJECT_ROOT, 'package.json')]);
    assert.equal(out.status, 2);
    assert.match(out.stderr, /is not a workflow history/);
  });
});
