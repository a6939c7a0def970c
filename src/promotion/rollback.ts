/**
 * `sentinel promote --rollback`: puts the previous approved digest back.
 *
 * The previous digest is read from the parameter's own history
 * (GetParameterHistory): the newest earlier version whose value is a valid
 * pinned reference of the configured repository and differs from the current
 * value. It is written compare-and-set over the current value, exactly as a
 * promotion writes (./compare-and-set.ts), so a promotion racing the rollback is
 * never overwritten. Every rollback leaves an evidence record (JSON and
 * Markdown) in the environment's evidence location.
 */
import type { AwsClients } from '../aws/clients';
import type { EnvironmentConfig } from '../config/schema';
import { parsePinnedImage } from '../domain/image-ref';
import type { ApprovedDigestState, EvidenceLocation, OverwrittenValue } from '../domain/run';
import { storeEvidence } from '../evidence/store';
import { PromotionOverwrittenError } from './errors';
import { compareAndSetApprovedDigest } from './compare-and-set';
import { approvedDigestHistory } from './history';
import { readApprovedDigest } from './pointer';

export const ROLLBACK_SCHEMA = 'sentinel.rollback/v1';

export interface HistoricValue {
  reference: string;
  version: number;
  lastModified?: string;
  /** The description the write left (who promoted it). */
  description?: string;
}

export interface RollbackPlan {
  environment: string;
  region: string;
  parameter: string;
  current: ApprovedDigestState;
  restore: HistoricValue;
}

export class RollbackError extends Error {
  constructor(
    readonly reason: 'parameter_absent' | 'nothing_to_restore',
    message: string,
  ) {
    super(message);
    this.name = 'RollbackError';
  }
}

export interface RollbackRecord {
  schema: typeof ROLLBACK_SCHEMA;
  environment: string;
  region: string;
  parameter: string;
  at: string;
  actor: string;
  reason: string | null;
  before: ApprovedDigestState;
  after: ApprovedDigestState;
  restoredFrom: HistoricValue;
  /** Values another writer put in the last round trip before the rollback's write, which it replaced. */
  overwritten?: OverwrittenValue[];
  configFile: string;
  configSha256: string;
}

/** What a rollback would restore, read-only. */
export async function planRollback(
  aws: AwsClients,
  environment: string,
  env: EnvironmentConfig,
): Promise<RollbackPlan> {
  const ref = { region: env.awsRegion, parameter: env.approvedDigestParameter };
  const current = await readApprovedDigest(aws, ref);
  if (current.reference === null || current.version === null) {
    throw new RollbackError(
      'parameter_absent',
      `${ref.parameter} does not exist: there is nothing to roll back (bootstrap it with sentinel bootstrap --apply --initial-digest)`,
    );
  }
  const history = await approvedDigestHistory(aws, ref);
  const earlier = history
    .filter(
      (h) =>
        h.Version !== undefined &&
        h.Version < current.version! &&
        h.Value !== undefined &&
        h.Value !== current.reference,
    )
    .sort((a, b) => b.Version! - a.Version!);
  for (const entry of earlier) {
    try {
      parsePinnedImage(entry.Value!, env.image.repository);
    } catch {
      continue; // never restore a value that is not a pinned reference of the configured repository
    }
    return {
      environment,
      region: ref.region,
      parameter: ref.parameter,
      current,
      restore: {
        reference: entry.Value!,
        version: entry.Version!,
        ...(entry.LastModifiedDate ? { lastModified: entry.LastModifiedDate.toISOString() } : {}),
        ...(entry.Description ? { description: entry.Description } : {}),
      },
    };
  }
  throw new RollbackError(
    'nothing_to_restore',
    `${ref.parameter} has no earlier version (of ${history.length}) holding a valid ${env.image.repository}@sha256:<digest> other than the current value`,
  );
}

/**
 * Writes the plan's value over the current one (compare-and-set: a
 * PromotionConflictError when the parameter moved since the plan was
 * read) and stores the evidence record; a write that landed in the last
 * round trip and was overwritten is named in the record (`overwritten`).
 */
export async function applyRollback(
  aws: AwsClients,
  plan: RollbackPlan,
  context: {
    actor: string;
    reason?: string;
    evidenceLocation: string;
    configFile: string;
    configSha256: string;
    now?: Date;
  },
): Promise<{ record: RollbackRecord; evidence: EvidenceLocation }> {
  const at = (context.now ?? new Date()).toISOString();
  let outcome: { version: number | null };
  let overwritten: OverwrittenValue[] | undefined;
  try {
    outcome = await compareAndSetApprovedDigest(aws, {
      region: plan.region,
      parameter: plan.parameter,
      expected: plan.current,
      candidate: plan.restore.reference,
      workflowId: `rollback-${plan.environment}-${at}`,
      description: `Approved cluster-agent image, rolled back by ${context.actor} with sentinel promote --rollback at ${at} (restores version ${plan.restore.version})`,
    });
  } catch (err) {
    // The rollback was written over another writer's value: record that, with what the pointer holds now.
    if (!(err instanceof PromotionOverwrittenError)) throw err;
    outcome = { version: err.version };
    overwritten = err.overwritten;
  }
  const record: RollbackRecord = {
    schema: ROLLBACK_SCHEMA,
    environment: plan.environment,
    region: plan.region,
    parameter: plan.parameter,
    at,
    actor: context.actor,
    reason: context.reason ?? null,
    before: plan.current,
    after: { reference: plan.restore.reference, version: outcome.version },
    restoredFrom: plan.restore,
    ...(overwritten ? { overwritten } : {}),
    configFile: context.configFile,
    configSha256: context.configSha256,
  };
  const evidence = await storeEvidence(aws, plan.region, context.evidenceLocation, {
    name: `rollback-${plan.environment}-${at.replace(/[:.]/g, '-')}`,
    json: `${JSON.stringify(record, null, 2)}\n`,
    markdown: renderRollbackMarkdown(record),
  });
  return { record, evidence };
}

export function renderRollbackMarkdown(r: RollbackRecord): string {
  const text = (value: string) => value.replace(/[\r\n]+/g, ' ').replace(/([\\`*_{}[\]<>|#!])/g, '\\$1');
  const code = (value: string) => `\`${value.replace(/[`\r\n|]/g, '')}\``;
  const state = (s: ApprovedDigestState) =>
    s.reference === null
      ? '(absent)'
      : `${code(s.reference)}${s.version === null ? '' : ` (version ${s.version})`}`;
  return [
    `# Sentinel rollback: ${text(r.environment)}`,
    '',
    '| | |',
    '|---|---|',
    `| Approved pointer | ${code(r.parameter)} (${text(r.region)}) |`,
    `| Before | ${state(r.before)} |`,
    `| After | ${state(r.after)} |`,
    `| Restored from | version ${r.restoredFrom.version}${r.restoredFrom.lastModified ? `, written ${text(r.restoredFrom.lastModified)}` : ''}${r.restoredFrom.description ? `: ${text(r.restoredFrom.description)}` : ''} |`,
    ...(r.overwritten && r.overwritten.length > 0
      ? [
          `| **Overwritten** | ${r.overwritten.map((o) => `${code(o.reference)} (version ${o.version}${o.description ? `: ${text(o.description)}` : ''})`).join('; ')} |`,
        ]
      : []),
    `| By | ${text(r.actor)} |`,
    `| Reason | ${r.reason ? text(r.reason) : '–'} |`,
    `| At | ${text(r.at)} |`,
    `| Configuration | ${code(r.configFile)} sha256 ${code(r.configSha256.slice(0, 16))} |`,
    '',
    `<sub>${r.schema}</sub>`,
    '',
  ].join('\n');
}
