import { strict as assert } from 'node:assert';
import { clusterRunId } from '../../src/domain/janitor';
import { activityOptions, attemptTimeout, boundedAttemptOptions } from '../../src/workflows/activity-options';

const retry = { initialInterval: 500, backoffCoefficient: 2, maximumInterval: 5_000, maximumAttempts: 4 };

describe("machines: attempt timeouts and the janitor's reading of cluster names", function () {
  it('gives an attempt a third of its budget, so a lost attempt is retried with budget to spare', function () {
    assert.equal(attemptTimeout(120_000), 40_000);
    assert.equal(attemptTimeout(2_000), 1_000, 'at least a second');
    assert.equal(attemptTimeout(500), 500, 'never more than the budget');
    assert.deepEqual(
      { ...activityOptions(30_000, retry), retry: undefined },
      { startToCloseTimeout: 10_000, scheduleToCloseTimeout: 30_000, retry: undefined },
      'a step that does not heartbeat gets a per-attempt timeout',
    );
    assert.equal(
      activityOptions(600_000, retry, 60_000).startToCloseTimeout,
      600_000,
      'a heartbeating wait is watched by its heartbeat',
    );
    const cleanup = boundedAttemptOptions(900_000, retry, 60_000);
    assert.deepEqual(
      [cleanup.startToCloseTimeout, cleanup.scheduleToCloseTimeout, cleanup.heartbeatTimeout],
      [300_000, 900_000, 60_000],
    );
    assert.equal(
      boundedAttemptOptions(30_000, retry, 60_000).heartbeatTimeout,
      10_000,
      'a heartbeat timeout never longer than the attempt',
    );
  });

  it("reads the run from a cluster named after one of the environment's legs, and nothing from any other name", function () {
    assert.equal(clusterRunId('sentinel-run-dev-1234-1--nvidia-a10g', 'dev'), 'sentinel-run-dev-1234-1');
    assert.equal(
      clusterRunId('sentinel-run-dev-a--b--amd-v520', 'dev'),
      'sentinel-run-dev-a--b',
      'the target follows the last --',
    );
    assert.equal(
      clusterRunId('sentinel-run-staging-1--nvidia-a10g', 'dev'),
      undefined,
      'another environment',
    );
    assert.equal(clusterRunId('sentinel-run-dev-1234-1', 'dev'), undefined, 'no target');
    assert.equal(clusterRunId('sentinel-run-dev---nvidia-a10g', 'dev'), undefined, 'no run id');
    assert.equal(clusterRunId('sentinel-run-dev-1--', 'dev'), undefined, 'empty target');
    assert.equal(clusterRunId('customer-prod--nvidia-a10g', 'dev'), undefined, "not Sentinel's");
  });
});
