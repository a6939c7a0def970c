/**
 * The approved pointer: one SSM parameter per environment, holding
 * `<repository>@sha256:<digest>`. Read at the start and end of every run;
 * written only by `promoteDigest`, and only over the value the run started from.
 */
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import type { AwsClients } from '../aws/clients';
import { awsErrorMessage, awsErrorName, isCredentialError } from '../aws/errors';
import type { ApprovedDigestState } from '../domain/run';
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
 * - the value is re-read and must still be the one the run started from
 *   (else PROMOTION_CONFLICT, nothing written);
 * - when the parameter did not exist, it is created with Overwrite=false,
 *   which SSM itself refuses if someone created it meanwhile;
 * - the version SSM returns must directly follow the one read, which
 *   reveals a write that slipped in between the read and the put.
 * A retried promotion finds the candidate already there and does nothing.
 * A plain function: the promotion activity and `sentinel promote --rollback` both write through it.
 */
export async function promoteDigest(aws: AwsClients, req: PromotionRequest): Promise<PromotionOutcome> {
  const current = await readParameter(aws, req);
  if (current.reference === req.candidate) return { status: 'already_promoted', version: current.version };
  if (current.reference !== req.expected.reference) {
    throw activityFailure(
      'PROMOTION_CONFLICT',
      `${req.parameter} moved from ${req.expected.reference ?? '(absent)'} to ${current.reference ?? '(absent)'} during the run; not overwritten`,
    );
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
    throw activityFailure(
      'PROMOTION_CONFLICT',
      `${req.parameter} was written concurrently (version ${current.version} read, ${version} after our write); check its history and re-run`,
    );
  }
  return { status: 'promoted', version: version ?? null };
}

export function approvedDigestActivities({ aws }: Pick<ActivityDeps, 'aws'>) {
  return {
    async readApprovedDigest(ref: ApprovedDigestRef): Promise<ApprovedDigestState> {
      return readParameter(aws, ref);
    },

    /** Compare-and-set of the approved digest (promoteDigest above). */
    async promoteDigest(req: PromotionRequest): Promise<PromotionOutcome> {
      return promoteDigest(aws, req);
    },
  };
}
