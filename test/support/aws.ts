/** Reading the emulated AWS account from tests, with the real SDK. */
import { DescribeInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { AwsClients } from '../../src/aws/clients';

export const REGION = 'us-west-2';
export const aws = new AwsClients();

export async function instancesTagged(key: string, value: string): Promise<Instance[]> {
  const out = await aws.ec2(REGION).send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${key}`, Values: [value] }] }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

export async function parameterValue(name: string): Promise<string | undefined> {
  try {
    return (await aws.ssm(REGION).send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
  } catch (err) {
    if ((err as Error).name === 'ParameterNotFound') return undefined;
    throw err;
  }
}

export async function putParameter(name: string, value: string): Promise<void> {
  await aws.ssm(REGION).send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }));
}

/** A pinned candidate of the configured repository; `seed` varies the digest. */
export async function candidate(seed: string, repository = 'ghcr.io/iangreen74/radix-cluster-agent'): Promise<string> {
  const hex = require('node:crypto').createHash('sha256').update(seed).digest('hex') as string;
  return `${repository}@sha256:${hex}`;
}
