/**
 * Worker Versioning: the worker polls as one version of a Worker Deployment
 * (docs/versioning.md). A run (matrix and legs) is PINNED to the version it
 * started on; the lane, the janitor and the nightly starter AUTO_UPGRADE.
 *
 *   SENTINEL_WORKER_VERSIONING  on (default) | off (the worker polls unversioned)
 *   SENTINEL_DEPLOYMENT_NAME    the Worker Deployment; default: the task queue
 *   SENTINEL_BUILD_ID           the build (the image gets it as a build argument:
 *                               the git sha); default: `git rev-parse HEAD` of the
 *                               project, and no start without one or the other
 */
import { execFileSync } from 'node:child_process';
import type { Connection } from '@temporalio/client';
import { PROJECT_ROOT } from '../config/load';

export interface WorkerVersion {
  deploymentName: string;
  buildId: string;
}

export type WorkerVersioning = { enabled: false } | { enabled: true; version: WorkerVersion };

/** A versioning setting the worker cannot start with; the message says what to set. */
export class WorkerVersioningError extends Error {
  override name = 'WorkerVersioningError';
}

/** The server's own rules (a version id is `<deployment>.<build id>`) and a safe length for both. */
const MAX_PART_LENGTH = 100;

export function workerVersioningSettings(
  taskQueue: string,
  env: NodeJS.ProcessEnv = process.env,
  gitHead: () => string | undefined = projectGitHead,
): WorkerVersioning {
  const switchValue = (env.SENTINEL_WORKER_VERSIONING?.trim() || 'on').toLowerCase();
  if (switchValue === 'off') return { enabled: false };
  if (switchValue !== 'on') {
    throw new WorkerVersioningError(
      `SENTINEL_WORKER_VERSIONING=${env.SENTINEL_WORKER_VERSIONING} is not understood: set it to "on" (the default) or "off"`,
    );
  }
  const deploymentName = env.SENTINEL_DEPLOYMENT_NAME?.trim() || taskQueue;
  if (/[.:]/.test(deploymentName) || deploymentName.length > MAX_PART_LENGTH) {
    throw new WorkerVersioningError(
      `the Worker Deployment name "${deploymentName}" (SENTINEL_DEPLOYMENT_NAME, or the task queue) must not contain "." or ":" and must be at most ${MAX_PART_LENGTH} characters; set SENTINEL_DEPLOYMENT_NAME`,
    );
  }
  const buildId = env.SENTINEL_BUILD_ID?.trim() || gitHead();
  if (!buildId) {
    throw new WorkerVersioningError(
      'the worker has no build id: set SENTINEL_BUILD_ID to the git sha of the code it runs ' +
        '(docker build --build-arg SENTINEL_BUILD_ID=$(git rev-parse HEAD)), run it from a git checkout, ' +
        'or set SENTINEL_WORKER_VERSIONING=off to poll unversioned',
    );
  }
  if (!/^[\w-]+$/.test(buildId) || buildId.length > MAX_PART_LENGTH) {
    throw new WorkerVersioningError(
      `SENTINEL_BUILD_ID="${buildId}" must be letters, digits, "_" or "-" (a git sha), at most ${MAX_PART_LENGTH} characters`,
    );
  }
  return { enabled: true, version: { deploymentName, buildId } };
}

/** The sha of the project's checked-out commit, or undefined outside a git checkout (the image). */
export function projectGitHead(): string | undefined {
  try {
    return (
      execFileSync('git', ['rev-parse', 'HEAD'], {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

export function versionId(version: WorkerVersion): string {
  return `${version.deploymentName}.${version.buildId}`;
}

/**
 * What the worker did about the deployment's current version: it makes its own
 * version current only when the deployment has none (its first deploy, a fresh
 * dev server); otherwise a rollout is an operator's decision (docs/versioning.md).
 */
export type CurrentVersionOutcome = 'made-current' | 'already-current' | 'other-version-current' | 'stopped';

/** Errors no retry mends (bad arguments, no permission, a server without Worker Deployments); anything else is tried again. */
const GRPC_PERMANENT = new Set([
  3 /* INVALID_ARGUMENT */, 7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */,
]);

/**
 * Waits until the server knows this version (it registers on the worker's
 * first poll), then makes it current if the deployment has no current
 * version. The conflict token makes it compare-and-set: two first workers
 * racing leave one of them current.
 */
export async function makeCurrentIfNone(
  connection: Connection,
  namespace: string,
  version: WorkerVersion,
  signal: AbortSignal,
  identity = 'sentinel-worker',
): Promise<CurrentVersionOutcome> {
  const service = connection.workflowService;
  while (!signal.aborted) {
    let described;
    try {
      described = await service.describeWorkerDeployment({
        namespace,
        deploymentName: version.deploymentName,
      });
    } catch (err) {
      // NOT_FOUND until the worker's first poll registers the deployment; or the server is briefly away.
      if (GRPC_PERMANENT.has(grpcCode(err) ?? -1)) throw err;
      await pause(250, signal);
      continue;
    }
    const info = described.workerDeploymentInfo;
    const current = info?.routingConfig?.currentDeploymentVersion;
    if (current?.buildId)
      return current.buildId === version.buildId ? 'already-current' : 'other-version-current';
    const known = (info?.versionSummaries ?? []).some(
      (s) => s.deploymentVersion?.buildId === version.buildId,
    );
    if (!known) {
      await pause(250, signal);
      continue;
    }
    try {
      await service.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        conflictToken: described.conflictToken,
        identity,
      });
      return 'made-current';
    } catch (err) {
      // Someone changed the deployment meanwhile (another first worker), or the server is briefly away: look again.
      if (GRPC_PERMANENT.has(grpcCode(err) ?? -1)) throw err;
      await pause(250, signal);
    }
  }
  return 'stopped';
}

function grpcCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number'
    ? err.code
    : undefined;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
