/**
 * Terminating a leg's machines for certain. Cleanup terminates by the leg's
 * tag, always: every live instance tagged radix:leg=<leg id>, plus the
 * instances the leg knows it launched (a machine from a retried launch whose
 * tag lookup lagged is tagged too, so none is left behind).
 *
 * EC2 is eventually consistent: right after a launch, DescribeInstances may
 * not list the instance yet and TerminateInstances may answer
 * InvalidInstanceID.NotFound. So a known instance that is "not found" is
 * retried for a bounded grace, not taken as already gone; and when the leg
 * does not know whether its launch happened, the tag is looked up again for
 * that grace before concluding that nothing was launched.
 */
import { DescribeInstancesCommand, TerminateInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { Context } from '@temporalio/activity';
import type { AwsClients } from '../aws/clients';
import { awsErrorMessage, awsErrorName, isCredentialError } from '../aws/errors';
import { activityFailure } from './failure';

/** How long EC2's eventual consistency may hide a just-launched instance. */
export const EVENTUAL_CONSISTENCY_GRACE_MS = 30_000;

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];
const GONE_STATES = new Set(['shutting-down', 'terminated']);

export interface LegMachines {
  region: string;
  /** radix:leg; absent for a single known instance (terminateInstance of histories before the tag sweep). */
  legWorkflowId?: string;
  /** Instances the leg knows it launched. */
  knownInstanceIds: string[];
  /** The leg does not know whether its launch happened (provisioning failed without EC2 refusing it). */
  launchUncertain: boolean;
  graceMs?: number;
}

async function describeTagged(aws: AwsClients, region: string, legWorkflowId: string, signal: AbortSignal): Promise<Instance[]> {
  const found: Instance[] = [];
  let nextToken: string | undefined;
  do {
    const out = await aws.ec2(region).send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag:radix:leg', Values: [legWorkflowId] },
          { Name: 'instance-state-name', Values: LIVE_STATES },
        ],
        NextToken: nextToken,
      }),
      { abortSignal: signal },
    );
    for (const r of out.Reservations ?? []) found.push(...(r.Instances ?? []));
    nextToken = out.NextToken || undefined;
  } while (nextToken);
  return found;
}

/** TerminateInstances for one instance: 'done' (now shutting down or gone) or 'not_found' (not visible to EC2 yet, or long gone). */
async function terminateOne(aws: AwsClients, region: string, instanceId: string, signal: AbortSignal): Promise<'done' | 'not_found'> {
  try {
    await aws.ec2(region).send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }), { abortSignal: signal });
    return 'done';
  } catch (err) {
    if (awsErrorName(err) === 'InvalidInstanceID.NotFound') return 'not_found';
    if (isCredentialError(err)) throw activityFailure('AWS_CREDENTIALS_REFUSED', awsErrorMessage(err), err);
    // An instance that is already gone (terminated behind our back) is done, whatever the call said about it
    // (moto, for one, fails on the network interface of an instance terminated before).
    if (await alreadyGone(aws, region, instanceId, signal)) return 'done';
    throw activityFailure('CLEANUP_FAILED', `terminate ${instanceId}: ${awsErrorMessage(err)}`, err);
  }
}

async function alreadyGone(aws: AwsClients, region: string, instanceId: string, signal: AbortSignal): Promise<boolean> {
  try {
    const out = await aws.ec2(region).send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }), { abortSignal: signal });
    const state = out.Reservations?.[0]?.Instances?.[0]?.State?.Name ?? '';
    return GONE_STATES.has(state);
  } catch {
    return false;
  }
}

/** Terminates every machine of the leg; returns the ids terminated (those already shutting down included). */
export async function terminateLegMachines(aws: AwsClients, req: LegMachines): Promise<string[]> {
  const ctx = Context.current();
  const grace = req.graceMs ?? EVENTUAL_CONSISTENCY_GRACE_MS;
  const deadline = Date.now() + grace;
  const pending = new Set(req.knownInstanceIds);
  const terminated = new Set<string>();
  let delay = 250;
  for (let round = 1; ; round++) {
    const tagged = req.legWorkflowId ? await describeTagged(aws, req.region, req.legWorkflowId, ctx.cancellationSignal) : [];
    for (const instance of tagged) {
      if (instance.InstanceId && !terminated.has(instance.InstanceId)) pending.add(instance.InstanceId);
    }
    for (const id of [...pending]) {
      if ((await terminateOne(aws, req.region, id, ctx.cancellationSignal)) === 'done') {
        pending.delete(id);
        terminated.add(id);
      }
    }
    ctx.heartbeat({ round, terminated: [...terminated], notFoundYet: [...pending] });
    const waitingForLaunch = req.launchUncertain && terminated.size === 0;
    if (pending.size === 0 && !waitingForLaunch) break;
    if (Date.now() >= deadline) {
      // Still not found after the grace: never launched, or gone long enough for EC2 to forget it.
      break;
    }
    await ctx.sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, 5_000);
  }
  // A last look by tag: a launch that became visible meanwhile is not left behind.
  if (req.legWorkflowId && terminated.size > 0) {
    for (const instance of await describeTagged(aws, req.region, req.legWorkflowId, ctx.cancellationSignal)) {
      if (instance.InstanceId && !terminated.has(instance.InstanceId) && !GONE_STATES.has(instance.State?.Name ?? '')) {
        if ((await terminateOne(aws, req.region, instance.InstanceId, ctx.cancellationSignal)) === 'done') terminated.add(instance.InstanceId);
      }
    }
  }
  return [...terminated];
}
