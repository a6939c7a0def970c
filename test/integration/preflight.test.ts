import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { evidenceSchema } from '../../src/evidence/schema';
import { candidate, parameterValue, unknownCandidate } from '../support/aws';
import { testEnvironment } from '../support/invariants';
import { readEvidence, startRun } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';

const ec2Calls = (counts: Record<string, number>) =>
  Object.fromEntries(Object.entries(counts).filter(([op]) => op.startsWith('EC2.')));

describe('preflight and dry run (real registry, moto_server)', function () {
  before(async () => {
    await sharedStack();
  });

  it('a dry run on a pushed digest passes every check, writes evidence with dryRun true and never promotes or launches', async () => {
    const env = testEnvironment('dry-pass');
    const worker = await startWorker(env.invariants);
    try {
      const digest = await candidate('dry-pass');
      const result = await (await startRun(env, { candidate: digest, dryRun: true })).result();

      assert.equal(result.verdict, 'passed');
      assert.equal(result.dryRun, true);
      assert.equal(result.promotion.status, 'not_promoted_dry_run');
      assert.deepEqual(result.legs, []);
      assert.equal(await parameterValue(`/radix/${env.name}/agent_digest_approved`), undefined);
      assert.deepEqual(
        result.preflight?.map((c) => [c.name, c.outcome]),
        [
          ['approved_digest', 'passed'],
          ['manifest', 'passed'],
          ['amis', 'passed'],
          ['placement', 'passed'],
        ],
      );
      assert.match(result.preflight[1]!.detail, /application\/vnd\.oci\.image\.manifest\.v1\+json/);
      assert.match(result.preflight[2]!.detail, /nvidia-a10g: ami-0c2b8ca305e393e06 .*available/);
      // The sandbox's network, by name, resolved to the emulator's ids, with each target's sweep order.
      assert.match(
        result.preflight[3]!.detail,
        /subnet-[0-9a-f]+ \(us-west-2a, name:sentinel-sandbox-us-west-2a\)/,
      );
      assert.match(
        result.preflight[3]!.detail,
        /amd-v520: g4ad\.xlarge in us-west-2a \(subnet-[0-9a-f]+\), g4ad\.xlarge in us-west-2b/,
      );

      const evidence = readEvidence(result);
      evidenceSchema.parse(evidence);
      assert.equal(evidence.run.dryRun, true);
      assert.equal(evidence.promotion.status, 'not_promoted_dry_run');
      // The janitor ran in report-only mode: nothing terminated.
      assert.equal(evidence.janitor?.report?.dryRun, true);
      assert.deepEqual(evidence.janitor?.report?.terminated, []);
      assert.match(readFileSync(result.evidence!.markdown, 'utf8'), /\(dry run\)/);

      const calls = ec2Calls(worker.sentinel.aws.callCounts());
      assert.equal(calls['EC2.RunInstances'], undefined, 'no instance launched');
      assert.equal(calls['EC2.TerminateInstances'], undefined, 'nothing terminated');
      assert.equal(calls['EC2.DescribeImages'], 1, 'one DescribeImages for the pinned AMIs');
      assert.equal(calls['EC2.DescribeSubnets'], 1, 'one DescribeSubnets for the placement');
      assert.equal(
        calls['EC2.DescribeInstanceTypeOfferings'],
        1,
        'one DescribeInstanceTypeOfferings for the placement',
      );
    } finally {
      await worker.stop();
    }
  });

  it('a dry run on a digest the registry does not have fails with MANIFEST_NOT_FOUND and makes no EC2 call', async () => {
    const env = testEnvironment('dry-missing');
    const worker = await startWorker(env.invariants);
    try {
      const result = await (
        await startRun(env, { candidate: unknownCandidate('dry-missing'), dryRun: true })
      ).result();

      assert.equal(result.verdict, 'failed');
      assert.equal(result.failure?.code, 'MANIFEST_NOT_FOUND');
      assert.match(result.failure.remediation, /Push the image first/);
      assert.match(result.failure.detail!, /404/);
      assert.equal(result.promotion.status, 'not_promoted_failed');
      assert.deepEqual(
        result.preflight?.map((c) => [c.name, c.outcome]),
        [
          ['approved_digest', 'passed'],
          ['manifest', 'failed'],
        ],
      );
      assert.deepEqual(ec2Calls(worker.sentinel.aws.callCounts()), {}, 'no EC2 call at all');

      const evidence = readEvidence(result);
      evidenceSchema.parse(evidence);
      assert.equal(evidence.run.dryRun, true);
      assert.equal(evidence.failure?.code, 'MANIFEST_NOT_FOUND');
      assert.equal(evidence.janitor, undefined, 'the janitor does not run after a failed preflight');
      assert.match(readFileSync(result.evidence!.markdown, 'utf8'), /MANIFEST_NOT_FOUND/);
    } finally {
      await worker.stop();
    }
  });

  it('a real run on a missing manifest fails the same way before any instance', async () => {
    const env = testEnvironment('run-missing');
    const worker = await startWorker(env.invariants);
    try {
      const result = await (await startRun(env, { candidate: unknownCandidate('run-missing') })).result();
      assert.equal(result.verdict, 'failed');
      assert.equal(result.failure?.code, 'MANIFEST_NOT_FOUND');
      assert.deepEqual(result.legs, []);
      assert.deepEqual(ec2Calls(worker.sentinel.aws.callCounts()), {});
      assert.equal(await parameterValue(`/radix/${env.name}/agent_digest_approved`), undefined);
    } finally {
      await worker.stop();
    }
  });

  it('an AMI that is not the pinned one visible in the region fails with AMI_NOT_FOUND before any instance', async () => {
    const env = testEnvironment('ami-missing', (e) => {
      e.targets[1].ami = 'ami-0123456789abcdef0';
    });
    const worker = await startWorker(env.invariants);
    try {
      const result = await (await startRun(env, { candidate: await candidate('ami-missing') })).result();
      assert.equal(result.verdict, 'failed');
      assert.equal(result.failure?.code, 'AMI_NOT_FOUND');
      assert.match(result.failure.detail!, /amd-v520: ami-0123456789abcdef0 is not visible in us-west-2/);
      const calls = ec2Calls(worker.sentinel.aws.callCounts());
      assert.deepEqual(Object.keys(calls), ['EC2.DescribeImages']);
    } finally {
      await worker.stop();
    }
  });
});
