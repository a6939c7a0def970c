/**
 * The installer's contract, shared by the installer endpoint (which writes
 * the script) and the legs (which run it and read its result). Pure: no Node
 * APIs, so the workflow bundle can use it too.
 *
 * Every way the installer can fail has a stable name, printed on stderr as
 * `RADIX_INSTALLER_ERROR: <NAME>`, and a stable exit status. Documented in
 * docs/installer.md; keep both in step.
 */
import type { FailureCode } from './failures';

export interface InstallerErrorInfo {
  /** Exit status of the script. */
  exit: number;
  /** HTTP status of the response that carries the failing script (endpoint-side errors only). */
  httpStatus?: number;
  summary: string;
  /** The Sentinel failure code a leg records when its installer ends this way. */
  failureCode: FailureCode;
}

export const INSTALLER_ERRORS = {
  // Decided by the endpoint: the script it serves only explains and exits.
  APPROVED_DIGEST_MISSING: {
    exit: 20,
    httpStatus: 200,
    summary: 'the approved-digest parameter does not exist',
    failureCode: 'INSTALLER_APPROVED_DIGEST_MISSING',
  },
  APPROVED_DIGEST_INVALID: {
    exit: 21,
    httpStatus: 200,
    summary:
      'the approved-digest parameter holds a value that is not a pinned reference of the configured repository',
    failureCode: 'INSTALLER_APPROVED_DIGEST_INVALID',
  },
  APPROVED_DIGEST_UNAVAILABLE: {
    exit: 22,
    httpStatus: 503,
    summary:
      'the control plane could not read the approved digest from SSM (throttled, unreachable or access denied), or could not check its signed proof (registry or KMS unreachable)',
    failureCode: 'INSTALLER_SOURCE_UNAVAILABLE',
  },
  APPROVED_DIGEST_UNATTESTED: {
    exit: 26,
    httpStatus: 200,
    summary:
      'the environment requires attestation, and the approved digest has no PASSED verification summary for it signed by its key',
    // Sentinel's legs install candidates, never the approved digest: a leg cannot meet this one.
    failureCode: 'INSTALLER_FAILED',
  },
  ONBOARDING_TOKEN_INVALID: {
    exit: 23,
    httpStatus: 400,
    summary: 'the request carried no onboarding token, or one that is not well formed',
    failureCode: 'INSTALLER_FAILED',
  },
  CANDIDATE_INVALID: {
    exit: 24,
    httpStatus: 400,
    summary: 'the candidate parameter is not a pinned reference of the configured repository',
    failureCode: 'INSTALLER_FAILED',
  },
  CANDIDATE_NOT_AUTHORISED: {
    exit: 25,
    httpStatus: 403,
    summary: 'the request asked for a candidate image without a valid grant for it',
    failureCode: 'INSTALLER_FAILED',
  },
  // Decided on the host, while the script runs.
  DOCKER_MISSING: {
    exit: 30,
    summary: 'docker is not installed or not on PATH',
    failureCode: 'INSTALLER_FAILED',
  },
  IMAGE_PULL_FAILED: {
    exit: 31,
    summary: 'the agent image could not be pulled by its digest',
    failureCode: 'IMAGE_PULL_FAILED',
  },
  AGENT_START_FAILED: {
    exit: 32,
    summary: 'the agent container could not be started',
    failureCode: 'INSTALLER_FAILED',
  },
  CONTROL_PLANE_UNREACHABLE: {
    exit: 33,
    summary: 'the host cannot reach the control plane API the agent needs',
    failureCode: 'INSTALLER_DOWNLOAD_FAILED',
  },
} as const satisfies Record<string, InstallerErrorInfo>;

export type InstallerErrorName = keyof typeof INSTALLER_ERRORS;

/** The errors the endpoint itself decides (and answers with an HTTP status). */
export type EndpointErrorName = {
  [N in InstallerErrorName]: (typeof INSTALLER_ERRORS)[N] extends { httpStatus: number } ? N : never;
}[InstallerErrorName];

export const INSTALLER_ERROR_NAMES = Object.keys(INSTALLER_ERRORS) as InstallerErrorName[];

/** The marker every failing installer prints on stderr, followed by the error's name. */
export const INSTALLER_ERROR_MARKER = 'RADIX_INSTALLER_ERROR';

/** The installer error of an exit status, if the status is one of the documented ones. */
export function installerErrorOfExit(exit: number | null): InstallerErrorName | undefined {
  return INSTALLER_ERROR_NAMES.find((name) => INSTALLER_ERRORS[name].exit === exit);
}

/**
 * The Sentinel failure code of a failed installer run: a documented exit
 * status maps to its code; curl's exit 22 (HTTP error with `curl -f`, the
 * same number as APPROVED_DIGEST_UNAVAILABLE on purpose) maps there too;
 * anything else is INSTALLER_FAILED.
 */
export function installerFailureCode(exit: number | null): FailureCode {
  const name = installerErrorOfExit(exit);
  return name ? INSTALLER_ERRORS[name].failureCode : 'INSTALLER_FAILED';
}

/** The last line of a successful installer's stdout. */
export interface InstallerResult {
  installer: 'ok';
  /** `<repository>@sha256:<hex>` that was pulled and started. */
  reference: string;
  /** `sha256:<hex>`: what the leg's evidence records as the installed digest. */
  digest: string;
  /** `approved` (from the SSM parameter) or `candidate` (a granted test install). */
  source: 'approved' | 'candidate';
  container: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Reads the JSON result line a successful installer prints last; throws when it is missing or malformed. */
export function parseInstallerResult(stdout: string): InstallerResult {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const last = lines[lines.length - 1];
  if (last === undefined) throw new Error('the installer printed no result line');
  let value: unknown;
  try {
    value = JSON.parse(last);
  } catch {
    throw new Error("the installer's last line is not JSON");
  }
  const r = value as Partial<InstallerResult> | null;
  if (
    !r ||
    r.installer !== 'ok' ||
    typeof r.reference !== 'string' ||
    typeof r.digest !== 'string' ||
    !DIGEST.test(r.digest) ||
    !r.reference.endsWith(`@${r.digest}`) ||
    (r.source !== 'approved' && r.source !== 'candidate') ||
    typeof r.container !== 'string'
  ) {
    throw new Error("the installer's result line does not name the installed reference and digest");
  }
  return {
    installer: 'ok',
    reference: r.reference,
    digest: r.digest,
    source: r.source,
    container: r.container,
  };
}
