/**
 * The approved digest as the installer endpoint sees it: read from its one
 * source, the environment's SSM parameter, classified once, and kept in
 * memory for a short TTL.
 *
 * Every outcome of a read (approved, missing, invalid, unavailable, and
 * unattested when the read includes the attestation check of
 * attested-digest.ts) is kept for the TTL, counted from the moment the read
 * started, so:
 *   - SSM sees at most one GetParameter per TTL window, whatever the request
 *     rate (concurrent requests on an expired entry share one read);
 *   - a promotion is served at most one TTL after it was written;
 *   - a failed read is never papered over with an older value: while SSM
 *     cannot be read, requests get the documented failure.
 */
import { awsErrorMessage, awsErrorName, isCredentialError } from '../aws/errors';
import { ImageRefError, parsePinnedImage, type ImageRefProblem, type PinnedImage } from '../domain/image-ref';
import type { VerificationReason } from '../attestation/verify';
import { PointerAccessError } from '../promotion/errors';
import { readApprovedDigest, type ApprovedDigestRef, type SsmClients } from '../promotion/pointer';
import type { UnavailableReason, UnavailableSource } from './installer-script';

export type ApprovedDigestOutcome =
  | {
      kind: 'approved';
      image: PinnedImage;
      version: number | null;
      /** The run whose signed PASSED summary vouches for it, when one was required. */ attestedBy?: string;
    }
  | { kind: 'missing' }
  | { kind: 'invalid'; problem: ImageRefProblem; version: number | null }
  | {
      kind: 'unattested';
      image: PinnedImage;
      version: number | null;
      reason: VerificationReason;
      /** For the service's log only, never for scripts. */ detail?: string;
    }
  | {
      kind: 'unavailable';
      /** What could not be read: SSM (the pointer), or the registry or KMS (the pointer's proof). */
      source: UnavailableSource;
      reason: UnavailableReason;
      /** For the service's log only, never for scripts. */
      detail: string;
    };

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

/**
 * Why a read failed. `timedOut` says whether the read's own deadline fired:
 * the SDK names some network errors TimeoutError, so the name alone cannot tell.
 */
export function unavailableReason(err: unknown, timedOut = false): UnavailableReason {
  const name = awsErrorName(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (timedOut) return 'timeout';
  if (isCredentialError(err)) return 'access-denied';
  if (/throttl|toomanyrequests|rateexceeded|requestlimitexceeded/i.test(name)) return 'throttled';
  if (NETWORK_ERRORS.has(name) || (typeof code === 'string' && NETWORK_ERRORS.has(code)))
    return 'unreachable';
  if (name === 'AbortError' || name === 'TimeoutError' || name === 'RequestTimeout') return 'timeout';
  return 'error';
}

/**
 * One read of the pointer (../promotion/pointer.ts), classified; the value
 * must be a pinned reference of `repository`. Never throws for SSM's sake.
 */
export async function approvedDigestOutcome(
  aws: SsmClients,
  ref: ApprovedDigestRef,
  repository: string,
  timeoutMs: number,
): Promise<ApprovedDigestOutcome> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let read;
  try {
    read = await readApprovedDigest(aws, ref, { signal: deadline });
  } catch (err) {
    if (!(err instanceof PointerAccessError)) throw err;
    const reason = unavailableReason(err.cause, deadline.aborted);
    const detail =
      reason === 'timeout'
        ? `no answer within ${timeoutMs} ms (${awsErrorMessage(err.cause)})`
        : awsErrorMessage(err.cause);
    return { kind: 'unavailable', source: 'ssm', reason, detail };
  }
  if (read.version === null && read.reference === null) return { kind: 'missing' };
  if (read.reference === null) return { kind: 'invalid', problem: 'empty', version: read.version };
  try {
    return { kind: 'approved', image: parsePinnedImage(read.reference, repository), version: read.version };
  } catch (err) {
    if (err instanceof ImageRefError) return { kind: 'invalid', problem: err.problem, version: read.version };
    throw err;
  }
}

export interface ApprovedDigestStats {
  /** Reads sent to SSM. */
  reads: number;
  /** Requests answered from memory. */
  hits: number;
  /** Requests that waited for a read another request had started. */
  shared: number;
  /** Requests that started a read. */
  misses: number;
}

export interface ApprovedDigestProvider {
  get(): Promise<ApprovedDigestOutcome>;
  stats(): ApprovedDigestStats;
}

export interface CacheOptions {
  ttlMs: number;
  read: () => Promise<ApprovedDigestOutcome>;
  /** Called after every read with its outcome and duration (for the service's log). */
  onRead?: (outcome: ApprovedDigestOutcome, ms: number) => void;
  now?: () => number;
}

/** The in-process cache with single-flight refresh. */
export class ApprovedDigestCache implements ApprovedDigestProvider {
  private entry: { outcome: ApprovedDigestOutcome; expiresAt: number } | undefined;
  private inflight: Promise<ApprovedDigestOutcome> | undefined;
  private readonly counters: ApprovedDigestStats = { reads: 0, hits: 0, shared: 0, misses: 0 };
  private readonly now: () => number;

  constructor(private readonly options: CacheOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError('the approved-digest cache needs a positive TTL');
    this.now = options.now ?? Date.now;
  }

  get(): Promise<ApprovedDigestOutcome> {
    const entry = this.entry;
    if (entry && this.now() < entry.expiresAt) {
      this.counters.hits += 1;
      return Promise.resolve(entry.outcome);
    }
    if (this.inflight) {
      this.counters.shared += 1;
      return this.inflight;
    }
    this.counters.misses += 1;
    this.inflight = this.refresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  stats(): ApprovedDigestStats {
    return { ...this.counters };
  }

  private async refresh(): Promise<ApprovedDigestOutcome> {
    const started = this.now();
    this.counters.reads += 1;
    const outcome = await safely(this.options.read);
    this.entry = { outcome, expiresAt: started + this.options.ttlMs };
    this.options.onRead?.(outcome, this.now() - started);
    return outcome;
  }
}

/** No cache at all: every request reads SSM. For benchmarks only (it is what the cache protects SSM from). */
export class UncachedApprovedDigest implements ApprovedDigestProvider {
  private readonly counters: ApprovedDigestStats = { reads: 0, hits: 0, shared: 0, misses: 0 };

  constructor(private readonly read: () => Promise<ApprovedDigestOutcome>) {}

  async get(): Promise<ApprovedDigestOutcome> {
    this.counters.reads += 1;
    this.counters.misses += 1;
    return safely(this.read);
  }

  stats(): ApprovedDigestStats {
    return { ...this.counters };
  }
}

async function safely(read: () => Promise<ApprovedDigestOutcome>): Promise<ApprovedDigestOutcome> {
  try {
    return await read();
  } catch (err) {
    return {
      kind: 'unavailable',
      source: 'ssm',
      reason: 'error',
      detail: err instanceof Error ? err.message : String(err),
    };
  }
}
