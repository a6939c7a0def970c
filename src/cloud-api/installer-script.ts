/**
 * The installer scripts the endpoint serves. Pure functions of their inputs:
 * the same image, token and settings always give the same bytes.
 *
 * Every value enters a script single-quoted (nothing inside is expanded), and
 * only after validation: the image is a parsed pinned reference, the token
 * matched ONBOARDING_TOKEN, the rest comes from the validated configuration.
 * Error scripts carry fixed text only (never a rejected value), print
 * `RADIX_INSTALLER_ERROR: <NAME>` and the remediation on stderr, and exit
 * with the documented status.
 */
import { shellQuote } from '../checks/scripts';
import { formatDuration } from '../domain/duration';
import type { ImageRefProblem, PinnedImage } from '../domain/image-ref';
import { INSTALLER_ERROR_MARKER, INSTALLER_ERRORS, type InstallerErrorName } from '../domain/installer';
import { REASON_TEXT, type VerificationReason } from '../attestation/verify';

/** Name of the agent's container on the host. */
export const AGENT_CONTAINER = 'radix-cluster-agent';

/** What the scripts say about where the digest comes from. */
export interface ScriptSettings {
  environment: string;
  region: string;
  /** The approved-digest SSM parameter. */
  parameter: string;
  repository: string;
  /** Public base URL of the control plane, handed to the agent. */
  apiUrl: string;
  cacheTtlMs: number;
  /** attestation.kmsKeyId of the environment. */
  kmsKeyId: string;
}

export type DigestSource = 'approved' | 'candidate';

/** Why SSM could not be read, in words chosen here (never the error's own text). */
export type UnavailableReason = 'throttled' | 'access-denied' | 'timeout' | 'unreachable' | 'error';

/** What could not be read: the pointer (SSM), or its proof (the registry's attestations, the KMS key, or the check as a whole). */
export type UnavailableSource = 'ssm' | 'registry' | 'kms' | 'attestation';

/** Why a candidate was refused its grant. */
export type GrantRefusal = 'disabled' | 'missing' | 'invalid' | 'expired' | 'mismatch';

const PROBLEM_TEXT: Record<ImageRefProblem, string> = {
  empty: 'the value is empty',
  'not-pinned': 'it has no @sha256: digest',
  tagged: 'it names a tag, which is mutable, instead of only a digest',
  'bad-digest': 'its digest is not sha256: followed by 64 hex characters',
  'uppercase-digest': 'its digest has upper-case hex',
  'bad-repository': 'its repository is not a valid image repository',
  'wrong-repository': 'it names another repository than the configured one',
  'unsafe-characters': 'it contains whitespace, quotes or shell metacharacters',
};

const UNAVAILABLE_TEXT: Record<UnavailableReason, string> = {
  throttled: 'SSM throttled the request',
  'access-denied': "SSM refused the control plane's credentials or permissions",
  timeout: 'SSM did not answer in time',
  unreachable: 'SSM could not be reached',
  error: 'SSM answered with an error',
};

const GRANT_TEXT: Record<GrantRefusal, string> = {
  disabled: 'this control plane accepts no candidate installs (it has no grant key)',
  missing: 'the request carried no grant',
  invalid: 'the grant is not one this control plane issued',
  expired: 'the grant has expired',
  mismatch: 'the grant was issued for another image, cluster or environment',
};

const VALID_FORM = (s: ScriptSettings) => `${s.repository}@sha256:<64 lower-case hex>`;
const PICKED_UP = (s: ScriptSettings) =>
  `The control plane picks a new value up within ${formatDuration(s.cacheTtlMs)}; then run this installer again.`;

/** The script that installs the agent at `image`, pulled by digest only, with the cluster's onboarding token. */
export function renderInstallScript(
  s: ScriptSettings,
  image: PinnedImage,
  source: DigestSource,
  onboardingToken: string,
): string {
  const q = shellQuote;
  const fail = (name: InstallerErrorName, ...lines: string[]) =>
    `radix_fail ${name} ${INSTALLER_ERRORS[name].exit} ${lines.map(q).join(' ')}`;
  return [
    '#!/bin/sh',
    '# Radix cluster agent installer, served by the control plane.',
    `# Environment ${s.environment}; image source: ${source === 'approved' ? `the approved digest (SSM ${s.parameter})` : 'a candidate granted to a Sentinel test leg'}.`,
    '# It installs the agent by digest only. Exit statuses are documented with the',
    '# installer endpoint; on failure, stderr names the error after ' + `${INSTALLER_ERROR_MARKER}:.`,
    '# Run it as: set -o pipefail; curl -fsSL "<installer url>" | sh',
    'set -eu',
    '',
    `RADIX_AGENT_IMAGE=${q(image.reference)}`,
    `RADIX_AGENT_DIGEST=${q(image.digest)}`,
    `RADIX_AGENT_SOURCE=${q(source)}`,
    `RADIX_AGENT_CONTAINER=${q(AGENT_CONTAINER)}`,
    `RADIX_API_URL=${q(s.apiUrl)}`,
    `RADIX_ONBOARDING_TOKEN=${q(onboardingToken)}`,
    // Exported so `docker run -e NAME` hands them to the agent without putting the token on a command line.
    'export RADIX_API_URL RADIX_ONBOARDING_TOKEN RADIX_AGENT_DIGEST',
    '',
    '# radix_fail NAME STATUS LINE...: explain on stderr and stop with the documented status.',
    'radix_fail() {',
    '  radix_name=$1',
    '  radix_status=$2',
    '  shift 2',
    `  printf '${INSTALLER_ERROR_MARKER}: %s\\n' "$radix_name" >&2`,
    `  for radix_line in "$@"; do printf '  %s\\n' "$radix_line" >&2; done`,
    '  exit "$radix_status"',
    '}',
    '',
    `printf 'radix installer: installing %s (%s)\\n' "$RADIX_AGENT_IMAGE" "$RADIX_AGENT_SOURCE" >&2`,
    '',
    'command -v docker >/dev/null 2>&1 ||',
    `  ${fail('DOCKER_MISSING', 'docker is not on PATH.', 'Install Docker Engine (on NVIDIA hosts also the NVIDIA Container Toolkit), then run this installer again.')}`,
    '',
    '# The agent needs the control plane API: say so now rather than after a silent onboarding timeout.',
    'if command -v curl >/dev/null 2>&1; then',
    '  curl -fsS -o /dev/null --max-time 15 "$RADIX_API_URL/healthz" ||',
    `    ${fail('CONTROL_PLANE_UNREACHABLE', `This host cannot reach the control plane API at ${s.apiUrl}.`, 'Allow egress to it (security group, proxy, DNS), then run this installer again.')}`,
    'fi',
    '',
    'docker pull "$RADIX_AGENT_IMAGE" >&2 ||',
    `  ${fail('IMAGE_PULL_FAILED', `docker could not pull ${image.reference}.`, 'Check that this host reaches the registry, and is logged in to it (docker login) when the repository is private.')}`,
    '',
    "# GPU access for the agent's jobs: NVIDIA through the container toolkit, AMD through the ROCm device nodes.",
    'if command -v nvidia-smi >/dev/null 2>&1; then',
    '  set -- --gpus all',
    // RADIX_HOST_ROOT is unset on real hosts; Sentinel's simulated hosts set it to their own root.
    'elif [ -e "${RADIX_HOST_ROOT:-}/dev/kfd" ]; then',
    '  set -- --device /dev/kfd --device /dev/dri --group-add video',
    'else',
    '  set --',
    'fi',
    '',
    '# Reinstalling replaces the running agent.',
    'docker rm -f "$RADIX_AGENT_CONTAINER" >/dev/null 2>&1 || true',
    'docker run -d --name "$RADIX_AGENT_CONTAINER" --restart unless-stopped \\',
    '  -e RADIX_API_URL -e RADIX_ONBOARDING_TOKEN -e RADIX_AGENT_DIGEST \\',
    '  -v /var/run/docker.sock:/var/run/docker.sock \\',
    '  "$@" "$RADIX_AGENT_IMAGE" >&2 ||',
    `  ${fail('AGENT_START_FAILED', `docker could not start the agent container ${AGENT_CONTAINER}.`, 'Read the docker error above; check the GPU runtime (docker info) and free disk space.')}`,
    '',
    '# The one line on stdout: what was installed (a test leg records its digest in the evidence).',
    `printf '{"installer":"ok","reference":"%s","digest":"%s","source":"%s","container":"%s"}\\n' \\`,
    '  "$RADIX_AGENT_IMAGE" "$RADIX_AGENT_DIGEST" "$RADIX_AGENT_SOURCE" "$RADIX_AGENT_CONTAINER"',
    '',
  ].join('\n');
}

/** A script that installs nothing: it names the error, explains what to do, and exits with the error's status. */
export function renderErrorScript(name: InstallerErrorName, lines: string[]): string {
  const info = INSTALLER_ERRORS[name];
  return [
    '#!/bin/sh',
    `# Radix cluster agent installer: nothing to install (${name}, exit ${info.exit}).`,
    `# ${info.summary}.`,
    `printf '%s\\n' ${shellQuote(`${INSTALLER_ERROR_MARKER}: ${name}`)} >&2`,
    ...lines.map((line) => `printf '  %s\\n' ${shellQuote(line)} >&2`),
    `exit ${info.exit}`,
    '',
  ].join('\n');
}

export function approvedDigestMissingScript(s: ScriptSettings): string {
  return renderErrorScript('APPROVED_DIGEST_MISSING', [
    `No agent image is approved for environment ${s.environment}: SSM parameter ${s.parameter} (region ${s.region}) does not exist.`,
    'Nothing was installed: the control plane has no other source for the agent image.',
    "Bootstrap the parameter with a digest that passed Sentinel's GPU matrix:",
    `  sentinel bootstrap --env ${s.environment} --apply --initial-digest ${VALID_FORM(s)}`,
    `  (or: aws ssm put-parameter --region ${s.region} --name ${s.parameter} --type String --value ${VALID_FORM(s)})`,
    `or let a passing Sentinel run create it: sentinel run --env ${s.environment} --digest ${VALID_FORM(s)}`,
    PICKED_UP(s),
  ]);
}

export function approvedDigestInvalidScript(s: ScriptSettings, problem: ImageRefProblem): string {
  return renderErrorScript('APPROVED_DIGEST_INVALID', [
    `SSM parameter ${s.parameter} (region ${s.region}) does not hold a pinned reference of ${s.repository}: ${PROBLEM_TEXT[problem]}.`,
    'Nothing was installed, and the value was not used.',
    `Restore the previous approved digest: sentinel promote --rollback --env ${s.environment}`,
    `  (its history: aws ssm get-parameter-history --region ${s.region} --name ${s.parameter})`,
    `A valid value is exactly ${VALID_FORM(s)}, with no tag and no whitespace.`,
    PICKED_UP(s),
  ]);
}

export function approvedDigestUnavailableScript(s: ScriptSettings, reason: UnavailableReason): string {
  return renderErrorScript('APPROVED_DIGEST_UNAVAILABLE', [
    `The control plane could not read the approved digest from SSM parameter ${s.parameter} (region ${s.region}): ${UNAVAILABLE_TEXT[reason]}.`,
    'Nothing was installed: the control plane never hands out a stale or guessed image.',
    `Run this installer again in a minute (it keeps this answer for ${formatDuration(s.cacheTtlMs)}).`,
    `If it persists, the control plane's operators should check its ssm:GetParameter permission on ${s.parameter} and SSM throttling in ${s.region}.`,
  ]);
}

const PROOF_UNAVAILABLE_TEXT: Record<
  Exclude<UnavailableSource, 'ssm'>,
  (s: ScriptSettings, reason: UnavailableReason) => string
> = {
  registry: (_s, reason) =>
    `the image registry holding its attestations ${reason === 'timeout' ? 'did not answer in time' : 'could not be read'}`,
  kms: (s, reason) =>
    `KMS ${reason === 'timeout' ? 'did not answer in time' : reason === 'throttled' ? 'throttled the request' : 'could not be reached'} for the environment's key ${s.kmsKeyId}`,
  attestation: () => 'the registry and KMS did not answer in time',
};

export function approvedDigestProofUnavailableScript(
  s: ScriptSettings,
  source: Exclude<UnavailableSource, 'ssm'>,
  reason: UnavailableReason,
): string {
  return renderErrorScript('APPROVED_DIGEST_UNAVAILABLE', [
    `The control plane could not check the signed proof of the approved digest (SSM parameter ${s.parameter}): ${PROOF_UNAVAILABLE_TEXT[source](s, reason)}.`,
    `Nothing was installed: environment ${s.environment} installs only a digest whose proof was checked, never an unverified one.`,
    `Run this installer again in a minute (it keeps this answer for ${formatDuration(s.cacheTtlMs)}).`,
    `If it persists, the control plane's operators should check that it reaches the image registry of ${s.repository}, and its kms:DescribeKey and kms:GetPublicKey permission on ${s.kmsKeyId}.`,
  ]);
}

/** The environment requires a signed PASSED summary for the approved digest, and the check refused it. The reason is a fixed code, never the digest. */
export function approvedDigestUnattestedScript(s: ScriptSettings, reason: VerificationReason): string {
  const text = REASON_TEXT[reason];
  return renderErrorScript('APPROVED_DIGEST_UNATTESTED', [
    `The approved digest in SSM parameter ${s.parameter} (region ${s.region}) has no valid signed proof that it passed Sentinel's GPU matrix in environment ${s.environment}: ${text.summary} (${reason}).`,
    `Nothing was installed: this environment installs only a digest with a PASSED verification summary signed by its key ${s.kmsKeyId}.`,
    `Remediation: ${text.remediation.replace(/<env>/g, s.environment)}.`,
    `See the whole chain: sentinel verify --env ${s.environment}`,
    `Restore the last attested digest: sentinel promote --rollback --env ${s.environment}`,
    PICKED_UP(s),
  ]);
}

export function onboardingTokenInvalidScript(missing: boolean): string {
  return renderErrorScript('ONBOARDING_TOKEN_INVALID', [
    missing
      ? 'The installer URL carried no onboarding token (token query parameter or X-Radix-Onboarding-Token header).'
      : 'The onboarding token is not well formed (16 to 4096 of A-Z a-z 0-9 . _ ~ + / = -, percent-encoded in a URL).',
    "Copy the installer command again from the cluster you created: it carries that cluster's token.",
  ]);
}

export function candidateInvalidScript(
  s: ScriptSettings,
  problem: ImageRefProblem | 'grant-without-candidate',
): string {
  return renderErrorScript('CANDIDATE_INVALID', [
    problem === 'grant-without-candidate'
      ? 'The request carried a candidate grant but no candidate.'
      : `The candidate is not a pinned reference of ${s.repository}: ${PROBLEM_TEXT[problem]}.`,
    `A candidate is exactly ${VALID_FORM(s)}. Only Sentinel's test legs pass one; clusters install the approved image without it.`,
  ]);
}

export function candidateNotAuthorisedScript(refusal: GrantRefusal): string {
  return renderErrorScript('CANDIDATE_NOT_AUTHORISED', [
    `This installer URL asks for a candidate image, and ${GRANT_TEXT[refusal]}.`,
    "Only Sentinel's test legs may install a candidate, with a grant issued for that image, this cluster's token and this environment.",
    'Drop the candidate and grant parameters to install the approved image.',
  ]);
}
