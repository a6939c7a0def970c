/**
 * The one way the approved pointer is written: compare-and-set, by the
 * promotion activity and by `sentinel promote --rollback`.
 */
import { PutParameterCommand, type ParameterHistory } from '@aws-sdk/client-ssm';
import { awsErrorMessage, awsErrorName } from '../aws/errors';
import type { ApprovedDigestState, OverwrittenValue } from '../domain/run';
import { PointerAccessError, PromotionConflictError, PromotionOverwrittenError } from './errors';
import { approvedDigestHistory } from './history';
import { readApprovedDigest, type ApprovedDigestRef, type SsmClients } from './pointer';

export interface CompareAndSetRequest extends ApprovedDigestRef {
  /** What the writer read first; the write happens only over this value. */
  expected: ApprovedDigestState;
  candidate: string;
  /** Who writes, kept in the parameter's description (visible in its history). */
  workflowId: string;
  /** The parameter's description for this write, when not the promotion's default. */
  description?: string;
}

export interface CompareAndSetOutcome {
  status: 'promoted' | 'already_promoted';
  version: number | null;
}

/**
 * Compare-and-set over SSM, which has no native CAS:
 * - the value is read and must still be the one the writer started from
 *   (else PromotionConflictError, nothing written);
 * - `beforeWrite` (the promotion's order check) may refuse; when it ran, the
 *   value is read once more right before the write, so the window in which
 *   another writer can slip in is one SSM round trip, not the check's;
 * - when the parameter did not exist, it is created with Overwrite=false,
 *   which SSM itself refuses if someone created it meanwhile;
 * - the version SSM returns must directly follow the one read. If it does
 *   not, another write landed between the last read and ours and was
 *   overwritten: PromotionOverwrittenError names it (from the parameter's history).
 * A retried write finds the candidate already there and does nothing.
 */
export async function compareAndSetApprovedDigest<T>(
  aws: SsmClients,
  req: CompareAndSetRequest,
  beforeWrite?: (current: ApprovedDigestState) => Promise<T>,
): Promise<CompareAndSetOutcome & { checked?: T }> {
  const current = await readApprovedDigest(aws, req);
  if (current.reference === req.candidate) return { status: 'already_promoted', version: current.version };
  expectUnmoved(req, current);
  let checked: T | undefined;
  if (beforeWrite) {
    checked = await beforeWrite(current);
    const again = await readApprovedDigest(aws, req);
    if (again.reference === req.candidate) return { status: 'already_promoted', version: again.version };
    if (again.version !== current.version || again.reference !== current.reference) {
      throw new PromotionConflictError(
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
        Description: (
          req.description ?? `Approved cluster-agent image, promoted by Sentinel run ${req.workflowId}`
        ).slice(0, 1024),
      }),
    );
    version = out.Version;
  } catch (err) {
    if (awsErrorName(err) === 'ParameterAlreadyExists') {
      throw new PromotionConflictError(
        `${req.parameter} was created by someone else during the run; not overwritten`,
        err,
      );
    }
    throw new PointerAccessError('write', req.parameter, `${req.parameter}: ${awsErrorMessage(err)}`, err);
  }
  if (current.version !== null && version !== undefined && version !== current.version + 1) {
    const overwritten = await writesBetween(aws, req, current.version, version);
    if (overwritten.length > 0) {
      throw new PromotionOverwrittenError(
        `${req.parameter}: another write landed between Sentinel's read (version ${current.version}) and its write (version ${version}) and was overwritten: ${overwritten
          .map((o) => `${o.reference} (version ${o.version}${o.description ? `, ${o.description}` : ''})`)
          .join('; ')}. ${req.candidate} is approved now`,
        overwritten,
        version,
      );
    }
  }
  return { status: 'promoted', version: version ?? null, ...(checked === undefined ? {} : { checked }) };
}

/** PromotionConflictError unless the value read is still the one the writer started from. */
function expectUnmoved(req: CompareAndSetRequest, current: ApprovedDigestState): void {
  if (current.reference === req.expected.reference) return;
  throw new PromotionConflictError(
    `${req.parameter} moved from ${req.expected.reference ?? '(absent)'} to ${current.reference ?? '(absent)'} during the run; not overwritten`,
  );
}

/** The values other writers put between version `read` and our `written` one, from the parameter's history. */
async function writesBetween(
  aws: SsmClients,
  req: CompareAndSetRequest,
  read: number,
  written: number,
): Promise<OverwrittenValue[]> {
  let history: ParameterHistory[];
  try {
    history = await approvedDigestHistory(aws, req);
  } catch (err) {
    // The history could not be read: the versions alone still prove an overwrite happened.
    return Array.from({ length: written - read - 1 }, (_, i) => ({
      reference: `(unknown: ${awsErrorMessage(err)})`,
      version: read + 1 + i,
    }));
  }
  const found: OverwrittenValue[] = [];
  for (const h of history) {
    if (h.Version === undefined || h.Version <= read || h.Version >= written) continue;
    found.push({
      reference: h.Value ?? '',
      version: h.Version,
      ...(h.LastModifiedDate ? { lastModified: h.LastModifiedDate.toISOString() } : {}),
      ...(h.Description ? { description: h.Description } : {}),
    });
  }
  // A value equal to ours is our own write arriving twice, not someone else's.
  return found.filter((o) => o.reference !== req.candidate).sort((a, b) => a.version - b.version);
}
