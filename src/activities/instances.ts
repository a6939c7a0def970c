/**
 * EC2 lifecycle of a leg's machine: provision (idempotently), wait until it
 * runs and accepts commands, terminate.
 */
import { createHash } from 'node:crypto';
import type { Instance, RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { Context } from '@temporalio/activity';
import { awsErrorMessage, provisionFailureCode } from '../aws/errors';
import type { ExecutorConfig, TargetConfig } from '../config/schema';
import {
  describeOption,
  type LegPlacement,
  type PlacementAttempt,
  type PlacementOption,
} from '../domain/placement';
import type { InstanceFacts } from '../domain/run';
import { pollWithBackoff, type HostRef } from '../executors/types';
import { describeInstance, findLegMachines } from '../machines/find';
import { legMachineTags } from '../machines/tags';
import { terminateLegMachines } from '../machines/terminate';
import type { ActivityDeps } from './deps';
import { attemptsEndingInFound, SweepStopped, sweepCapacity } from './capacity-sweep';
import { activityFailure } from './failure';
import { terminationFailure } from './machine-failures';
import { waitContext } from './wait-context';

export interface ProvisionRequest {
  environment: string;
  runWorkflowId: string;
  legWorkflowId: string;
  region: string;
  instanceProfile: string;
  cleanupTtlMs: number;
  /** `radix:expires-at`, fixed by the leg when it started (workflow time); older legs leave it out. */
  expiresAt?: string;
  target: Pick<TargetConfig, 'name' | 'ami' | 'instanceTypes'>;
  /** The pairs to sweep and the network of every launch (from preflight); absent: the instance types alone. */
  placement?: LegPlacement;
  /** Backoff of a throttled RunInstances (the environment's polling intervals). */
  throttleBackoff?: { initialMs: number; maxMs: number };
}

export interface WaitForHostRequest {
  host: HostRef;
  executor: ExecutorConfig;
  polling: { initialMs: number; maxMs: number };
}

export interface TerminateRequest {
  host: HostRef;
  executor: ExecutorConfig;
}

export interface TerminateLegRequest {
  region: string;
  legWorkflowId: string;
  target: string;
  executor: ExecutorConfig;
  /** Instances the leg knows it launched (terminated even when the tag lookup does not list them yet). */
  knownInstanceIds?: string[];
  /** The leg does not know whether its launch happened: look for the tag for a bounded grace. */
  launchUncertain?: boolean;
}

/**
 * EC2 idempotency token: the same leg, instance type and subnet always map to
 * the same token (at most 64 ASCII characters). Without a subnet it is the
 * token launches had before placement existed.
 */
export function clientToken(legWorkflowId: string, instanceType: string, subnetId?: string): string {
  return createHash('sha256')
    .update(`${legWorkflowId}\n${instanceType}${subnetId ? `\n${subnetId}` : ''}`)
    .digest('hex');
}

/** Backoff of a throttled RunInstances when the request does not say (a leg started by an older worker). */
const DEFAULT_THROTTLE_BACKOFF = { initialMs: 1_000, maxMs: 30_000 };

/** The network part of RunInstances for one pair: one interface in the pair's subnet, with the security groups. */
function networkInterfaces(
  option: PlacementOption,
  placement: LegPlacement | undefined,
): Partial<RunInstancesCommandInput> {
  if (!option.subnetId || !placement) return {};
  return {
    NetworkInterfaces: [
      {
        DeviceIndex: 0,
        SubnetId: option.subnetId,
        Groups: placement.securityGroupIds,
        AssociatePublicIpAddress: placement.associatePublicIp,
        DeleteOnTermination: true,
      },
    ],
  };
}

function placementFacts(option: PlacementOption): Pick<InstanceFacts, 'subnetId' | 'availabilityZone'> {
  return {
    ...(option.subnetId ? { subnetId: option.subnetId } : {}),
    ...(option.availabilityZone ? { availabilityZone: option.availabilityZone } : {}),
  };
}

export function instanceActivities({ aws, executors }: Pick<ActivityDeps, 'aws' | 'executors'>) {
  /** The leg's machines, terminated by the machines module; its errors as catalogue failures. */
  async function terminateLeg(
    region: string,
    machines: Parameters<typeof terminateLegMachines>[1],
  ): Promise<string[]> {
    try {
      return await terminateLegMachines(aws.ec2(region), machines, waitContext());
    } catch (err) {
      throw terminationFailure(err);
    }
  }

  function facts(instance: Instance, region: string): InstanceFacts {
    return {
      instanceId: instance.InstanceId!,
      instanceType: instance.InstanceType ?? 'unknown',
      ami: instance.ImageId ?? 'unknown',
      region,
      ...(instance.LaunchTime ? { launchedAt: instance.LaunchTime.toISOString() } : {}),
      ...(instance.SubnetId ? { subnetId: instance.SubnetId } : {}),
      ...(instance.Placement?.AvailabilityZone
        ? { availabilityZone: instance.Placement.AvailabilityZone }
        : {}),
    };
  }

  return {
    /**
     * Launches the leg's machine, at most once per leg: an instance already
     * tagged with this leg is returned as is (a retried or replayed activity,
     * or a worker that crashed after RunInstances), and RunInstances carries
     * a ClientToken derived from the leg and the pair so EC2 itself also
     * deduplicates. The capacity sweep (./capacity-sweep.ts) tries the
     * (instance type, subnet) pairs in order while EC2 reports no capacity.
     */
    async provisionInstance(
      req: ProvisionRequest,
    ): Promise<InstanceFacts & { provisionAttempts?: PlacementAttempt[] }> {
      const existing = await findLegMachines(aws.ec2(req.region), req.legWorkflowId);
      if (existing[0])
        return { ...facts(existing[0], req.region), provisionAttempts: attemptsEndingInFound(existing[0]) };

      // Fixed when the leg starts (workflow time), else from the activity's first scheduling, so every attempt
      // sends the same launch parameters: EC2 refuses a repeated ClientToken with other parameters (IdempotentParameterMismatch).
      const expiresAt =
        req.expiresAt ??
        new Date(Context.current().info.scheduledTimestampMs + req.cleanupTtlMs).toISOString();
      const tags = legMachineTags({
        environment: req.environment,
        runWorkflowId: req.runWorkflowId,
        legWorkflowId: req.legWorkflowId,
        target: req.target.name,
        expiresAt,
      });
      // The (instance type, subnet) pairs preflight found, else the instance types alone (no network configured).
      const options: PlacementOption[] = req.placement?.options.length
        ? req.placement.options
        : req.target.instanceTypes.map((instanceType) => ({ instanceType }));
      let outcome;
      try {
        outcome = await sweepCapacity({
          ec2: aws.ec2Launch(req.region),
          options,
          throttle: req.throttleBackoff ?? DEFAULT_THROTTLE_BACKOFF,
          input: (option) => ({
            ImageId: req.target.ami,
            InstanceType: option.instanceType as never,
            MinCount: 1,
            MaxCount: 1,
            ClientToken: clientToken(req.legWorkflowId, option.instanceType, option.subnetId),
            IamInstanceProfile: { Name: req.instanceProfile },
            // A machine that shuts itself down is gone, not parked and billed.
            InstanceInitiatedShutdownBehavior: 'terminate',
            MetadataOptions: { HttpTokens: 'required' },
            ...networkInterfaces(option, req.placement),
            TagSpecifications: [
              { ResourceType: 'instance', Tags: tags },
              { ResourceType: 'volume', Tags: tags },
            ],
          }),
        });
      } catch (err) {
        if (!(err instanceof SweepStopped)) throw err;
        const code =
          err.error instanceof Error && err.error.name === 'NoInstanceReturned'
            ? 'PROVISION_FAILED'
            : provisionFailureCode(err.error);
        const where = `RunInstances ${req.target.ami} ${describeOption(err.option)} in ${req.region}`;
        throw activityFailure(code, `${where}: ${awsErrorMessage(err.error)}`, err.error, {
          provisionAttempts: err.attempts,
        });
      }
      if ('launched' in outcome) {
        return {
          ...facts(outcome.launched, req.region),
          ...placementFacts(outcome.option),
          provisionAttempts: outcome.attempts,
        };
      }
      throw activityFailure(
        'INSTANCE_CAPACITY_UNAVAILABLE',
        `no capacity in any pair: ${outcome.attempts.map((a) => `${describeOption(a)}: ${a.result}`).join('; ')}`,
        undefined,
        { provisionAttempts: outcome.attempts },
      );
    },

    /** Waits (heartbeating, with backoff) until the instance runs and its executor accepts commands. */
    async waitForHostReady(req: WaitForHostRequest): Promise<{ detail: string }> {
      const executor = executors.for(req.executor);
      const wait = waitContext();
      return pollWithBackoff(wait, req.polling, async (attempt) => {
        const state =
          (await describeInstance(aws.ec2(req.host.region), req.host.instanceId))?.State?.Name ?? 'unknown';
        if (['shutting-down', 'terminated', 'stopping', 'stopped'].includes(state)) {
          throw activityFailure('INSTANCE_NOT_RUNNING', `instance ${req.host.instanceId} is ${state}`);
        }
        if (state !== 'running') {
          wait.heartbeat({ attempt, state });
          return undefined;
        }
        const readiness = await executor.probeReady(req.host);
        wait.heartbeat({ attempt, state, detail: readiness.detail });
        return readiness.ready ? { detail: readiness.detail } : undefined;
      });
    },

    /** Terminates the leg's machine and frees what the executor holds for it. Idempotent. */
    async terminateInstance(req: TerminateRequest): Promise<{ terminated: string[] }> {
      await terminateLeg(req.host.region, {
        knownInstanceIds: [req.host.instanceId],
        launchUncertain: false,
      });
      await executors.for(req.executor).release(req.host);
      return { terminated: [req.host.instanceId] };
    },

    /**
     * A leg's cleanup (and its run's safety net for a leg that ended without
     * one): terminates every live machine tagged with the leg and those it
     * knows, riding out EC2's eventual consistency (src/machines/terminate.ts).
     */
    async terminateLegInstances(req: TerminateLegRequest): Promise<{ terminated: string[] }> {
      const ids = await terminateLeg(req.region, {
        legWorkflowId: req.legWorkflowId,
        knownInstanceIds: req.knownInstanceIds ?? [],
        launchUncertain: req.launchUncertain ?? false,
      });
      for (const instanceId of ids) {
        await executors.for(req.executor).release({ instanceId, target: req.target, region: req.region });
      }
      return { terminated: ids };
    },
  };
}
