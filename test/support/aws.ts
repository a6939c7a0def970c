/** Reading the emulated AWS account from tests, with the real SDK. */
import { DescribeInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { createHash } from 'node:crypto';
import { AwsClients } from '../../src/aws/clients';
import { pushImage } from '../../dev/stack/registry';
import { registryEndpoint } from '../../src/registry/client';
import { sharedStack } from './stack';

export const REGION = 'us-west-2';
export const aws = new AwsClients();

export async function instancesTagged(key: string, value: string): Promise<Instance[]> {
  const out = await aws
    .ec2(REGION)
    .send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${key}`, Values: [value] }] }));
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
  await aws
    .ssm(REGION)
    .send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }));
}

export const REPOSITORY = 'ghcr.io/iangreen74/radix-cluster-agent';

/**
 * A pinned candidate of the configured repository whose manifest really
 * exists: an image made from `seed` is pushed to the suite's registry
 * (SENTINEL_REGISTRY_URL) and referenced by the digest the push produced.
 * Each image is built (config `created`) after the one pushed before it.
 */
export async function candidate(
  seed: string,
  repository = REPOSITORY,
  options: { tag?: string; revision?: string; created?: Date } = {},
): Promise<string> {
  const stack = await sharedStack();
  const { digest } = await pushImage(stack.registry.url, registryEndpoint(repository).name, {
    seed,
    ...options,
  });
  return `${repository}@${digest}`;
}

/** A well-formed candidate no registry has: its manifest does not exist. */
export function unknownCandidate(seed: string, repository = REPOSITORY): string {
  return `${repository}@sha256:${createHash('sha256').update(`unknown ${seed}`).digest('hex')}`;
}
