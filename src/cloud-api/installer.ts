/**
 * `GET /v1/clusters/installer`: the script every new cluster runs
 * (`curl -fsSL <url> | sh`). A plain function from request to response, so
 * tests can call it directly; src/cloud-api/server.ts puts it on HTTP.
 *
 * - The agent image is the approved digest, from the SSM parameter only
 *   (through the cache): no variable, default or fallback exists.
 * - A candidate replaces it only with a grant for that candidate, cluster
 *   and environment (Sentinel's test legs).
 * - Every answer is a script, so `curl | sh` always ends with a documented
 *   exit status; the HTTP status tells the same story to monitoring.
 */
import { ImageRefError, parsePinnedImage, type PinnedImage } from '../domain/image-ref';
import { INSTALLER_ERRORS, type EndpointErrorName } from '../domain/installer';
import type { ApprovedDigestProvider } from './approved-digest';
import type { CandidateGrants } from './candidate-grant';
import {
  approvedDigestInvalidScript,
  approvedDigestMissingScript,
  approvedDigestProofUnavailableScript,
  approvedDigestUnattestedScript,
  approvedDigestUnavailableScript,
  candidateInvalidScript,
  candidateNotAuthorisedScript,
  onboardingTokenInvalidScript,
  renderInstallScript,
  type DigestSource,
  type ScriptSettings,
} from './installer-script';

export const INSTALLER_PATH = '/v1/clusters/installer';
export const TOKEN_HEADER = 'x-radix-onboarding-token';
export const SHELL_SCRIPT_TYPE = 'text/x-shellscript';

/** Onboarding tokens: opaque, URL- and shell-safe characters only (they are written into the script). */
export const ONBOARDING_TOKEN = /^[A-Za-z0-9._~+/=-]{16,4096}$/;

export interface InstallerDeps {
  settings: ScriptSettings;
  approved: ApprovedDigestProvider;
  /** Verifier of candidate grants; undefined when this control plane accepts no candidate. */
  grants: CandidateGrants | undefined;
  /** Seconds a failing SSM read or attestation check is kept (for Retry-After). */
  retryAfterSeconds: number;
  /** When the service knows its clusters: is this an unexpired, unused onboarding token of one of them? */
  isKnownOnboardingToken?: (token: string) => boolean;
}

export interface InstallerRequest {
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

/** What the service logs about a request: never the token. */
export interface InstallerOutcome {
  result: 'installed' | EndpointErrorName;
  source?: DigestSource;
  digest?: string;
  /** Why, in the service's own words (an SSM error, an image problem). */
  detail?: string;
}

export interface InstallerResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  outcome: InstallerOutcome;
}

export async function handleInstallerRequest(
  req: InstallerRequest,
  deps: InstallerDeps,
): Promise<InstallerResponse> {
  const { settings } = deps;
  const fail = (
    name: EndpointErrorName,
    body: string,
    detail?: string,
    extra: Record<string, string> = {},
  ): InstallerResponse => ({
    status: INSTALLER_ERRORS[name].httpStatus,
    headers: {
      ...baseHeaders(),
      'x-radix-installer-error': name,
      'x-radix-installer-exit': String(INSTALLER_ERRORS[name].exit),
      ...extra,
    },
    body,
    outcome: { result: name, ...(detail ? { detail } : {}) },
  });

  // 1. The cluster's onboarding token: the script carries it to the agent.
  const token = onboardingToken(req);
  if (token.kind !== 'ok') {
    return fail(
      'ONBOARDING_TOKEN_INVALID',
      onboardingTokenInvalidScript(token.kind === 'missing'),
      token.kind,
    );
  }
  if (deps.isKnownOnboardingToken && !deps.isKnownOnboardingToken(token.value)) {
    return fail('ONBOARDING_TOKEN_INVALID', onboardingTokenInvalidScript(false), 'unknown');
  }

  // 2. A candidate, only for a granted test leg.
  const candidateParam = single(req.query.candidate);
  const grantParam = single(req.query.grant);
  if (candidateParam === null || grantParam === null) {
    return fail(
      'CANDIDATE_INVALID',
      candidateInvalidScript(settings, 'unsafe-characters'),
      'repeated candidate or grant parameter',
    );
  }
  if (candidateParam !== undefined) {
    let candidate: PinnedImage;
    try {
      candidate = parsePinnedImage(candidateParam, settings.repository);
    } catch (err) {
      if (!(err instanceof ImageRefError)) throw err;
      return fail('CANDIDATE_INVALID', candidateInvalidScript(settings, err.problem), err.problem);
    }
    if (!deps.grants)
      return fail('CANDIDATE_NOT_AUTHORISED', candidateNotAuthorisedScript('disabled'), 'disabled');
    if (!grantParam)
      return fail('CANDIDATE_NOT_AUTHORISED', candidateNotAuthorisedScript('missing'), 'missing');
    const verdict = await deps.grants.verify(grantParam, {
      candidate: candidate.reference,
      onboardingToken: token.value,
      environment: settings.environment,
    });
    if (!verdict.ok)
      return fail('CANDIDATE_NOT_AUTHORISED', candidateNotAuthorisedScript(verdict.refusal), verdict.refusal);
    return installed(settings, candidate, 'candidate', token.value);
  }
  if (grantParam !== undefined) {
    return fail(
      'CANDIDATE_INVALID',
      candidateInvalidScript(settings, 'grant-without-candidate'),
      'grant-without-candidate',
    );
  }

  // 3. The approved digest, from SSM through the cache, and nothing else; where the environment
  //    requires it, only with its signed proof (checked with the read, cached with it).
  const approved = await deps.approved.get();
  switch (approved.kind) {
    case 'approved':
      return installed(settings, approved.image, 'approved', token.value);
    case 'missing':
      return fail('APPROVED_DIGEST_MISSING', approvedDigestMissingScript(settings));
    case 'invalid':
      return fail(
        'APPROVED_DIGEST_INVALID',
        approvedDigestInvalidScript(settings, approved.problem),
        approved.problem,
      );
    case 'unattested':
      return fail(
        'APPROVED_DIGEST_UNATTESTED',
        approvedDigestUnattestedScript(settings, approved.reason),
        approved.reason,
      );
    case 'unavailable': {
      const script =
        approved.source === 'ssm'
          ? approvedDigestUnavailableScript(settings, approved.reason)
          : approvedDigestProofUnavailableScript(settings, approved.source, approved.reason);
      return fail('APPROVED_DIGEST_UNAVAILABLE', script, approved.detail, {
        'retry-after': String(deps.retryAfterSeconds),
      });
    }
  }
}

function installed(
  settings: ScriptSettings,
  image: PinnedImage,
  source: DigestSource,
  token: string,
): InstallerResponse {
  return {
    status: 200,
    headers: {
      ...baseHeaders(),
      'x-radix-installer-digest': image.digest,
      'x-radix-installer-source': source,
    },
    body: renderInstallScript(settings, image, source, token),
    outcome: { result: 'installed', source, digest: image.digest },
  };
}

function baseHeaders(): Record<string, string> {
  // The body carries the cluster's token: no cache may keep it.
  return { 'content-type': SHELL_SCRIPT_TYPE, 'cache-control': 'no-store' };
}

/** A query value given once (string), absent (undefined), or repeated / not a string (null). */
function single(value: unknown): string | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : null;
}

type TokenLookup = { kind: 'ok'; value: string } | { kind: 'missing' } | { kind: 'malformed' };

function onboardingToken(req: InstallerRequest): TokenLookup {
  const fromQuery = single(req.query.token);
  const header = req.headers[TOKEN_HEADER];
  const fromHeader = Array.isArray(header) ? null : header;
  if (fromQuery === null || fromHeader === null) return { kind: 'malformed' };
  if (fromQuery === undefined && fromHeader === undefined) return { kind: 'missing' };
  if (fromQuery !== undefined && fromHeader !== undefined && fromQuery !== fromHeader)
    return { kind: 'malformed' };
  const value = (fromQuery ?? fromHeader)!;
  if (value === '') return { kind: 'missing' };
  return ONBOARDING_TOKEN.test(value) ? { kind: 'ok', value } : { kind: 'malformed' };
}
