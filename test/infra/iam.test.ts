import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PURPOSE, TAG } from '../../src/machines/tags';
import { AwsClients } from '../../src/aws/clients';
import { bootstrapEnvironment, SSM_CORE_POLICY_ARN } from '../../src/bootstrap/bootstrap';
import { HOST_SECRETS_PATH } from '../../src/executors/secrets';
import { loadInvariants, PROJECT_ROOT } from '../../src/config/load';
import type { EnvironmentConfig } from '../../src/config/schema';
import { applyRollback, planRollback } from '../../src/promotion/rollback';
import { awsActionsReachableFrom, iamActionOfCall } from '../support/aws-actions';
import { candidate, putParameter } from '../support/aws';
import {
  actionsNamed,
  allowingStatements,
  isAllowed,
  loadTemplate,
  PSEUDO,
  TEMPLATE_FILE,
  type Request,
  type Statement,
} from '../support/iam-policy';
import { testEnvironment } from '../support/invariants';
import { candidate as pinned, instancesTagged } from '../support/aws';
import { startRun } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';
import { attestAsPassed } from '../support/attest';
import { startTestCloudApi } from '../support/cloud-api';

const { 'AWS::Region': region, 'AWS::AccountId': account } = PSEUDO;
const dev = loadInvariants().environments.dev!;
const template = loadTemplate();
const evidence = /^s3:\/\/([^/]+)\/(.*)$/.exec(dev.evidence.location)!;
const [bucket, prefix] = [evidence[1]!, evidence[2]!];

/** Entry points and the identity each one runs as. */
const IDENTITIES = {
  worker: { entry: 'src/worker/main.ts', policy: 'WorkerPolicy' },
  operator: { entry: 'src/cli/cli.ts', policy: 'OperatorPolicy' },
  ci: { entry: 'src/cli/commands/run.ts', policy: 'CiEvidenceReaderRole/ReadEvidence' },
  installer: { entry: 'src/cloud-api/main.ts', policy: 'InstallerPolicy' },
} as const;

/** Actions the worker policy grants ahead of the code that calls them, and why. */
const AHEAD_OF_CODE: Record<string, string> = {};

/** The SSM executor's calls on parameters concern only the hosts' secrets (src/executors/secrets.ts). */
const SSM_EXECUTOR = 'src/executors/ssm.ts';
const hostSecretsPath = `arn:aws:ssm:${region}:${account}:parameter${HOST_SECRETS_PATH}/i-0123456789abcdef0`;

/** The requests an action is really made with (resource ARNs and condition keys), from the environment's configuration and who calls it. */
function requestsFor(action: string, env: EnvironmentConfig, callers: string[] = []): Request[] | undefined {
  const instance = `arn:aws:ec2:${region}:${account}:instance/i-0123456789abcdef0`;
  const tagged = { [`aws:ResourceTag/${TAG.purpose}`]: PURPOSE };
  const parameter = `arn:aws:ssm:${region}:${account}:parameter${env.approvedDigestParameter}`;
  const object = `arn:aws:s3:::${bucket}/${prefix}sentinel-run-dev-1.json`;
  const role = `arn:aws:iam::${account}:role/${env.instanceProfile}`;
  switch (action) {
    case 'ec2:RunInstances':
      return [
        { action, resource: instance, context: { [`aws:RequestTag/${TAG.purpose}`]: PURPOSE } },
        {
          action,
          resource: `arn:aws:ec2:${region}:${account}:volume/vol-0123`,
          context: { [`aws:RequestTag/${TAG.purpose}`]: PURPOSE },
        },
        ...env.targets.map((t) => ({
          action,
          resource: `arn:aws:ec2:${region}::image/${t.ami}`,
          context: { 'ec2:ImageID': t.ami },
        })),
        { action, resource: `arn:aws:ec2:${region}:${account}:subnet/subnet-0123` },
        { action, resource: `arn:aws:ec2:${region}:${account}:network-interface/*` },
        { action, resource: `arn:aws:ec2:${region}:${account}:security-group/sg-0123` },
      ];
    case 'ec2:CreateTags':
      return [{ action, resource: instance, context: { 'ec2:CreateAction': 'RunInstances' } }];
    case 'ec2:TerminateInstances':
      return [{ action, resource: instance, context: tagged }];
    case 'ec2:DescribeInstances':
    case 'ec2:DescribeImages':
    case 'ec2:DescribeSubnets':
    case 'ec2:DescribeSecurityGroups':
    case 'ec2:DescribeInstanceTypeOfferings':
    case 'ssm:GetCommandInvocation':
    case 'ssm:CancelCommand':
    case 'ssm:DescribeInstanceInformation':
      return [{ action, resource: '*' }];
    case 'ssm:SendCommand':
      return [
        { action, resource: `arn:aws:ssm:${region}::document/AWS-RunShellScript` },
        { action, resource: instance, context: { [`ssm:resourceTag/${TAG.purpose}`]: PURPOSE } },
      ];
    case 'ssm:GetParameter':
    case 'ssm:PutParameter':
    case 'ssm:GetParameterHistory':
      return [
        ...(callers.length === 0 || callers.some((c) => c !== SSM_EXECUTOR)
          ? [{ action, resource: parameter }]
          : []),
        ...(callers.includes(SSM_EXECUTOR) ? [{ action, resource: `${hostSecretsPath}/install-agent` }] : []),
      ];
    case 'ssm:DeleteParameter':
      return [{ action, resource: `${hostSecretsPath}/install-agent` }];
    case 'ssm:GetParametersByPath':
      return [{ action, resource: hostSecretsPath }];
    case 'iam:PassRole':
      return [{ action, resource: role, context: { 'iam:PassedToService': 'ec2.amazonaws.com' } }];
    case 'iam:GetInstanceProfile':
    case 'iam:CreateInstanceProfile':
    case 'iam:AddRoleToInstanceProfile':
      return [{ action, resource: `arn:aws:iam::${account}:instance-profile/${env.instanceProfile}` }];
    case 'iam:GetRole':
    case 'iam:CreateRole':
    case 'iam:TagRole':
    case 'iam:ListAttachedRolePolicies':
      return [{ action, resource: role }];
    case 'iam:AttachRolePolicy':
      return [{ action, resource: role, context: { 'iam:PolicyARN': SSM_CORE_POLICY_ARN } }];
    case 's3:PutObject':
    case 's3:GetObject':
      return [{ action, resource: object }];
    case 's3:ListBucket':
    case 's3:CreateBucket':
    case 's3:GetLifecycleConfiguration':
    case 's3:PutLifecycleConfiguration':
    case 's3:PutBucketPublicAccessBlock':
      return [{ action, resource: `arn:aws:s3:::${bucket}` }];
    case 'kms:Sign':
    case 'kms:GetPublicKey':
    case 'kms:DescribeKey':
      // The configuration names the key by its alias; the policies name it through kms:ResourceAliases.
      return [
        {
          action,
          resource: `arn:aws:kms:${region}:${account}:key/0b0e5a4e-1a2b-4c3d-8e9f-0123456789ab`,
          context: { 'kms:ResourceAliases': env.attestation.kmsKeyId },
        },
      ];
    case 'cognito-idp:InitiateAuth':
      return [
        {
          action,
          resource: `arn:aws:cognito-idp:${env.controlPlane.cognito.region}:${account}:userpool/${env.controlPlane.cognito.userPoolId}`,
        },
      ];
    default:
      return undefined;
  }
}

function policyOf(identity: keyof typeof IDENTITIES): Statement[] {
  const policy = template.policies[IDENTITIES[identity].policy];
  assert.ok(policy, `infra/sentinel-iam.yaml has ${IDENTITIES[identity].policy}`);
  return policy;
}

function assertAllowed(identity: keyof typeof IDENTITIES, action: string, callers: Iterable<string>): void {
  const policy = policyOf(identity);
  const requests = requestsFor(action, dev, [...callers]);
  const where = `${action} (called from ${[...callers].join(', ')})`;
  if (!requests) {
    // An action nobody described yet: the policy must at least name it.
    assert.ok(
      actionsNamed(policy).some((a) => a.toLowerCase() === action.toLowerCase()),
      `${IDENTITIES[identity].policy} does not allow ${where}: add it to infra/sentinel-iam.yaml (and its request shape to requestsFor in test/infra/iam.test.ts)`,
    );
    return;
  }
  for (const request of requests) {
    assert.ok(
      isAllowed(policy, request),
      `${IDENTITIES[identity].policy} does not allow ${where} on ${request.resource} ${JSON.stringify(request.context ?? {})}`,
    );
  }
}

describe('least-privilege IAM (infra/sentinel-iam.yaml)', function () {
  it('passes cfn-lint', () => {
    const motoDir = process.env.SENTINEL_MOTO_SERVER
      ? path.dirname(process.env.SENTINEL_MOTO_SERVER)
      : undefined;
    const candidates = [
      process.env.SENTINEL_CFN_LINT,
      motoDir && path.join(motoDir, 'cfn-lint'),
      path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'cfn-lint'),
    ].filter((c): c is string => !!c);
    const lint = candidates.find((c) => existsSync(c)) ?? 'cfn-lint';
    const out = spawnSync(lint, [TEMPLATE_FILE], { encoding: 'utf8' });
    assert.ok(
      !out.error,
      `cfn-lint not runnable (${lint}): it comes with moto[server] (scripts/ensure-tools.sh); or set SENTINEL_CFN_LINT`,
    );
    assert.equal(out.status, 0, out.stdout + out.stderr);
  });

  it('defaults to exactly the dev environment of ops/invariants.yaml', () => {
    const p = template.parameters;
    assert.equal(p.ApprovedDigestParameter, dev.approvedDigestParameter);
    assert.deepEqual(
      [...(p.PinnedAmiIds as string[])].sort(),
      [...new Set(dev.targets.map((t) => t.ami))].sort(),
    );
    assert.equal(p.InstanceProfileName, dev.instanceProfile);
    assert.equal(p.EvidenceBucket, bucket);
    assert.equal(p.EvidencePrefix, prefix);
    assert.equal(p.CognitoUserPoolId, dev.controlPlane.cognito.userPoolId);
    assert.equal(p.CognitoRegion, dev.controlPlane.cognito.region);
    assert.equal(p.AttestationKeyAlias, dev.attestation.kmsKeyId);
  });

  for (const identity of Object.keys(IDENTITIES) as Array<keyof typeof IDENTITIES>) {
    it(`allows every AWS action the ${identity} code calls (derived from ${IDENTITIES[identity].entry})`, () => {
      const { actions } = awsActionsReachableFrom(IDENTITIES[identity].entry);
      assert.ok(actions.size > 0, 'the derivation found AWS calls');
      for (const [action, callers] of actions) assertAllowed(identity, action, callers);
    });

    it(`grants the ${identity} nothing its code does not call`, () => {
      const needed = new Set(
        [...awsActionsReachableFrom(IDENTITIES[identity].entry).actions.keys()].map((a) => a.toLowerCase()),
      );
      const extra = actionsNamed(policyOf(identity)).filter(
        (a) => !needed.has(a.toLowerCase()) && !(identity === 'worker' && a in AHEAD_OF_CODE),
      );
      assert.deepEqual(extra, []);
      for (const s of policyOf(identity)) {
        for (const a of s.Action) assert.ok(!a.includes('*'), `${s.Sid}: no wildcard action (${a})`);
      }
    });
  }

  it('follows runtime imports to any depth and picks up a command added in a new module', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-scan-'));
    writeFileSync(
      path.join(dir, 'entry.ts'),
      "import { signIn } from './auth';\nimport type { Shape } from './types-only';\nexport const go = signIn;\n",
    );
    mkdirSync(path.join(dir, 'auth'));
    writeFileSync(path.join(dir, 'auth', 'index.ts'), "export { signIn } from './cognito';\n");
    writeFileSync(
      path.join(dir, 'auth', 'cognito.ts'),
      "import { CognitoIdentityProviderClient, InitiateAuthCommand as Auth } from '@aws-sdk/client-cognito-identity-provider';\nexport const signIn = (c: CognitoIdentityProviderClient) => c.send(new Auth({} as never));\n",
    );
    writeFileSync(
      path.join(dir, 'types-only.ts'),
      "import { DeleteBucketCommand } from '@aws-sdk/client-s3';\nexport type Shape = DeleteBucketCommand;\nnew DeleteBucketCommand({} as never);\n",
    );
    const { actions } = awsActionsReachableFrom(path.join(dir, 'entry.ts'));
    assert.deepEqual([...actions.keys()], ['cognito-idp:InitiateAuth'], 'type-only imports are not followed');
  });

  it("derives the worker's calls from the code: EC2 lifecycle, SSM Run Command, the approved digest, evidence", () => {
    const actions = [...awsActionsReachableFrom('src/worker/main.ts').actions.keys()].sort();
    for (const a of [
      'ec2:RunInstances',
      'ec2:CreateTags',
      'ec2:DescribeInstances',
      'ec2:TerminateInstances',
      'ssm:SendCommand',
      'ssm:GetCommandInvocation',
      'ssm:GetParameter',
      'ssm:PutParameter',
      's3:PutObject',
    ]) {
      assert.ok(actions.includes(a), `${a} derived (got ${actions.join(', ')})`);
    }
    assert.ok(!actions.includes('iam:CreateRole'), 'bootstrap is not part of the worker');
  });

  describe('refuses what the code must never do', () => {
    const worker = () => policyOf('worker');
    const instance = `arn:aws:ec2:${region}:${account}:instance/i-0123456789abcdef0`;
    it('terminate or run commands on an instance Sentinel did not tag', () => {
      assert.ok(!isAllowed(worker(), { action: 'ec2:TerminateInstances', resource: instance }));
      assert.ok(
        !isAllowed(worker(), {
          action: 'ec2:TerminateInstances',
          resource: instance,
          context: { [`aws:ResourceTag/${TAG.purpose}`]: 'production' },
        }),
      );
      assert.ok(!isAllowed(worker(), { action: 'ssm:SendCommand', resource: instance }));
    });
    it('launch an untagged instance or an AMI that is not pinned', () => {
      assert.ok(!isAllowed(worker(), { action: 'ec2:RunInstances', resource: instance }));
      assert.ok(
        !isAllowed(worker(), {
          action: 'ec2:RunInstances',
          resource: `arn:aws:ec2:${region}::image/ami-00000000000000000`,
          context: { 'ec2:ImageID': 'ami-00000000000000000' },
        }),
      );
      assert.ok(
        !isAllowed(worker(), {
          action: 'ec2:CreateTags',
          resource: instance,
          context: { 'ec2:CreateAction': 'CreateTags' },
        }),
      );
    });
    it("write any parameter but the approved digest of its environment (and the hosts' short-lived secrets)", () => {
      assert.ok(
        !isAllowed(worker(), {
          action: 'ssm:PutParameter',
          resource: `arn:aws:ssm:${region}:${account}:parameter/radix/prod/agent_digest_approved`,
        }),
      );
      assert.ok(
        !isAllowed(worker(), {
          action: 'ssm:DeleteParameter',
          resource: `arn:aws:ssm:${region}:${account}:parameter${dev.approvedDigestParameter}`,
        }),
      );
      assert.ok(
        !isAllowed(worker(), {
          action: 'ssm:GetParametersByPath',
          resource: `arn:aws:ssm:${region}:${account}:parameter/radix`,
        }),
      );
      assert.ok(
        !isAllowed(policyOf('operator'), {
          action: 'ssm:PutParameter',
          resource: `arn:aws:ssm:${region}:${account}:parameter/radix/dev/other`,
        }),
      );
    });
    it("pass any role but the test hosts', to anything but EC2", () => {
      assert.ok(
        !isAllowed(worker(), {
          action: 'iam:PassRole',
          resource: `arn:aws:iam::${account}:role/Admin`,
          context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
        }),
      );
      assert.ok(
        !isAllowed(worker(), {
          action: 'iam:PassRole',
          resource: `arn:aws:iam::${account}:role/${dev.instanceProfile}`,
          context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
        }),
      );
    });
    it('attach anything but AmazonSSMManagedInstanceCore to the test host role', () => {
      assert.ok(
        !isAllowed(policyOf('operator'), {
          action: 'iam:AttachRolePolicy',
          resource: `arn:aws:iam::${account}:role/${dev.instanceProfile}`,
          context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' },
        }),
      );
    });
    it('let the installer sign, use another key, or write the pointer', () => {
      const installer = policyOf('installer');
      const key = `arn:aws:kms:${region}:${account}:key/0b0e5a4e-1a2b-4c3d-8e9f-0123456789ab`;
      assert.deepEqual(actionsNamed(installer), ['kms:DescribeKey', 'kms:GetPublicKey', 'ssm:GetParameter']);
      assert.ok(
        isAllowed(installer, {
          action: 'kms:GetPublicKey',
          resource: key,
          context: { 'kms:ResourceAliases': dev.attestation.kmsKeyId },
        }),
      );
      assert.ok(
        !isAllowed(installer, {
          action: 'kms:Sign',
          resource: key,
          context: { 'kms:ResourceAliases': dev.attestation.kmsKeyId },
        }),
      );
      assert.ok(
        !isAllowed(installer, {
          action: 'kms:GetPublicKey',
          resource: key,
          context: { 'kms:ResourceAliases': 'alias/sentinel-prod-attestation' },
        }),
      );
      assert.ok(
        !isAllowed(installer, { action: 'kms:DescribeKey', resource: key }),
        'a key without the alias',
      );
      assert.ok(
        !isAllowed(installer, {
          action: 'ssm:PutParameter',
          resource: `arn:aws:ssm:${region}:${account}:parameter${dev.approvedDigestParameter}`,
        }),
      );
      assert.ok(
        !isAllowed(installer, {
          action: 'ssm:GetParameter',
          resource: `arn:aws:ssm:${region}:${account}:parameter/radix/prod/agent_digest_approved`,
        }),
      );
    });
    it('let CI read anything but evidence', () => {
      assert.deepEqual(actionsNamed(policyOf('ci')), ['s3:GetObject']);
      assert.ok(
        !isAllowed(policyOf('ci'), {
          action: 's3:GetObject',
          resource: `arn:aws:s3:::${bucket}/other/secret.json`,
        }),
      );
      assert.equal(
        allowingStatements(policyOf('ci'), {
          action: 's3:GetObject',
          resource: `arn:aws:s3:::${bucket}/${prefix}x.json`,
        }).length,
        1,
      );
    });
  });

  describe('the calls the code really makes stay within what the derivation found', function () {
    before(async () => {
      const stack = await sharedStack();
      await stack.bootstrap('local');
    });

    it('bootstrap and rollback, counted by AwsClients against moto_server', async () => {
      const env = testEnvironment('iam-calls', (e) => {
        e.instanceProfile = `SentinelIamCalls-${Date.now()}`;
        e.evidence.location = `s3://sentinel-iam-calls-${Date.now()}/gpu-matrix/`;
      });
      const settings = env.invariants.environments[env.name]!;
      const clients = new AwsClients();
      try {
        await bootstrapEnvironment(clients, env.name, settings, {
          apply: true,
          initialDigest: await candidate('iam-a'),
        });
        await putParameter(settings.approvedDigestParameter, await candidate('iam-b'));
        const plan = await planRollback(clients, env.name, settings);
        await applyRollback(clients, plan, {
          actor: 'test',
          evidenceLocation: settings.evidence.location,
          configFile: env.file,
          configSha256: env.invariants.sha256,
        });
        const derived = awsActionsReachableFrom('src/cli/cli.ts').actions;
        const made = Object.keys(clients.callCounts()).map(iamActionOfCall);
        assert.ok(made.length >= 10, `calls made: ${made.join(', ')}`);
        for (const action of made)
          assert.ok(derived.has(action), `${action} was called but not derived from the code`);
      } finally {
        clients.destroy();
      }
    });

    it('the installer serving an attested digest, counted by AwsClients', async () => {
      const env = testEnvironment('iam-installer');
      const settings = env.invariants.environments[env.name]!;
      const api = await startTestCloudApi(env);
      try {
        const attested = await pinned('iam-installer');
        await attestAsPassed(env, attested);
        await putParameter(settings.approvedDigestParameter, attested);
        const served = await api.installer({ token: 'onb_aWFtLWluc3RhbGxlci0wMQ.sig' });
        assert.equal(served.status, 200, await served.text());
        const derived = awsActionsReachableFrom('src/cloud-api/main.ts').actions;
        const made = Object.keys(api.aws.callCounts()).map(iamActionOfCall);
        assert.deepEqual(made.sort(), ['kms:DescribeKey', 'kms:GetPublicKey', 'ssm:GetParameter']);
        for (const action of made)
          assert.ok(derived.has(action), `${action} was called but not derived from the code`);
      } finally {
        await api.stop();
      }
    });

    it('a matrix run of the worker, counted by AwsClients', async () => {
      const env = testEnvironment('iam-worker');
      const worker = await startWorker(env.invariants);
      try {
        const result = await (await startRun(env, { candidate: await pinned('iam-worker') })).result();
        assert.equal(result.verdict, 'passed');
        assert.equal((await instancesTagged(TAG.runId, result.workflowId)).length, 2);
        const derived = awsActionsReachableFrom('src/worker/main.ts').actions;
        const made = Object.keys(worker.sentinel.aws.callCounts()).map(iamActionOfCall);
        assert.ok(made.includes('ec2:RunInstances'));
        for (const action of made)
          assert.ok(derived.has(action), `${action} was called but not derived from the code`);
      } finally {
        await worker.stop();
      }
    });
  });
});
