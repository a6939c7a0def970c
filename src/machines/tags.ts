/**
 * The tags Sentinel puts on every machine it launches, and the states that
 * count as live. The janitor, the legs' cleanup, the alert gauges and the IAM
 * policy all key on these tags.
 */
import type { Instance, Tag } from '@aws-sdk/client-ec2';

export const TAG = {
  purpose: 'radix:purpose',
  environment: 'radix:environment',
  runId: 'radix:run-id',
  leg: 'radix:leg',
  target: 'radix:target',
  expiresAt: 'radix:expires-at',
} as const;
export const PURPOSE = 'gpu-matrix';

/** States of a machine that still exists (and may be billed). */
export const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];
/** States of a machine that is going or gone. */
export const GONE_STATES: ReadonlySet<string> = new Set(['shutting-down', 'terminated']);

export interface LegMachineTags {
  environment: string;
  runWorkflowId: string;
  legWorkflowId: string;
  target: string;
  /** ISO time after which the janitor may reap the machine. */
  expiresAt: string;
}

/** The tags of a leg's machine (and its volumes). */
export function legMachineTags(t: LegMachineTags): Tag[] {
  return [
    { Key: 'Name', Value: `sentinel-${t.environment}-${t.target}` },
    { Key: TAG.purpose, Value: PURPOSE },
    { Key: TAG.environment, Value: t.environment },
    { Key: TAG.runId, Value: t.runWorkflowId },
    { Key: TAG.leg, Value: t.legWorkflowId },
    { Key: TAG.target, Value: t.target },
    { Key: TAG.expiresAt, Value: t.expiresAt },
  ];
}

/** One tag's value on an instance. */
export function tagOf(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}
