/**
 * Placement: where a leg's machine may launch, and the order the capacity
 * sweep tries it in. Pure data and functions (the workflows use them).
 *
 * The sweep goes instance type by instance type (the target's order of
 * preference), and within each type subnet by subnet (the environment's
 * order), skipping the zones preflight found do not offer the type.
 */

/** One (instance type, subnet) pair a leg may launch into. */
export interface PlacementOption {
  instanceType: string;
  /** Absent for an environment without `network` (the account's default VPC). */
  subnetId?: string;
  availabilityZone?: string;
}

/** What preflight resolved for one leg: the pairs to sweep, in order, and the network settings of every launch. */
export interface LegPlacement {
  options: PlacementOption[];
  securityGroupIds: string[];
  associatePublicIp: boolean;
}

/** A subnet as preflight found it. */
export interface ResolvedSubnet {
  /** As configured: an id or `name:<Name tag>`. */
  ref: string;
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
}

/** A (type, zone) pair the sweep leaves out: EC2 does not offer the type there. */
export interface SkippedPlacement {
  instanceType: string;
  subnetId: string;
  availabilityZone: string;
}

export interface TargetPlacement {
  target: string;
  options: PlacementOption[];
  skipped: SkippedPlacement[];
}

/** The placement preflight check's result for a whole run. */
export interface PlacementPlan {
  region: string;
  subnets: ResolvedSubnet[];
  securityGroupIds: string[];
  associatePublicIp: boolean;
  targets: TargetPlacement[];
}

/** Error codes of RunInstances that move the sweep on to the next pair. */
export const SWEEP_ERRORS = ['InsufficientInstanceCapacity', 'Unsupported', 'InstanceLimitExceeded'] as const;
/** A throttle: the same pair is tried again after a backoff. */
export const THROTTLE_ERROR = 'RequestLimitExceeded';

/** One RunInstances attempt of a leg, as the evidence records it. */
export interface PlacementAttempt {
  instanceType: string;
  subnetId?: string;
  availabilityZone?: string;
  /** `launched`, or the EC2 error code (InsufficientInstanceCapacity, RequestLimitExceeded, …). */
  result: string;
  at: string;
  instanceId?: string;
}

/**
 * The sweep order of one target: each instance type in order, within it each
 * subnet in order, keeping only pairs whose zone offers the type.
 */
export function sweepOrder(
  target: string,
  instanceTypes: readonly string[],
  subnets: readonly ResolvedSubnet[],
  offered: (instanceType: string, availabilityZone: string) => boolean,
): TargetPlacement {
  const options: PlacementOption[] = [];
  const skipped: SkippedPlacement[] = [];
  for (const instanceType of instanceTypes) {
    for (const s of subnets) {
      const pair = { instanceType, subnetId: s.subnetId, availabilityZone: s.availabilityZone };
      if (offered(instanceType, s.availabilityZone)) options.push(pair);
      else skipped.push(pair);
    }
  }
  return { target, options, skipped };
}

/** The placement of one target's leg, out of the run's plan (undefined: launch as before placement existed). */
export function legPlacement(plan: PlacementPlan | undefined, target: string): LegPlacement | undefined {
  const found = plan?.targets.find((t) => t.target === target);
  if (!plan || !found) return undefined;
  return {
    options: found.options,
    securityGroupIds: plan.securityGroupIds,
    associatePublicIp: plan.associatePublicIp,
  };
}

/** `g5.xlarge in us-west-2a (subnet-…)` */
export function describeOption(o: PlacementOption): string {
  return o.subnetId ? `${o.instanceType} in ${o.availabilityZone ?? '?'} (${o.subnetId})` : o.instanceType;
}
