import { strict as assert } from 'node:assert';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { TAG } from '../../src/machines/tags';
import { runPlanActivities } from '../../src/activities/run-plan';
import { EXIT } from '../../src/cli/exit-codes';
import { runWorkflowId } from '../../src/temporal/definitions';
import { candidate, instancesTagged, parameterValue } from '../support/aws';
import { sentinel } from '../support/cli';
import { testEnvironment, type TestEnvironment } from '../support/invariants';
import { startRun, temporalClient } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorkerProcess } from '../support/worker';

/** The variables of a process whose only emulated AWS service is EC2 (what the old check accepted). */
function onlyEc2Emulated(moto: string): NodeJS.ProcessEnv {
  return { AWS_ENDPOINT_URL: '', AWS_ENDPOINT_URL_EC2: moto };
}

async function prepare(env: TestEnvironment, vars: NodeJS.ProcessEnv, digest: string) {
  return runPlanActivities({ invariants: env.invariants }, vars).prepareRun({
    environment: env.name,
    candidate: digest,
    gitSha: 'unknown',
    ciRunId: 'sandbox',
    dryRun: false,
    queue: 'wait',
    trigger: 'cli',
  });
}

function refusal(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'SANDBOX_NOT_EMULATED');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('a sandbox run never touches real AWS: every service it uses must be emulated', function () {
  let moto: string;
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    moto = stack.moto.endpoint;
  });

  it('sentinel run refuses with exit 16, naming the missing variable, and starts nothing when only AWS_ENDPOINT_URL_EC2 is set', async () => {
    const env = testEnvironment('sandbox-cli');
    const digest = await candidate('sandbox-cli');
    const client = await temporalClient();
    const workflowId = runWorkflowId(env.name, 'only-ec2');
    try {
      const run = await sentinel(
        ['run', '--env', env.name, '--digest', digest, '--run-id', 'only-ec2', '--no-wait'],
        env.file,
        onlyEc2Emulated(moto),
      );
      assert.equal(run.code, EXIT.SANDBOX_NOT_EMULATED, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stderr, /sentinel: .* is a sandbox environment .* nothing was started/);
      assert.match(
        run.stderr,
        /- AWS_ENDPOINT_URL_SSM \(or AWS_ENDPOINT_URL\) is not set: SSM \(the approved pointer \/radix\/.*\/agent_digest_approved\) would be real AWS/,
      );
      assert.doesNotMatch(run.stderr, /AWS_ENDPOINT_URL_EC2 \(or/, 'EC2 is emulated');
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
      await assert.rejects(client.workflow.getHandle(workflowId).describe(), WorkflowNotFoundError);

      const real = await sentinel(['run', '--env', env.name, '--digest', digest, '--no-wait'], env.file, {
        AWS_ENDPOINT_URL_SSM: 'https://ssm.us-west-2.amazonaws.com',
      });
      assert.equal(real.code, EXIT.SANDBOX_NOT_EMULATED, real.stderr);
      assert.match(
        real.stderr,
        /AWS_ENDPOINT_URL_SSM=https:\/\/ssm.us-west-2.amazonaws.com is AWS itself, not an emulator/,
      );
    } finally {
      await client.workflow
        .getHandle(workflowId)
        .terminate('test cleanup')
        .catch(() => undefined);
    }
  });

  it('the worker refuses too (prepareRun): every service of the run, S3 evidence and Cognito included, whatever started the run', async () => {
    const env = testEnvironment('sandbox-worker');
    const digest = await candidate('sandbox-worker');
    await assert.rejects(
      prepare(env, onlyEc2Emulated(moto), digest),
      refusal(/AWS_ENDPOINT_URL_SSM \(or AWS_ENDPOINT_URL\) is not set: SSM/),
    );
    await assert.rejects(
      prepare(env, { AWS_ENDPOINT_URL_SSM: moto, AWS_ENDPOINT_URL_EC2: moto }, digest),
      refusal(/AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER .* Cognito/),
    );
    await assert.rejects(
      prepare(env, { AWS_ENDPOINT_URL: moto, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }, digest),
      refusal(/AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true/),
    );
    const plan = await prepare(env, { AWS_ENDPOINT_URL: moto }, digest);
    assert.equal(plan.simulated, true);
    // A per-service variable wins over AWS_ENDPOINT_URL, as in the SDK: one real service is enough to refuse.
    await assert.rejects(
      prepare(
        env,
        { AWS_ENDPOINT_URL: moto, AWS_ENDPOINT_URL_SSM: 'https://ssm.us-west-2.amazonaws.com' },
        digest,
      ),
      refusal(/is AWS itself/),
    );

    const s3 = testEnvironment('sandbox-s3', (e) => {
      e.evidence.location = 's3://sentinel-sandbox-evidence/runs/';
    });
    await assert.rejects(
      prepare(
        s3,
        {
          AWS_ENDPOINT_URL_EC2: moto,
          AWS_ENDPOINT_URL_SSM: moto,
          AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: moto,
        },
        digest,
      ),
      refusal(/AWS_ENDPOINT_URL_S3 .* S3 \(the evidence at s3:\/\/sentinel-sandbox-evidence\/runs\/\)/),
    );
  });

  it('a worker with only EC2 emulated fails the run with SANDBOX_NOT_EMULATED before any AWS call; sentinel run exits 16', async () => {
    const env = testEnvironment('sandbox-worker-process');
    const digest = await candidate('sandbox-worker-process');
    const worker = await startWorkerProcess(env.file, `${env.name}-worker`, onlyEc2Emulated(moto));
    try {
      const handle = await startRun(env, { candidate: digest });
      await assert.rejects(handle.result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        const cause = err.cause instanceof ActivityFailure ? err.cause.cause : err.cause;
        assert.ok(cause instanceof ApplicationFailure);
        assert.equal(cause.type, 'SANDBOX_NOT_EMULATED');
        assert.match(cause.message, /AWS_ENDPOINT_URL_SSM/);
        return true;
      });
      assert.equal(
        await parameterValue(env.invariants.environments[env.name]!.approvedDigestParameter),
        undefined,
      );
      assert.deepEqual(await instancesTagged(TAG.runId, handle.workflowId), []);

      // The CLI, whose own environment is fully emulated, reports the worker's refusal with the same exit code.
      const run = await sentinel(['run', '--env', env.name, '--digest', digest], env.file);
      assert.equal(run.code, EXIT.SANDBOX_NOT_EMULATED, run.stderr);
      assert.match(run.stderr, /refused by the worker: .*AWS_ENDPOINT_URL_SSM/);
    } finally {
      await worker.stop('SIGKILL');
    }
  });
});
