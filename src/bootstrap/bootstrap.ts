/**
 * `sentinel bootstrap`: what a new account still lacks for an environment,
 * and (with apply) creating it, idempotently:
 *   - the instance profile test hosts run with, its role carrying AmazonSSMManagedInstanceCore;
 *   - the approved-digest parameter (only from a validated --initial-digest; never overwritten);
 *   - the pinned AMIs, visible in the region (reported only: AMIs cannot be created here);
 *   - the network legs launch into: subnets (and their zones), security groups, and
 *     which zones offer each target's instance types (reported only: the network is
 *     the platform team's; the dev stack creates the sandbox's in the emulator);
 *   - the evidence store: an S3 bucket with its expiry rule, or a local directory.
 */
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  ListAttachedRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  GetBucketLifecycleConfigurationCommand,
  HeadBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  PutPublicAccessBlockCommand,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { access, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { AwsClients } from '../aws/clients';
import { awsErrorMessage, awsErrorName } from '../aws/errors';
import { offeredZones, resolveNetwork } from '../aws/network';
import type { EnvironmentConfig, NetworkConfig } from '../config/schema';
import { parsePinnedImage } from '../domain/image-ref';
import { parseS3Location } from '../evidence/store';
import { attestationKey } from './attestation-key';
import type { BootstrapItem } from './items';

export type { BootstrapItem, ItemStatus } from './items';

export const SSM_CORE_POLICY_ARN = 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore';

export interface BootstrapReport {
  environment: string;
  applied: boolean;
  items: BootstrapItem[];
  /** True when nothing is missing or invalid (after apply, if applied). */
  complete: boolean;
}

export interface BootstrapOptions {
  apply: boolean;
  /** `<repository>@sha256:<digest>` to create the approved-digest parameter with, when it does not exist. */
  initialDigest?: string;
}

const notFound = (err: unknown, ...names: string[]) => names.includes(awsErrorName(err));

export async function bootstrapEnvironment(
  aws: AwsClients,
  name: string,
  env: EnvironmentConfig,
  options: BootstrapOptions,
): Promise<BootstrapReport> {
  if (options.initialDigest !== undefined) parsePinnedImage(options.initialDigest, env.image.repository); // refuse before touching anything
  const items = [
    await instanceProfile(aws, env, options.apply),
    await approvedDigest(aws, env, options),
    await amis(aws, env),
    ...(env.network ? [await network(aws, env, env.network)] : []),
    await evidenceStore(aws, env, options.apply),
    await attestationKey(aws, env, options.apply),
  ];
  return {
    environment: name,
    applied: options.apply,
    items,
    complete: items.every((i) => i.status === 'present' || i.status === 'created'),
  };
}

async function instanceProfile(
  aws: AwsClients,
  env: EnvironmentConfig,
  apply: boolean,
): Promise<BootstrapItem> {
  const iam = aws.iam(env.awsRegion);
  const profileName = env.instanceProfile;
  const roleName = profileName;
  let roleNames: string[] = [];
  let exists = true;
  try {
    const out = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profileName }));
    roleNames = (out.InstanceProfile?.Roles ?? []).map((r) => r.RoleName!).filter(Boolean);
  } catch (err) {
    if (!notFound(err, 'NoSuchEntity', 'NoSuchEntityException')) throw err;
    exists = false;
  }
  const hasCore = async (role: string) => {
    const out = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role }));
    return (out.AttachedPolicies ?? []).some((p) => p.PolicyArn === SSM_CORE_POLICY_ARN);
  };
  for (const role of roleNames) {
    if (await hasCore(role))
      return {
        item: 'instance-profile',
        status: 'present',
        detail: `${profileName} (role ${role} with AmazonSSMManagedInstanceCore)`,
      };
  }
  const remediation = `run \`sentinel bootstrap --env <env> --apply\` or create instance profile ${profileName} with a role carrying AmazonSSMManagedInstanceCore`;
  if (!apply) {
    return {
      item: 'instance-profile',
      status: exists ? 'invalid' : 'missing',
      detail: exists
        ? `${profileName} has no role with AmazonSSMManagedInstanceCore`
        : `${profileName} does not exist`,
      remediation,
    };
  }
  try {
    await iam.send(new GetRoleCommand({ RoleName: roleName }));
  } catch (err) {
    if (!notFound(err, 'NoSuchEntity', 'NoSuchEntityException')) throw err;
    await iam.send(
      new CreateRoleCommand({
        RoleName: roleName,
        Description: 'Sentinel GPU test hosts: SSM-managed instances',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        }),
        Tags: [{ Key: 'radix:purpose', Value: 'gpu-matrix' }],
      }),
    );
  }
  if (!(await hasCore(roleName)))
    await iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: SSM_CORE_POLICY_ARN }));
  if (!exists) await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: profileName }));
  if (!roleNames.includes(roleName)) {
    if (roleNames.length > 0) {
      return {
        item: 'instance-profile',
        status: 'invalid',
        detail: `${profileName} holds role ${roleNames[0]} without AmazonSSMManagedInstanceCore (a profile takes one role)`,
        remediation: `attach ${SSM_CORE_POLICY_ARN} to role ${roleNames[0]}`,
      };
    }
    await iam.send(
      new AddRoleToInstanceProfileCommand({ InstanceProfileName: profileName, RoleName: roleName }),
    );
  }
  return {
    item: 'instance-profile',
    status: 'created',
    detail: `${profileName} with role ${roleName} (AmazonSSMManagedInstanceCore)`,
  };
}

async function approvedDigest(
  aws: AwsClients,
  env: EnvironmentConfig,
  options: BootstrapOptions,
): Promise<BootstrapItem> {
  const ssm = aws.ssm(env.awsRegion);
  const name = env.approvedDigestParameter;
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name }));
    const value = out.Parameter?.Value ?? '';
    try {
      parsePinnedImage(value, env.image.repository);
      return {
        item: 'approved-digest',
        status: 'present',
        detail: `${name} = ${value} (version ${out.Parameter?.Version ?? '?'})`,
      };
    } catch (err) {
      return {
        item: 'approved-digest',
        status: 'invalid',
        detail: `${name}: ${(err as Error).message}`,
        remediation: `sentinel promote --rollback --env <env>, or put a valid ${env.image.repository}@sha256:<digest>`,
      };
    }
  } catch (err) {
    if (!notFound(err, 'ParameterNotFound')) throw err;
  }
  const remediation = `sentinel bootstrap --env <env> --apply --initial-digest ${env.image.repository}@sha256:<digest>`;
  if (!options.apply || options.initialDigest === undefined) {
    return {
      item: 'approved-digest',
      status: 'missing',
      detail: `${name} does not exist${options.apply ? ' (no --initial-digest given, so it was not created)' : ''}`,
      remediation,
    };
  }
  try {
    await ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: options.initialDigest,
        Type: 'String',
        Overwrite: false,
        Description: 'Approved cluster-agent image (initial value, sentinel bootstrap)',
      }),
    );
  } catch (err) {
    // Someone created it between our read and write: theirs stands.
    if (notFound(err, 'ParameterAlreadyExists'))
      return {
        item: 'approved-digest',
        status: 'present',
        detail: `${name} was created concurrently; left as is`,
      };
    throw err;
  }
  return { item: 'approved-digest', status: 'created', detail: `${name} = ${options.initialDigest}` };
}

async function amis(aws: AwsClients, env: EnvironmentConfig): Promise<BootstrapItem> {
  const wanted = [...new Set(env.targets.map((t) => t.ami))];
  const visible = new Set<string>();
  for (const ami of wanted) {
    try {
      const out = await aws.ec2(env.awsRegion).send(new DescribeImagesCommand({ ImageIds: [ami] }));
      if ((out.Images ?? []).some((i) => i.ImageId === ami)) visible.add(ami);
    } catch (err) {
      if (!awsErrorName(err).startsWith('InvalidAMIID')) throw err;
    }
  }
  const missing = wanted.filter((a) => !visible.has(a));
  return missing.length === 0
    ? { item: 'amis', status: 'present', detail: `${wanted.join(', ')} visible in ${env.awsRegion}` }
    : {
        item: 'amis',
        status: 'missing',
        detail: `not visible in ${env.awsRegion}: ${missing.join(', ')}`,
        remediation:
          "AMI ids are per region: fix the targets' ami in ops/invariants.yaml, or share/copy the AMI into this account and region",
      };
}

async function network(
  aws: AwsClients,
  env: EnvironmentConfig,
  config: NetworkConfig,
): Promise<BootstrapItem> {
  const ec2 = aws.ec2(env.awsRegion);
  const found = await resolveNetwork(ec2, config);
  if (found.problems.length > 0) {
    return {
      item: 'network',
      status: 'missing',
      detail: `${env.awsRegion}: ${found.problems.join('; ')}`,
      remediation:
        'create the subnets and security groups (one VPC), or fix network.subnets / network.securityGroupIds in ops/invariants.yaml (ids, or name:<Name tag>)',
    };
  }
  const zones = [...new Set(found.subnets.map((s) => s.availabilityZone))];
  const offered = await offeredZones(ec2, [...new Set(env.targets.flatMap((t) => t.instanceTypes))], zones);
  const subnets = found.subnets
    .map((s) => `${s.subnetId} in ${s.availabilityZone}${s.ref === s.subnetId ? '' : ` (${s.ref})`}`)
    .join(', ');
  const groups = found.securityGroups.map((g) => g.groupId).join(', ');
  const perTarget = env.targets.map((t) => {
    const zonesOf = t.instanceTypes.map(
      (type) => `${type} in ${[...(offered.get(type) ?? [])].sort().join(', ') || 'no configured zone'}`,
    );
    return {
      target: t.name,
      line: `${t.name}: ${zonesOf.join('; ')}`,
      none: t.instanceTypes.every((type) => (offered.get(type)?.size ?? 0) === 0),
    };
  });
  const detail = `subnets ${subnets} (VPC ${found.subnets[0]?.vpcId ?? '?'}); security groups ${groups}; offered: ${perTarget.map((p) => p.line).join('; ')}`;
  const unplaceable = perTarget.filter((p) => p.none).map((p) => p.target);
  if (unplaceable.length > 0) {
    return {
      item: 'network',
      status: 'invalid',
      detail,
      remediation: `no configured zone offers any instance type of ${unplaceable.join(', ')}: add a subnet in a zone that does, or another instance type`,
    };
  }
  return { item: 'network', status: 'present', detail };
}

async function evidenceStore(
  aws: AwsClients,
  env: EnvironmentConfig,
  apply: boolean,
): Promise<BootstrapItem> {
  const s3Location = parseS3Location(env.evidence.location);
  const days = env.evidence.retentionDays;
  if (!s3Location) {
    try {
      await access(env.evidence.location, constants.W_OK);
      return { item: 'evidence-store', status: 'present', detail: `${env.evidence.location} (directory)` };
    } catch {
      if (!apply)
        return {
          item: 'evidence-store',
          status: 'missing',
          detail: `${env.evidence.location} does not exist`,
          remediation: 'sentinel bootstrap --apply creates it',
        };
      await mkdir(env.evidence.location, { recursive: true });
      return { item: 'evidence-store', status: 'created', detail: `${env.evidence.location} (directory)` };
    }
  }
  const s3 = aws.s3(env.awsRegion);
  const { bucket } = s3Location;
  let exists = true;
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!notFound(err, 'NotFound', 'NoSuchBucket'))
      throw new Error(`evidence bucket ${bucket}: ${awsErrorMessage(err)}`);
    exists = false;
  }
  const hasExpiry = async () => {
    try {
      const out = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
      return (out.Rules ?? []).some((r) => r.Status === 'Enabled' && r.Expiration?.Days === days);
    } catch (err) {
      if (notFound(err, 'NoSuchLifecycleConfiguration')) return false;
      throw err;
    }
  };
  if (exists && (await hasExpiry()))
    return {
      item: 'evidence-store',
      status: 'present',
      detail: `s3://${bucket} (expires objects after ${days} days)`,
    };
  if (!apply) {
    return {
      item: 'evidence-store',
      status: exists ? 'invalid' : 'missing',
      detail: exists
        ? `s3://${bucket} has no enabled ${days}-day expiration rule`
        : `s3://${bucket} does not exist`,
      remediation: 'sentinel bootstrap --env <env> --apply',
    };
  }
  if (!exists) {
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        ...(env.awsRegion === 'us-east-1'
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: env.awsRegion as BucketLocationConstraint } }),
      }),
    );
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucket,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    );
  }
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: {
        Rules: [
          {
            ID: `sentinel-evidence-${days}d`,
            Status: 'Enabled',
            Filter: { Prefix: '' },
            Expiration: { Days: days },
          },
        ],
      },
    }),
  );
  return {
    item: 'evidence-store',
    status: 'created',
    detail: `s3://${bucket} (expires objects after ${days} days)`,
  };
}
