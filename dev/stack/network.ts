/**
 * The emulated network of the sandbox: what a platform team provides in a
 * real account, created in moto when the dev stack starts. One VPC, one
 * subnet in each of two Availability Zones, one security group for the test
 * hosts, all named, because moto gives them new ids on every start: the
 * `local` environment refers to them as `name:<Name tag>` / `name:<group
 * name>` (ops/invariants.yaml, README "Placement").
 */
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';

export const SANDBOX_NETWORK = {
  vpc: { name: 'sentinel-sandbox', cidr: '10.80.0.0/16' },
  /** Zone suffix and CIDR of each subnet; subnet names are `sentinel-sandbox-<zone>`. */
  subnets: [
    { zone: 'a', cidr: '10.80.1.0/24' },
    { zone: 'b', cidr: '10.80.2.0/24' },
  ],
  securityGroup: 'sentinel-sandbox-hosts',
} as const;

export interface EmulatedNetwork {
  vpcId: string;
  subnets: Array<{ name: string; subnetId: string; availabilityZone: string }>;
  securityGroupId: string;
}

const nameTag = (name: string) => [{ Key: 'Name', Value: name }];

/** Creates the sandbox network in the region unless it is there already (by name). */
export async function ensureSandboxNetwork(ec2: EC2Client, region: string): Promise<EmulatedNetwork> {
  const { vpc, subnets, securityGroup } = SANDBOX_NETWORK;
  const vpcs = await ec2.send(
    new DescribeVpcsCommand({ Filters: [{ Name: 'tag:Name', Values: [vpc.name] }] }),
  );
  const vpcId =
    vpcs.Vpcs?.[0]?.VpcId ??
    (
      await ec2.send(
        new CreateVpcCommand({
          CidrBlock: vpc.cidr,
          TagSpecifications: [{ ResourceType: 'vpc', Tags: nameTag(vpc.name) }],
        }),
      )
    ).Vpc!.VpcId!;

  const made: EmulatedNetwork['subnets'] = [];
  for (const s of subnets) {
    const availabilityZone = `${region}${s.zone}`;
    const name = `${vpc.name}-${availabilityZone}`;
    const found = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: [name] }] }),
    );
    const subnetId =
      found.Subnets?.[0]?.SubnetId ??
      (
        await ec2.send(
          new CreateSubnetCommand({
            VpcId: vpcId,
            CidrBlock: s.cidr,
            AvailabilityZone: availabilityZone,
            TagSpecifications: [{ ResourceType: 'subnet', Tags: nameTag(name) }],
          }),
        )
      ).Subnet!.SubnetId!;
    made.push({ name, subnetId, availabilityZone });
  }

  const groups = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: [securityGroup] },
        { Name: 'vpc-id', Values: [vpcId] },
      ],
    }),
  );
  const securityGroupId =
    groups.SecurityGroups?.[0]?.GroupId ??
    (
      await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: securityGroup,
          Description: 'Sentinel GPU test hosts (egress only)',
          VpcId: vpcId,
          TagSpecifications: [{ ResourceType: 'security-group', Tags: nameTag(securityGroup) }],
        }),
      )
    ).GroupId!;
  return { vpcId, subnets: made, securityGroupId };
}
