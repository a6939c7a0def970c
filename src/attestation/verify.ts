/**
 * Checking a digest's proof: is there a verification summary for exactly
 * this digest and environment, PASSED, signed by the environment's key, and
 * is each leg attestation it names present and signed by the same key?
 *
 * Pure over its inputs (envelope texts and a public key), so `sentinel
 * verify`, the installer endpoint and the rollback command give the same
 * answer for the same attestations. Every refusal has a reason code.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { EnvelopeError, envelopeSignedBy, parseEnvelope, payloadBytes } from './dsse';
import {
  STATEMENT_TYPE,
  TEST_RESULT_PREDICATE,
  VERIFICATION_SUMMARY_PREDICATE,
  type Statement,
  type TestResultPredicate,
  type VerificationSummaryPredicate,
} from './statements';

export type VerificationReason =
  | 'POINTER_UNSET'
  | 'ATTESTATION_MISSING'
  | 'ENVELOPE_MALFORMED'
  | 'SIGNATURE_INVALID'
  | 'PAYLOAD_NOT_JSON'
  | 'STATEMENT_INVALID'
  | 'SUBJECT_DIGEST_INVALID'
  | 'SUBJECT_MISMATCH'
  | 'ENVIRONMENT_MISMATCH'
  | 'SIMULATED_IN_LIVE'
  | 'RESULT_FAILED'
  | 'LEG_ATTESTATION_MISSING'
  | 'LEG_ATTESTATION_INVALID'
  | 'KEY_UNAVAILABLE'
  | 'ATTESTATIONS_UNREADABLE';

export const REASON_TEXT: Record<VerificationReason, { summary: string; remediation: string }> = {
  POINTER_UNSET: {
    summary: 'the approved pointer holds no digest',
    remediation: 'promote a digest through a passing `sentinel run`',
  },
  ATTESTATION_MISSING: {
    summary: 'no verification summary exists for this digest',
    remediation:
      'the digest never passed the matrix here (or was set by hand): run `sentinel run --env <env> --candidate <ref>`, or `sentinel promote --rollback` to an attested digest',
  },
  ENVELOPE_MALFORMED: {
    summary: 'the signed envelope is truncated or altered',
    remediation: 're-run the matrix for this digest; investigate who wrote to the registry',
  },
  SIGNATURE_INVALID: {
    summary: "the summary is not signed by this environment's key",
    remediation:
      'check attestation.kmsKeyId for the environment; an envelope signed by another key is never trusted',
  },
  PAYLOAD_NOT_JSON: {
    summary: 'the signed payload is not JSON',
    remediation: 're-run the matrix for this digest',
  },
  STATEMENT_INVALID: {
    summary: 'the payload is not an in-toto Statement v1 of the expected predicate type',
    remediation: 're-run the matrix for this digest',
  },
  SUBJECT_DIGEST_INVALID: {
    summary: 'the attestation subject digest is not 64 lower-case hex',
    remediation: 're-run the matrix for this digest',
  },
  SUBJECT_MISMATCH: {
    summary: 'the summary is for another image or digest',
    remediation: 'attestations are bound to one digest: run the matrix for this one',
  },
  ENVIRONMENT_MISMATCH: {
    summary: 'the summary is for another environment',
    remediation: 'a pass in one environment proves nothing in another: run the matrix in this environment',
  },
  SIMULATED_IN_LIVE: {
    summary: 'the summary comes from simulated hosts, and this environment is live',
    remediation: 'run the matrix on real hardware in this environment',
  },
  RESULT_FAILED: {
    summary: 'the verification summary says FAILED',
    remediation: 'this digest did not pass the matrix; promote one that did',
  },
  LEG_ATTESTATION_MISSING: {
    summary: 'a leg attestation the summary names is missing',
    remediation: 're-run the matrix for this digest',
  },
  LEG_ATTESTATION_INVALID: {
    summary: 'a leg attestation is unsigned, altered, failed or for another digest',
    remediation: 're-run the matrix for this digest',
  },
  KEY_UNAVAILABLE: {
    summary: "the environment's signing key is disabled or cannot be read",
    remediation: 'enable the KMS key (attestation.kmsKeyId) or grant kms:GetPublicKey',
  },
  ATTESTATIONS_UNREADABLE: {
    summary: 'the attestations could not be read from the registry',
    remediation: 'check the registry is reachable; the answer is never assumed',
  },
};

export interface VerifyInput {
  environment: string;
  /** True for a live environment: simulated summaries are refused. */
  live: boolean;
  repository: string;
  /** `sha256:<hex>` */
  digest: string;
  publicKey: KeyObject;
  /** Every attestation envelope found for the digest, as text. */
  envelopes: string[];
}

export interface LegLink {
  name: string;
  ok: boolean;
  result?: string;
  reason?: VerificationReason;
}

export interface VerifyResult {
  ok: boolean;
  reason?: VerificationReason;
  detail?: string;
  summary?: VerificationSummaryPredicate;
  legs: LegLink[];
}

const HEX64 = /^[0-9a-f]{64}$/;

interface Checked<P> {
  statement?: Statement<P>;
  sha256: string;
  reason?: VerificationReason;
  /** How far the checks went: a refusal that got further explains more. */
  depth: number;
}

/** Signature, JSON, statement shape and subject of one envelope. */
function checkEnvelope<P>(text: string, input: VerifyInput, predicateType: string): Checked<P> {
  const sha256 = statementSha256(text) ?? '';
  let envelope;
  try {
    envelope = parseEnvelope(text);
  } catch (err) {
    return {
      sha256,
      reason: err instanceof EnvelopeError ? 'ENVELOPE_MALFORMED' : 'ENVELOPE_MALFORMED',
      depth: 0,
    };
  }
  if (!envelopeSignedBy(envelope, input.publicKey)) return { sha256, reason: 'SIGNATURE_INVALID', depth: 1 };
  let statement: Statement<P>;
  try {
    statement = JSON.parse(payloadBytes(envelope).toString('utf8')) as Statement<P>;
  } catch {
    return { sha256, reason: 'PAYLOAD_NOT_JSON', depth: 2 };
  }
  if (
    typeof statement !== 'object' ||
    statement === null ||
    statement._type !== STATEMENT_TYPE ||
    statement.predicateType !== predicateType ||
    !Array.isArray(statement.subject)
  ) {
    return { sha256, reason: 'STATEMENT_INVALID', depth: 3 };
  }
  const hexes = statement.subject.map((s) => s?.digest?.sha256);
  if (hexes.some((h) => typeof h !== 'string' || !HEX64.test(h)))
    return { sha256, reason: 'SUBJECT_DIGEST_INVALID', depth: 4 };
  const want = input.digest.replace(/^sha256:/, '');
  if (!statement.subject.some((s) => s.name === input.repository && s.digest.sha256 === want))
    return { sha256, reason: 'SUBJECT_MISMATCH', depth: 5 };
  return { sha256, statement, depth: 6 };
}

function predicateTypeOf(text: string): string | undefined {
  try {
    const envelope = parseEnvelope(text);
    const statement = JSON.parse(payloadBytes(envelope).toString('utf8')) as { predicateType?: unknown };
    return typeof statement.predicateType === 'string' ? statement.predicateType : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The verdict on a digest. Of several summaries (a digest may have run more
 * than once), any one that holds is enough; otherwise the refusal that got
 * furthest is reported.
 */
export function verifyDigest(input: VerifyInput): VerifyResult {
  const typed = input.envelopes.map((text) => ({ text, type: predicateTypeOf(text) }));
  // An envelope whose type cannot be read may be a mangled summary: it is checked as one.
  const summaries = typed
    .filter((e) => e.type === VERIFICATION_SUMMARY_PREDICATE || e.type === undefined)
    .map((e) => e.text);
  const legTexts = typed.filter((e) => e.type === TEST_RESULT_PREDICATE).map((e) => e.text);
  if (summaries.length === 0) return { ok: false, reason: 'ATTESTATION_MISSING', legs: [] };

  let best: (VerifyResult & { depth: number }) | undefined;
  let bestDepth = -1;
  for (const text of summaries) {
    const result = verifySummary(text, legTexts, input);
    if (result.ok) return result;
    const depth = result.depth;
    if (depth > bestDepth) {
      best = result;
      bestDepth = depth;
    }
  }
  const { depth: _depth, ...refused } = best!;
  return refused;
}

function verifySummary(
  text: string,
  legTexts: string[],
  input: VerifyInput,
): VerifyResult & { depth: number } {
  const checked = checkEnvelope<VerificationSummaryPredicate>(text, input, VERIFICATION_SUMMARY_PREDICATE);
  if (!checked.statement) return { ok: false, reason: checked.reason, legs: [], depth: checked.depth };
  const summary = checked.statement.predicate;
  const own = summary?.sentinel;
  if (!own || typeof own.environment !== 'string')
    return { ok: false, reason: 'STATEMENT_INVALID', legs: [], depth: 6 };
  if (own.environment !== input.environment)
    return {
      ok: false,
      reason: 'ENVIRONMENT_MISMATCH',
      detail: `summary is for ${own.environment}`,
      summary,
      legs: [],
      depth: 7,
    };
  if (input.live && own.simulated !== false)
    return { ok: false, reason: 'SIMULATED_IN_LIVE', summary, legs: [], depth: 8 };
  if (summary.verificationResult !== 'PASSED')
    return { ok: false, reason: 'RESULT_FAILED', summary, legs: [], depth: 9 };

  // Every leg the summary names (by the sha256 of its signed statement) must be there, signed, PASSED, for this digest.
  const byHash = new Map(legTexts.map((t) => [statementSha256(t), t]));
  const legs: LegLink[] = (summary.inputAttestations ?? []).map((ref) => {
    const name = ref.name ?? ref.uri ?? '?';
    const legText = ref.digest?.sha256 ? byHash.get(ref.digest.sha256) : undefined;
    if (legText === undefined) return { name, ok: false, reason: 'LEG_ATTESTATION_MISSING' };
    const leg = checkEnvelope<TestResultPredicate>(legText, input, TEST_RESULT_PREDICATE);
    const result = leg.statement?.predicate?.result;
    const env = leg.statement?.predicate?.sentinel?.environment;
    const ok = !!leg.statement && result === 'PASSED' && env === input.environment;
    return {
      name,
      ok,
      ...(result ? { result } : {}),
      ...(ok ? {} : { reason: 'LEG_ATTESTATION_INVALID' as const }),
    };
  });
  const missingTargets = (own.targets ?? []).length !== legs.length;
  const badLeg = legs.find((l) => !l.ok);
  if (badLeg) return { ok: false, reason: badLeg.reason, detail: badLeg.name, summary, legs, depth: 10 };
  if (missingTargets)
    return {
      ok: false,
      reason: 'LEG_ATTESTATION_MISSING',
      detail: 'fewer leg attestations than targets',
      summary,
      legs,
      depth: 10,
    };
  return { ok: true, summary, legs, depth: 11 };
}

/** The sha256 of an envelope's signed statement bytes: how a summary names the leg attestations it rests on. */
export function statementSha256(envelopeText: string): string | undefined {
  try {
    return createHash('sha256')
      .update(payloadBytes(parseEnvelope(envelopeText)))
      .digest('hex');
  } catch {
    return undefined;
  }
}
