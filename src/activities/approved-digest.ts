/**
 * The approved pointer: one SSM parameter per environment, holding
 * `<repository>@sha256:<digest>`. Read at the start and end of every run;
 * written only by `promoteDigest`, only over the value the run started from,
 * and only forward (never to an image built before the one it holds).
 */
import { GetParameterCommand, GetParameterHistoryCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { AwsClients } from '../aws/clients';
import { awsErrorMessage, awsErrorName, isCredentialError } from '../aws/errors';
import type { ApprovedDigestState, OverwrittenValue, PromotionOrder } from '../domain/run';
import { checkPromotionOrder } from '../promotion/order';
import { RegistryClient } from '../registry/client';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';

export interface ApprovedDigestRef {
  region: string;
  parameter: string;
}

export interface PromotionRequest extends ApprovedDigestRef {
  /** What the run read at its start; the write happens only over this value. */
  expected: ApprovedDigestState;
  candidate: string;
  /** Who promotes, kept in the parameter's description (visible in its history). */
  workflowId: string;
  /** The parameter's description for this write, when not the promotion's default. */
  description?: string;
}

export interface PromotionOutcome {
  status: 'promoted' | 'already_promoted';
  version: number | null;
  /** The build times that allowed the promotion (absent when the pointer held nothing to order against). */
  order?: PromotionOrder;
}

export async function readParameter(aws: AwsClients, ref: ApprovedDigestRef): Promise<ApprovedDigestState> {
  try {
    const out = await aws.ssm(ref.region).send(new GetParameterCommand({ Name: ref.parameter }));
    return { reference: out.Parameter?.Value ?? null, version: out.Parameter?.Version ?? null };
  } catch (err) {
    if (awsErrorName(err) === 'ParameterNotFound') return { reference: null, version: null };
    if (isCredentialError(err)) throw activityFailure('AWS_CREDENTIALS_REFUSED', awsErrorMessage(err), err);
    throw activityFailure('APPROVED_DIGEST_UNREADABLE', `${ref.parameter}: ${awsErrorMessage(err)}`, err);
  }
}

/**
 * Compare-and-set over SSM, which has no native CAS:
 * - the value is read and must still be the one the run started from
 *   (else PROMOTION_CONFLICT, nothing written);
 * - `beforeWrite` (the promotion's order check) may refuse; when it ran, the
 *   value is read once more right before the write, so the window in which
 *   another writer can slip in is one SSM round trip, not the check's;
 * - when the parameter did not exist, it is created with Overwrite=false,
 *   which SSM itself refuses if someone created it meanwhile;
 * - the version SSM returns must directly follow the one read. If it does
 *   not, another write landed between the last read and ours and was
 *   overwritten: PROMOTION_OVERWRITTEN names it (from the parameter's history).
 * A retried promotion finds the candidate already there and does nothing.
 * A plain function: the promotion activity and `sentinel promote --rollback` both write through it.
 */
export async function promoteDigest<T>(
  aws: AwsClients,
  req: PromotionRequest,
  beforeWrite?: (current: ApprovedDigestState) => Promise<T>,
): Promise<PromotionOutcome & { checked?: T }> {
  const current = await readParameter(aws, req);
  if (current.reference === req.candidate) return { status: 'already_promoted', version: current.version };
  expectUnmoved(req, current);
  let checked: T | undefined;
  if (beforeWrite) {
    checked = await beforeWrite(current);
    const again = await readParameter(aws, req);
    if (again.reference === req.candidate) return { status: 'already_promoted', version: again.version };
    if (again.version !== current.version || again.reference !== current.reference) {
      throw activityFailure(
        'PROMOTION_CONFLICT',
        `${req.parameter} was written while the promotion was being checked (version ${current.version ?? '(absent)'} read, then version ${again.version ?? '(absent)'}: ${again.reference ?? '(absent)'}); not overwritten`,
      );
    }
  }
  let version: number | undefined;
  try {
    const out = await aws.ssm(req.region).send(
      new PutParameterCommand({
        Name: req.parameter,
        Value: req.candidate,
        Type: 'String',
        Overwrite: current.reference !== null,
        Description: (req.description ?? `Approved cluster-agent image, promoted by Sentinel run ${req.workflowId}`).slice(0, 1024),
      }),
    );
    version = out.Version;
  } catch (err) {
    if (awsErrorName(err) === 'ParameterAlreadyExists') {
      throw activityFailure('PROMOTION_CONFLICT', `${req.parameter} was created by someone else during the run; not overwritten`, err);
    }
    if (isCredentialError(err)) throw activityFailure('AWS_CREDENTIALS_REFUSED', awsErrorMessage(err), err);
    throw activityFailure('PROMOTION_FAILED', `${req.parameter}: ${awsErrorMessage(err)}`, err);
  }
  if (current.version !== null && version !== undefined && version !== current.version + 1) {
    const overwritten = await writesBetween(aws, req, current.version, version);
    if (overwritten.length > 0) {
      throw activityFailure(
        'PROMOTION_OVERWRITTEN',
        `${req.parameter}: another write landed between Sentinel's read (version ${current.version}) and its write (version ${version}) and was overwritten: ${overwritten
          .map((o) => `${o.reference} (version ${o.version}${o.description ? `, ${o.description}` : ''})`)
          .join('; ')}. ${req.candidate} is approved now`,
        undefined,
        { overwritten, version },
      );
    }
  }
  return { status: 'promoted', version: version ?? null, ...(checked === undefined ? {} : { checked }) };
}

/** PROMOTION_CONFLICT unless the value read is still the one the run started from. */
function expectUnmoved(req: PromotionRequest, current: ApprovedDigestState): void {
  if (current.reference === req.expected.reference) return;
  throw activityFailure(
    'PROMOTION_CONFLICT',
    `${req.parameter} moved from ${req.expected.reference ?? '(absent)'} to ${current.reference ?? '(absent)'} during the run; not overwritten`,
  );
}

/** The values other writers put between version `read` and our `written` one, from the parameter's history. */
async function writesBetween(aws: AwsClients, req: PromotionRequest, read: number, written: number): Promise<OverwrittenValue[]> {
  const found: OverwrittenValue[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const out = await aws.ssm(req.region).send(new GetParameterHistoryCommand({ Name: req.parameter, MaxResults: 50, NextToken: nextToken }));
      for (const h of out.Parameters ?? []) {
        if (h.Version === undefined || h.Version <= read || h.Version >= written) continue;
        found.push({
          reference: h.Value ?? '',
          version: h.Version,
          ...(h.LastModifiedDate ? { lastModified: h.LastModifiedDate.toISOString() } : {}),
          ...(h.Description ? { description: h.Description } : {}),
        });
      }
      nextToken = out.NextToken;
    } while (nextToken);
  } catch (err) {
    // The history could not be read: the versions alone still prove an overwrite happened.
    return Array.from({ length: written - read - 1 }, (_, i) => ({ reference: `(unknown: ${awsErrorMessage(err)})`, version: read + 1 + i }));
  }
  // A value equal to ours is our own write arriving twice, not someone else's.
  return found.filter((o) => o.reference !== req.candidate).sort((a, b) => a.version - b.version);
}

export function approvedDigestActivities({ aws }: Pick<ActivityDeps, 'aws'>) {
  const registry = new RegistryClient();
  return {
    async readApprovedDigest(ref: ApprovedDigestRef): Promise<ApprovedDigestState> {
      return readParameter(aws, ref);
    },

    /**
     * Promotion: compare-and-set (promoteDigest above), forward only (the
     * candidate must not be older than the image the pointer holds,
     * ../promotion/order.ts). An overwrite of another writer's value raises
     * the sentinel_promotion_overwritten alert counter.
     */
    async promoteDigest(req: PromotionRequest): Promise<PromotionOutcome> {
      const signal = Context.current().cancellationSignal;
      try {
        const { checked, ...outcome } = await promoteDigest(aws, req, (current) => checkPromotionOrder(registry, req.candidate, current.reference, signal));
        return checked ? { ...outcome, order: checked } : outcome;
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === 'PROMOTION_OVERWRITTEN') {
          Context.current()
            .metricMeter.createCounter(PROMOTION_OVERWRITTEN_METRIC, '', 'Promotions whose write replaced a value another writer had just put into the approved pointer')
            .add(1, { parameter: req.parameter });
        }
        throw err;
      }
    },
  };
}

/** Alert counter: a promotion overwrote another writer's value (docs/observability.md). */
export const PROMOTION_OVERWRITTEN_METRIC = 'sentinel_promotion_overwritten';
