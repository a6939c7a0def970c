/**
 * Finding machines: by tag (every page, through the SDK's paginator) and by
 * id. EC2 errors are thrown as the SDK raised them; the caller decides what
 * they mean.
 */
import {
  DescribeInstancesCommand,
  paginateDescribeInstances,
  type EC2Client,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2';
import type { JanitorInstance } from '../domain/janitor';
import { LIVE_STATES, PURPOSE, TAG, tagOf } from './tags';

export interface FindOptions {
  /** Instances per DescribeInstances page (EC2 allows 5 to 1000); absent: EC2's default. */
  pageSize?: number;
  signal?: AbortSignal;
  /** Called after every page (e.g. to heartbeat). */
  onPage?: (page: number, seen: number) => void;
}

/** Every instance matching the filters, over all pages; an instance repeated across a page boundary is counted once. */
export async function findInstances(
  ec2: EC2Client,
  filters: Filter[],
  options: FindOptions = {},
): Promise<Instance[]> {
  const found = new Map<string, Instance>();
  const pages = paginateDescribeInstances(
    { client: ec2, ...(options.pageSize ? { pageSize: options.pageSize } : {}) },
    { Filters: filters },
    ...(options.signal ? [{ abortSignal: options.signal }] : []),
  );
  let page = 0;
  for await (const out of pages) {
    for (const reservation of out.Reservations ?? []) {
      // A page boundary may repeat an instance that changed state meanwhile: the later sighting wins.
      for (const instance of reservation.Instances ?? [])
        if (instance.InstanceId) found.set(instance.InstanceId, instance);
    }
    page += 1;
    options.onPage?.(page, found.size);
  }
  return [...found.values()];
}

/** Live machines tagged with the leg. */
export function findLegMachines(
  ec2: EC2Client,
  legWorkflowId: string,
  options: FindOptions = {},
): Promise<Instance[]> {
  return findInstances(
    ec2,
    [
      { Name: `tag:${TAG.leg}`, Values: [legWorkflowId] },
      { Name: 'instance-state-name', Values: LIVE_STATES },
    ],
    options,
  );
}

/** Live GPU-matrix machines of the environment (radix:purpose and radix:environment), as the janitor sees them. */
export async function findEnvironmentMachines(
  ec2: EC2Client,
  environment: string,
  options: FindOptions = {},
): Promise<JanitorInstance[]> {
  const instances = await findInstances(
    ec2,
    [
      { Name: `tag:${TAG.purpose}`, Values: [PURPOSE] },
      { Name: `tag:${TAG.environment}`, Values: [environment] },
      { Name: 'instance-state-name', Values: LIVE_STATES },
    ],
    options,
  );
  return instances.map(janitorInstance);
}

function janitorInstance(i: Instance): JanitorInstance {
  const expiresAt = tagOf(i, TAG.expiresAt);
  const runId = tagOf(i, TAG.runId);
  const target = tagOf(i, TAG.target);
  return {
    instanceId: i.InstanceId!,
    state: i.State?.Name ?? 'unknown',
    ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
    ...(i.LaunchTime ? { launchedAt: i.LaunchTime.toISOString() } : {}),
    ...(expiresAt ? { expiresAt } : {}),
    ...(runId ? { runId } : {}),
    ...(target ? { target } : {}),
  };
}

/** One instance by id; undefined when EC2 lists nothing for it. */
export async function describeInstance(
  ec2: EC2Client,
  instanceId: string,
  signal?: AbortSignal,
): Promise<Instance | undefined> {
  const out = await ec2.send(
    new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
    signal ? { abortSignal: signal } : {},
  );
  return out.Reservations?.[0]?.Instances?.[0];
}
