/**
 * An environment's network as the account has it: its subnets (with their
 * VPC and Availability Zone) and security groups, named by id or by name, and
 * which zones offer which instance types. Used by preflight and by
 * `sentinel bootstrap`; both report what is missing, neither creates it.
 */
import {
  DescribeInstanceTypeOfferingsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type EC2Client,
  type Filter,
} from '@aws-sdk/client-ec2';
import type { NetworkConfig } from '../config/schema';
import type { ResolvedSubnet } from '../domain/placement';

const NAME = 'name:';

export interface ResolvedNetwork {
  subnets: ResolvedSubnet[];
  securityGroups: Array<{ ref: string; groupId: string; vpcId: string }>;
  /** What is missing or wrong, one line each, naming the configured value. */
  problems: string[];
}

/** Subnets and security groups of the configuration, looked up in one call each per form (ids, names). */
export async function resolveNetwork(ec2: EC2Client, network: NetworkConfig): Promise<ResolvedNetwork> {
  const problems: string[] = [];
  const subnetIds = network.subnets.filter((r) => !r.startsWith(NAME));
  const subnetNames = network.subnets.filter((r) => r.startsWith(NAME)).map((r) => r.slice(NAME.length));
  const foundSubnets = [
    ...(subnetIds.length > 0 ? await describeSubnets(ec2, [{ Name: 'subnet-id', Values: subnetIds }]) : []),
    ...(subnetNames.length > 0
      ? await describeSubnets(ec2, [{ Name: 'tag:Name', Values: subnetNames }])
      : []),
  ];
  const subnets: ResolvedSubnet[] = [];
  network.subnets.forEach((ref, i) => {
    const matches = ref.startsWith(NAME)
      ? foundSubnets.filter((s) =>
          s.Tags?.some((t) => t.Key === 'Name' && t.Value === ref.slice(NAME.length)),
        )
      : foundSubnets.filter((s) => s.SubnetId === ref);
    const where = `network.subnets[${i}]`;
    if (matches.length === 0) problems.push(`${where}: ${ref} does not exist in the account and region`);
    else if (matches.length > 1)
      problems.push(
        `${where}: ${ref} names ${matches.length} subnets (${matches.map((s) => s.SubnetId).join(', ')}); use the id`,
      );
    else {
      const s = matches[0]!;
      subnets.push({
        ref,
        subnetId: s.SubnetId!,
        vpcId: s.VpcId ?? '',
        availabilityZone: s.AvailabilityZone ?? '',
      });
    }
  });
  const vpcs = [...new Set(subnets.map((s) => s.vpcId))];
  if (vpcs.length > 1)
    problems.push(
      `network.subnets: the subnets are in ${vpcs.length} VPCs (${vpcs.join(', ')}); a security group belongs to one VPC, so they must share it`,
    );

  const groupIds = network.securityGroupIds.filter((r) => !r.startsWith(NAME));
  const groupNames = network.securityGroupIds
    .filter((r) => r.startsWith(NAME))
    .map((r) => r.slice(NAME.length));
  const vpcFilter: Filter[] = vpcs.length === 1 ? [{ Name: 'vpc-id', Values: vpcs }] : [];
  const foundGroups = [
    ...(groupIds.length > 0 ? await describeGroups(ec2, [{ Name: 'group-id', Values: groupIds }]) : []),
    ...(groupNames.length > 0
      ? await describeGroups(ec2, [{ Name: 'group-name', Values: groupNames }, ...vpcFilter])
      : []),
  ];
  const securityGroups: ResolvedNetwork['securityGroups'] = [];
  network.securityGroupIds.forEach((ref, i) => {
    const matches = ref.startsWith(NAME)
      ? foundGroups.filter((g) => g.GroupName === ref.slice(NAME.length))
      : foundGroups.filter((g) => g.GroupId === ref);
    const where = `network.securityGroupIds[${i}]`;
    if (matches.length === 0)
      problems.push(
        `${where}: ${ref} does not exist${vpcs.length === 1 ? ` in ${vpcs[0]}, the subnets' VPC` : ' in the account and region'}`,
      );
    else if (matches.length > 1)
      problems.push(`${where}: ${ref} names ${matches.length} security groups; use the id`);
    else {
      const g = matches[0]!;
      if (vpcs.length === 1 && g.VpcId !== vpcs[0])
        problems.push(`${where}: ${ref} is in ${g.VpcId}, not in ${vpcs[0]}, the subnets' VPC`);
      else securityGroups.push({ ref, groupId: g.GroupId!, vpcId: g.VpcId ?? '' });
    }
  });
  return { subnets, securityGroups, problems };
}

/** `instanceType -> zones offering it`, for the given zones (DescribeInstanceTypeOfferings, LocationType availability-zone). */
export async function offeredZones(
  ec2: EC2Client,
  instanceTypes: string[],
  zones: string[],
): Promise<Map<string, Set<string>>> {
  const offered = new Map<string, Set<string>>(instanceTypes.map((t) => [t, new Set<string>()]));
  if (instanceTypes.length === 0 || zones.length === 0) return offered;
  let nextToken: string | undefined;
  do {
    const out = await ec2.send(
      new DescribeInstanceTypeOfferingsCommand({
        LocationType: 'availability-zone',
        Filters: [
          { Name: 'location', Values: zones },
          { Name: 'instance-type', Values: instanceTypes },
        ],
        NextToken: nextToken,
      }),
    );
    for (const o of out.InstanceTypeOfferings ?? []) {
      if (o.InstanceType && o.Location) offered.get(o.InstanceType)?.add(o.Location);
    }
    nextToken = out.NextToken;
  } while (nextToken);
  return offered;
}

async function describeSubnets(ec2: EC2Client, filters: Filter[]) {
  const found = [];
  let nextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeSubnetsCommand({ Filters: filters, NextToken: nextToken }));
    found.push(...(out.Subnets ?? []));
    nextToken = out.NextToken;
  } while (nextToken);
  return found;
}

async function describeGroups(ec2: EC2Client, filters: Filter[]) {
  const found = [];
  let nextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: filters, NextToken: nextToken }));
    found.push(...(out.SecurityGroups ?? []));
    nextToken = out.NextToken;
  } while (nextToken);
  return found;
}
