import { strict as assert } from 'node:assert';
import { GetBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { GetInstanceProfileCommand } from '@aws-sdk/client-iam';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { aws, candidate, parameterValue, putParameter, REGION } from '../support/aws';
import { jsonOf, sentinelCli } from '../support/cli';
import { testEnvironment, type TestEnvironment } from '../support/invariants';
import { sharedStack } from '../support/stack';

type Json = Record<string, any>;

/** An environment whose AWS resources nobody created yet: its own profile, parameter and bucket. */
function freshAccountEnvironment(slug: string): TestEnvironment & { profile: string; bucket: string } {
  const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const profile = `SentinelTest-${slug}-${suffix}`;
  const bucket = `sentinel-boot-${slug}-${suffix}`.toLowerCase();
  const env = testEnvironment(slug, (e) => {
    e.instanceProfile = profile;
    e.evidence.location = `s3://${bucket}/gpu-matrix/`;
    // Its own signing key, which a fresh account does not have yet.
    e.attestation.kmsKeyId = `alias/sentinel-boot-${slug}-${suffix}`;
  });
  return { ...env, profile, bucket };
}

const statuses = (report: Json) =>
  Object.fromEntries((report.items as Json[]).map((i) => [i.item, i.status]));

async function profileExists(name: string): Promise<boolean> {
  try {
    await aws.iam(REGION).send(new GetInstanceProfileCommand({ InstanceProfileName: name }));
    return true;
  } catch {
    return false;
  }
}

describe('sentinel bootstrap against moto_server', function () {
  before(async () => {
    await sharedStack();
  });

  it('reports what an empty account lacks, with a remediation each, and exits 8', async () => {
    const env = freshAccountEnvironment('empty');
    const run = await sentinelCli(['--json', '--invariants', env.file, 'bootstrap', '--env', env.name]);
    assert.equal(run.code, 8, run.stderr);
    const report = jsonOf(run);
    assert.equal(report.applied, false);
    assert.equal(report.complete, false);
    assert.deepEqual(statuses(report), {
      'instance-profile': 'missing',
      'approved-digest': 'missing',
      amis: 'present',
      network: 'present',
      'evidence-store': 'missing',
      'attestation-key': 'missing',
    });
    for (const item of report.items as Json[])
      if (item.status === 'missing') assert.ok(item.remediation, `${item.item} says how to fix it`);
    assert.match(run.stderr, /MISSING +instance-profile/);
    assert.equal(await profileExists(env.profile), false, 'a report creates nothing');
  });

  it('refuses an invalid --initial-digest before any write', async () => {
    const env = freshAccountEnvironment('refuse');
    for (const digest of [
      'ghcr.io/iangreen74/radix-cluster-agent:latest',
      `ghcr.io/someone/else@sha256:${'a'.repeat(64)}`,
    ]) {
      const run = await sentinelCli([
        '--invariants',
        env.file,
        'bootstrap',
        '--env',
        env.name,
        '--apply',
        '--initial-digest',
        digest,
      ]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /--initial-digest refused/);
    }
    assert.equal(await profileExists(env.profile), false);
    assert.equal(
      await parameterValue(env.invariants.environments[env.name]!.approvedDigestParameter),
      undefined,
    );
  });

  it('creates what is missing with --apply, and a second --apply changes nothing', async () => {
    const env = freshAccountEnvironment('apply');
    const parameter = env.invariants.environments[env.name]!.approvedDigestParameter;
    const digest = await candidate('bootstrap-initial');
    const first = await sentinelCli([
      '--json',
      '--invariants',
      env.file,
      'bootstrap',
      '--env',
      env.name,
      '--apply',
      '--initial-digest',
      digest,
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(statuses(jsonOf(first)), {
      'instance-profile': 'created',
      'approved-digest': 'created',
      amis: 'present',
      network: 'present',
      'evidence-store': 'created',
      'attestation-key': 'created',
    });
    assert.equal(await parameterValue(parameter), digest);
    const profile = await aws
      .iam(REGION)
      .send(new GetInstanceProfileCommand({ InstanceProfileName: env.profile }));
    assert.equal(profile.InstanceProfile?.Roles?.[0]?.RoleName, env.profile);
    const lifecycle = await aws
      .s3(REGION)
      .send(new GetBucketLifecycleConfigurationCommand({ Bucket: env.bucket }));
    assert.equal(lifecycle.Rules?.[0]?.Expiration?.Days, 90);

    const second = await sentinelCli([
      '--json',
      '--invariants',
      env.file,
      'bootstrap',
      '--env',
      env.name,
      '--apply',
      '--initial-digest',
      await candidate('other'),
    ]);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(statuses(jsonOf(second)), {
      'instance-profile': 'present',
      'approved-digest': 'present',
      amis: 'present',
      network: 'present',
      'evidence-store': 'present',
      'attestation-key': 'present',
    });
    const after = await aws.ssm(REGION).send(new GetParameterCommand({ Name: parameter }));
    assert.equal(after.Parameter?.Value, digest, 'the parameter keeps its value');
    assert.equal(after.Parameter?.Version, 1, 'and was not written again');
  });

  it('never overwrites an existing parameter, valid or not', async () => {
    const env = freshAccountEnvironment('existing');
    const parameter = env.invariants.environments[env.name]!.approvedDigestParameter;
    await putParameter(parameter, 'not-a-pinned-reference');
    const run = await sentinelCli([
      '--json',
      '--invariants',
      env.file,
      'bootstrap',
      '--env',
      env.name,
      '--apply',
      '--initial-digest',
      await candidate('new'),
    ]);
    assert.equal(run.code, 8, 'an invalid approved digest leaves the setup incomplete');
    const item = (jsonOf(run).items as Json[]).find((i) => i.item === 'approved-digest')!;
    assert.equal(item.status, 'invalid');
    assert.match(item.remediation, /promote --rollback/);
    assert.equal(await parameterValue(parameter), 'not-a-pinned-reference');
  });
});

describe('sentinel bootstrap: the network legs launch into', function () {
  before(async () => {
    await sharedStack();
  });

  it('reports each subnet with its zone, the security groups, and which zones offer each instance type', async () => {
    const stack = await sharedStack();
    const env = testEnvironment('boot-net');
    const run = await sentinelCli(['--json', '--invariants', env.file, 'bootstrap', '--env', env.name]);
    const item = (jsonOf(run).items as Json[]).find((i) => i.item === 'network')!;
    assert.equal(item.status, 'present', item.detail);
    for (const s of stack.network.subnets)
      assert.ok(item.detail.includes(`${s.subnetId} in ${s.availabilityZone}`), item.detail);
    assert.ok(item.detail.includes(stack.network.securityGroupId), item.detail);
    assert.match(item.detail, /nvidia-a10g: g5\.xlarge in us-west-2a, us-west-2b/);
  });

  it('names a subnet or security group the account lacks by its path, and exits 8', async () => {
    const env = testEnvironment('boot-net-missing', (e) => {
      e.network.subnets = ['name:sentinel-sandbox-us-west-2a', 'subnet-0123456789abcdef0'];
      e.network.securityGroupIds = ['name:no-such-group'];
    });
    const run = await sentinelCli(['--json', '--invariants', env.file, 'bootstrap', '--env', env.name]);
    assert.equal(run.code, 8, run.stderr);
    const item = (jsonOf(run).items as Json[]).find((i) => i.item === 'network')!;
    assert.equal(item.status, 'missing');
    assert.match(item.detail, /network\.subnets\[1\]: subnet-0123456789abcdef0 does not exist/);
    assert.match(item.detail, /network\.securityGroupIds\[0\]: name:no-such-group does not exist in vpc-/);
    assert.ok(item.remediation);
  });
});
