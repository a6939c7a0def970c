import { strict as assert } from 'node:assert';
import { EXIT } from '../../src/cli/exit-codes';
import { candidate, putParameter } from '../support/aws';
import { sentinel } from '../support/cli';
import { testEnvironment, type TestEnvironment } from '../support/invariants';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';

// `sentinel verify` after real runs: the chain from the pointer to each leg, and a reason for every broken link.
describe('sentinel verify: the signed proof behind a promotion', function () {
  this.timeout(300_000);
  // Made after the stack is up: an environment's settings pick up the stack's Cognito pool.
  let passedRun: TestEnvironment;
  let otherEnv: TestEnvironment;
  let promoted: string;

  before(async function () {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    passedRun = testEnvironment('verify-pass');
    otherEnv = testEnvironment('verify-other');
    const worker = await startWorker(passedRun.invariants);
    try {
      promoted = await candidate('verify-pass');
      const run = await sentinel(
        ['run', '--env', passedRun.name, '--digest', promoted, '--run-id', 'v1', '--json'],
        passedRun.file,
      );
      assert.equal(run.code, EXIT.PASSED, run.stderr);
      assert.equal(run.json.attestation.result, 'PASSED', 'the run reports its signed summary');
    } finally {
      await worker.stop();
    }
  });

  it('prints the chain for the approved digest: pointer, key, summary, every leg (exit 0)', async function () {
    const out = await sentinel(['verify', '--env', passedRun.name], passedRun.file);
    assert.equal(out.code, EXIT.PASSED, `${out.stdout}\n${out.stderr}`);
    assert.match(
      out.stdout,
      new RegExp(
        `pointer +/radix/${passedRun.name}/agent_digest_approved = ${promoted.replace(/[.@/]/g, '\\$&')}`,
      ),
    );
    assert.match(out.stdout, /summary +PASSED at .* by urn:radix:sentinel:gpu-matrix/);
    assert.match(out.stdout, /leg +ok +leg:nvidia-a10g PASSED/);
    assert.match(out.stdout, /leg +ok +leg:amd-v520 PASSED/);
    assert.match(out.stdout, /^verified: /m);
    const json = await sentinel(['verify', '--env', passedRun.name, '--json'], passedRun.file);
    assert.equal(json.json.verified, true);
    assert.equal(json.json.legs.length, 2);
  });

  it('refuses a pointer set by hand to a digest that never ran (exit 18, ATTESTATION_MISSING)', async function () {
    const byHand = await candidate('verify-by-hand');
    const env = testEnvironment('verify-hand');
    await putParameter(`/radix/${env.name}/agent_digest_approved`, byHand);
    const out = await sentinel(['verify', '--env', env.name, '--json'], env.file);
    assert.equal(out.code, EXIT.UNATTESTED, out.stderr);
    assert.equal(out.json.reason, 'ATTESTATION_MISSING');
    assert.match(out.stderr, /NOT VERIFIED \(ATTESTATION_MISSING\)/);
    assert.match(out.stderr, /remediation: /);
  });

  it("refuses another environment's summary for the same digest (ENVIRONMENT_MISMATCH)", async function () {
    const out = await sentinel(
      ['verify', '--env', otherEnv.name, '--digest', promoted, '--json'],
      otherEnv.file,
    );
    assert.equal(out.code, EXIT.UNATTESTED, out.stderr);
    assert.equal(out.json.reason, 'ENVIRONMENT_MISMATCH');
  });

  it('refuses an environment whose pointer is unset, and a malformed --digest, each with its own exit code', async function () {
    const env = testEnvironment('verify-unset');
    const unset = await sentinel(['verify', '--env', env.name, '--json'], env.file);
    assert.equal(unset.code, EXIT.UNATTESTED);
    assert.equal(unset.json.reason, 'POINTER_UNSET');
    const bad = await sentinel(
      ['verify', '--env', env.name, '--digest', 'ghcr.io/iangreen74/radix-cluster-agent:latest'],
      env.file,
    );
    assert.equal(bad.code, EXIT.REFUSED);
    assert.match(bad.stderr, /--digest: .*is a tag; pin it by digest/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  });
});
