/**
 * The approved digest, and its proof: when the environment requires
 * attestation, a digest read from SSM is servable only if checkDigest finds
 * a PASSED verification summary for exactly that digest and environment,
 * signed by the environment's KMS key (a live environment also refuses
 * simulated summaries).
 *
 * The check runs inside the approved-digest read, so the cache keeps its
 * result with the digest for the same TTL, and its single-flight refresh
 * gives one verification per TTL window whatever the request rate.
 *
 * A check that cannot run (registry or KMS unreachable, or slower than the
 * deadline) is never taken as a pass: it is `unavailable`, answered like an
 * unreadable SSM parameter (503, exit 22).
 */
import type { DigestCheck } from '../attestation/check-digest';
import { REASON_TEXT } from '../attestation/verify';
import { awsErrorMessage } from '../aws/errors';
import type { PinnedImage } from '../domain/image-ref';
import { unavailableReason, type ApprovedDigestOutcome } from './approved-digest';

/** Checks one digest's proof; may throw when KMS cannot be reached. */
export type DigestVerifier = (image: PinnedImage, signal: AbortSignal) => Promise<DigestCheck>;

export interface VerificationStats {
  /** Verifications started (one per TTL window at most, with the cache). */
  verifications: number;
  /** Verifications that found the digest servable. */
  passed: number;
  /** Verifications that refused the digest (exit 26). */
  refused: number;
  /** Verifications that could not run (503, exit 22). */
  unavailable: number;
}

export class AttestedDigestReader {
  private readonly counters: VerificationStats = { verifications: 0, passed: 0, refused: 0, unavailable: 0 };

  constructor(
    private readonly read: () => Promise<ApprovedDigestOutcome>,
    private readonly verify: DigestVerifier,
    /** Bound on one verification, every registry and KMS call included. */
    private readonly timeoutMs: number,
  ) {}

  /** The read, then (for an approved digest) its check. Never throws. */
  readonly get = async (): Promise<ApprovedDigestOutcome> => {
    const outcome = await this.read();
    if (outcome.kind !== 'approved') return outcome;
    const checked = await this.check(outcome.image, outcome.version);
    this.counters[
      checked.kind === 'approved' ? 'passed' : checked.kind === 'unattested' ? 'refused' : 'unavailable'
    ] += 1;
    return checked;
  };

  stats(): VerificationStats {
    return { ...this.counters };
  }

  private async check(image: PinnedImage, version: number | null): Promise<ApprovedDigestOutcome> {
    this.counters.verifications += 1;
    const deadline = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        deadline.abort();
        resolve('timeout');
      }, this.timeoutMs);
    });
    let result: DigestCheck | 'timeout';
    try {
      result = await Promise.race([this.verify(image, deadline.signal), timedOut]);
    } catch (err) {
      // checkDigest answers for the key's state itself; what it throws is KMS not answering.
      return {
        kind: 'unavailable',
        source: 'kms',
        reason: unavailableReason(err, deadline.signal.aborted),
        detail: awsErrorMessage(err),
      };
    } finally {
      clearTimeout(timer);
    }
    if (result === 'timeout') {
      return {
        kind: 'unavailable',
        source: 'attestation',
        reason: 'timeout',
        detail: `the attestation check took longer than ${this.timeoutMs} ms`,
      };
    }
    if (result.ok)
      return { kind: 'approved', image, version, attestedBy: result.summary?.sentinel.runWorkflowId ?? '?' };
    if (result.reason === 'ATTESTATIONS_UNREADABLE') {
      return {
        kind: 'unavailable',
        source: 'registry',
        reason: deadline.signal.aborted ? 'timeout' : 'unreachable',
        detail: `${REASON_TEXT.ATTESTATIONS_UNREADABLE.summary}: ${result.detail ?? ''}`,
      };
    }
    return {
      kind: 'unattested',
      image,
      version,
      reason: result.reason ?? 'ATTESTATION_MISSING',
      ...(result.detail ? { detail: result.detail } : {}),
    };
  }
}
