/**
 * Terminating machines, idempotently: an instance already shutting down or
 * gone counts as terminated.
 *
 * A leg's machines are terminated for certain: every live instance tagged
 * radix:leg=<leg id>, plus the instances the leg knows it launched (a machine
 * from a retried launch whose tag lookup lagged is tagged too, so none is
 * left behind).
 *
 * EC2 is eventually consistent: right after a launch, DescribeInstances may
 * not list the instance yet and TerminateInstances may answer
 * InvalidInstanceID.NotFound. So a known instance that is "not found" is
 * retried for a bounded grace, not taken as already gone; and when the leg
 * does not know whether its launch happened, the tag is looked up again for
 * that grace before concluding that nothing was launched.
 */
import { TerminateInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { awsErrorName, isCredentialError } from '../aws/errors';
import type { WaitContext } from '../executors/types';
import { TerminationFailed } from './errors';
import { describeInstance, findLegMachines } from './find';
import { GONE_STATES } from './tags';

/** How long EC2's eventual consistency may hide a just-launched instance. */
export const EVENTUAL_CONSISTENCY_GRACE_MS = 30_000;

/** Instances per TerminateInstances call. */
const TERMINATE_BATCH = 50;

/**
 * TerminateInstances: 'done' (shutting down or gone) or 'not_found' (EC2 does not
 * know one of them: not visible yet, or long gone). Anything else: TerminationFailed.
 */
async function terminate(ec2: EC2Client, ids: string[], signal?: AbortSignal): Promise<'done' | 'not_found'> {
  try {
    await ec2.send(
      new TerminateInstancesCommand({ InstanceIds: ids }),
      signal ? { abortSignal: signal } : {},
    );
    return 'done';
  } catch (err) {
    if (awsErrorName(err) === 'InvalidInstanceID.NotFound') return 'not_found';
    // An instance that is already gone (terminated behind our back) is done, whatever the call said about it
    // (moto, for one, fails on the network interface of an instance terminated before).
    if (!isCredentialError(err) && ids.length === 1 && (await alreadyGone(ec2, ids[0]!, signal)))
      return 'done';
    throw new TerminationFailed(ids, err);
  }
}

async function alreadyGone(ec2: EC2Client, instanceId: string, signal?: AbortSignal): Promise<boolean> {
  try {
    return GONE_STATES.has((await describeInstance(ec2, instanceId, signal))?.State?.Name ?? '');
  } catch {
    return false;
  }
}

/**
 * Terminates the instances in batches; one EC2 no longer knows is skipped (not
 * listed as terminated). Returns the ids terminated.
 */
export async function terminateInstances(
  ec2: EC2Client,
  ids: string[],
  onProgress?: (terminated: number) => void,
): Promise<string[]> {
  const terminated: string[] = [];
  for (let start = 0; start < ids.length; start += TERMINATE_BATCH) {
    const batch = ids.slice(start, start + TERMINATE_BATCH);
    if ((await terminate(ec2, batch)) === 'done') {
      terminated.push(...batch);
    } else {
      // One of the batch is gone already: the rest one by one.
      for (const id of batch) if ((await terminate(ec2, [id])) === 'done') terminated.push(id);
    }
    onProgress?.(terminated.length);
  }
  return terminated;
}

export interface LegMachines {
  /** radix:leg; absent for a single known instance (terminateInstance of histories before the tag sweep). */
  legWorkflowId?: string;
  /** Instances the leg knows it launched. */
  knownInstanceIds: string[];
  /** The leg does not know whether its launch happened (provisioning failed without EC2 refusing it). */
  launchUncertain: boolean;
  graceMs?: number;
}

/** Terminates every machine of the leg; returns the ids terminated (those already shutting down included). */
export async function terminateLegMachines(
  ec2: EC2Client,
  req: LegMachines,
  wait: WaitContext,
): Promise<string[]> {
  const signal = wait.signal;
  const grace = req.graceMs ?? EVENTUAL_CONSISTENCY_GRACE_MS;
  const deadline = Date.now() + grace;
  const pending = new Set(req.knownInstanceIds);
  const terminated = new Set<string>();
  let delay = 250;
  for (let round = 1; ; round++) {
    const tagged = req.legWorkflowId ? await findLegMachines(ec2, req.legWorkflowId, { signal }) : [];
    for (const instance of tagged) {
      if (instance.InstanceId && !terminated.has(instance.InstanceId)) pending.add(instance.InstanceId);
    }
    for (const id of [...pending]) {
      if ((await terminate(ec2, [id], signal)) === 'done') {
        pending.delete(id);
        terminated.add(id);
      }
    }
    wait.heartbeat({ round, terminated: [...terminated], notFoundYet: [...pending] });
    const waitingForLaunch = req.launchUncertain && terminated.size === 0;
    if (pending.size === 0 && !waitingForLaunch) break;
    if (Date.now() >= deadline) {
      // Still not found after the grace: never launched, or gone long enough for EC2 to forget it.
      break;
    }
    await wait.sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, 5_000);
  }
  // A last look by tag: a launch that became visible meanwhile is not left behind.
  if (req.legWorkflowId && terminated.size > 0) {
    for (const instance of await findLegMachines(ec2, req.legWorkflowId, { signal })) {
      if (
        instance.InstanceId &&
        !terminated.has(instance.InstanceId) &&
        !GONE_STATES.has(instance.State?.Name ?? '')
      ) {
        if ((await terminate(ec2, [instance.InstanceId], signal)) === 'done')
          terminated.add(instance.InstanceId);
      }
    }
  }
  return [...terminated];
}
