/**
 * The placement preflight check: the environment's subnets and security
 * groups exist (and share a VPC), and for each target the (instance type,
 * subnet) pairs whose zone offers the type, in sweep order. A target no
 * configured zone offers any of its types fails the run before any launch.
 */
import { awsErrorMessage, isCredentialError } from '../aws/errors';
import { offeredZones, resolveNetwork } from '../aws/network';
import type { NetworkConfig, TargetConfig } from '../config/schema';
import { sweepOrder, type PlacementPlan } from '../domain/placement';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';

export interface PlacementCheckRequest {
  region: string;
  network: NetworkConfig;
  targets: Array<Pick<TargetConfig, 'name' | 'instanceTypes'>>;
}

export function placementActivities({ aws }: Pick<ActivityDeps, 'aws'>) {
  return {
    async checkPlacement(req: PlacementCheckRequest): Promise<PlacementPlan> {
      const ec2 = aws.ec2(req.region);
      try {
        const network = await resolveNetwork(ec2, req.network);
        if (network.problems.length > 0)
          throw activityFailure('NETWORK_NOT_FOUND', `${req.region}: ${network.problems.join('; ')}`);
        const zones = [...new Set(network.subnets.map((s) => s.availabilityZone))];
        const types = [...new Set(req.targets.flatMap((t) => t.instanceTypes))];
        const offered = await offeredZones(ec2, types, zones);
        const targets = req.targets.map((t) =>
          sweepOrder(
            t.name,
            t.instanceTypes,
            network.subnets,
            (type, zone) => offered.get(type)?.has(zone) ?? false,
          ),
        );
        const unplaceable = targets.filter((t) => t.options.length === 0);
        if (unplaceable.length > 0) {
          throw activityFailure(
            'PLACEMENT_UNAVAILABLE',
            unplaceable
              .map((t) => {
                const types = req.targets.find((c) => c.name === t.target)!.instanceTypes;
                return `${t.target}: none of ${types.join(', ')} is offered in ${zones.join(', ')} (network.subnets of the environment)`;
              })
              .join('; '),
          );
        }
        return {
          region: req.region,
          subnets: network.subnets,
          securityGroupIds: network.securityGroups.map((g) => g.groupId),
          associatePublicIp: req.network.associatePublicIp,
          targets,
        };
      } catch (err) {
        if (isCredentialError(err))
          throw activityFailure('AWS_CREDENTIALS_REFUSED', awsErrorMessage(err), err);
        throw err; // coded failures stand; anything else is retried and says what
      }
    },
  };
}
