/**
 * EC2 lifecycle of a leg's machine: provision (idempotently), wait until it
 * runs and accepts commands, terminate.
 */
import { createHash } from 'node:crypto';
import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  type Instance,
  type Tag,
} from '@aws-sdk/client-ec2';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { awsErrorMessage, isCapacityError, provisionFailureCode } from '../aws/errors';
import type { ExecutorConfig, TargetConfig } from '../config/schema';
import type { InstanceFacts } from '../domain/run';
import { pollWithBackoff, type HostRef } from '../executors/types';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';
import { terminateLegMachines } from './leg-machines';
import { waitContext } from './wait-context';

/** Tags Sentinel puts on every machine it launches; the janitor and the IAM policy key on them. */
export const TAG = {
  purpose: 'radix:purpose',
  environment: 'radix:environment',
  runId: 'radix:run-id',
  leg: 'radix:leg',
  target: 'radix:target',
  expiresAt: 'radix:expires-at',
} as const;
export const PURPOSE = 'gpu-matrix';

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

/** EC2 idempotency token: the same leg and instance type always map to the same token (at most 64 ASCII characters). */
export function clientToken(legWorkflowId: string, instanceType: string): string {
  return createHash('sha256').update(`${legWorkflowId}\n${instanceType}`).digest('hex');
}

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

export function instanceActivities({ aws, executors }: Pick<ActivityDeps, 'aws' | 'executors'>) {
  async function findLegInstances(region: string, legWorkflowId: string, states = LIVE_STATES): Promise<Instance[]> {
    const found: Instance[] = [];
    let nextToken: string | undefined;
    do {
      const out = await aws.ec2(region).send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${TAG.leg}`, Values: [legWorkflowId] },
            { Name: 'instance-state-name', Values: states },
          ],
          NextToken: nextToken,
        }),
      );
      for (const r of out.Reservations ?? []) found.push(...(r.Instances ?? []));
      nextToken = out.NextToken;
    } while (nextToken);
    return found;
  }

  function facts(instance: Instance, region: string): InstanceFacts {
    return {
      instanceId: instance.InstanceId!,
      instanceType: instance.InstanceType ?? 'unknown',
      ami: instance.ImageId ?? 'unknown',
      region,
      ...(instance.LaunchTime ? { launchedAt: instance.LaunchTime.toISOString() } : {}),
    };
  }

  return {
    /**
     * Launches the leg's machine, at most once per leg: an instance already
     * tagged with this leg is returned as is (a retried or replayed activity,
     * or a worker that crashed after RunInstances), and RunInstances carries
     * a ClientToken derived from the leg so EC2 itself also deduplicates.
     * Instance types are tried in order while EC2 reports no capacity.
     */
    async provisionInstance(req: ProvisionRequest): Promise<InstanceFacts> {
      const existing = await findLegInstances(req.region, req.legWorkflowId);
      if (existing[0]) return facts(existing[0], req.region);

      const expiresAt = req.expiresAt ?? new Date(Date.now() + req.cleanupTtlMs).toISOString();
      const tags: Tag[] = [
        { Key: 'Name', Value: `sentinel-${req.environment}-${req.target.name}` },
        { Key: TAG.purpose, Value: PURPOSE },
        { Key: TAG.environment, Value: req.environment },
        { Key: TAG.runId, Value: req.runWorkflowId },
        { Key: TAG.leg, Value: req.legWorkflowId },
        { Key: TAG.target, Value: req.target.name },
        { Key: TAG.expiresAt, Value: expiresAt },
      ];
      const capacityErrors: string[] = [];
      for (const instanceType of req.target.instanceTypes) {
        Context.current().heartbeat({ instanceType });
        try {
          const out = await aws.ec2(req.region).send(
            new RunInstancesCommand({
              ImageId: req.target.ami,
              InstanceType: instanceType as never,
              MinCount: 1,
              MaxCount: 1,
              ClientToken: clientToken(req.legWorkflowId, instanceType),
              IamInstanceProfile: { Name: req.instanceProfile },
              // A machine that shuts itself down is gone, not parked and billed.
              InstanceInitiatedShutdownBehavior: 'terminate',
              MetadataOptions: { HttpTokens: 'required' },
              TagSpecifications: [
                { ResourceType: 'instance', Tags: tags },
                { ResourceType: 'volume', Tags: tags },
              ],
            }),
          );
          const instance = out.Instances?.[0];
          if (!instance?.InstanceId) throw activityFailure('PROVISION_FAILED', 'RunInstances returned no instance');
          return facts(instance, req.region);
        } catch (err) {
          if (isCapacityError(err)) {
            capacityErrors.push(`${instanceType}: ${awsErrorMessage(err)}`);
            continue;
          }
          if (err instanceof ApplicationFailure) throw err;
          const code = provisionFailureCode(err);
          throw activityFailure(code, `RunInstances ${req.target.ami} ${instanceType} in ${req.region}: ${awsErrorMessage(err)}`, err);
        }
      }
      throw activityFailure('INSTANCE_CAPACITY_UNAVAILABLE', capacityErrors.join('; '));
    },

    /** Waits (heartbeating, with backoff) until the instance runs and its executor accepts commands. */
    async waitForHostReady(req: WaitForHostRequest): Promise<{ detail: string }> {
      const executor = executors.for(req.executor);
      const wait = waitContext();
      return pollWithBackoff(wait, req.polling, async (attempt) => {
        const out = await aws.ec2(req.host.region).send(new DescribeInstancesCommand({ InstanceIds: [req.host.instanceId] }));
        const state = out.Reservations?.[0]?.Instances?.[0]?.State?.Name ?? 'unknown';
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
      await terminateLegMachines(aws, { region: req.host.region, knownInstanceIds: [req.host.instanceId], launchUncertain: false });
      await executors.for(req.executor).release(req.host);
      return { terminated: [req.host.instanceId] };
    },

    /**
     * A leg's cleanup (and its run's safety net for a leg that ended without
     * one): terminates every live machine tagged with the leg and those it
     * knows, riding out EC2's eventual consistency (./leg-machines.ts).
     */
    async terminateLegInstances(req: TerminateLegRequest): Promise<{ terminated: string[] }> {
      const ids = await terminateLegMachines(aws, {
        region: req.region,
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
