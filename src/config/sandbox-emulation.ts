/**
 * A sandbox environment's runs are simulated: they must never touch real
 * AWS, least of all a real approved pointer. So before a sandbox run starts
 * (in the CLI, and again on the worker, whose environment is the one that
 * counts), every AWS service the run uses must be pointed at an emulator
 * through the standard SDK variables: AWS_ENDPOINT_URL, or
 * AWS_ENDPOINT_URL_<SERVICE> for the service (which wins, as in the SDK).
 * Pointing EC2 alone at an emulator is not enough: SSM would still be AWS.
 */
import type { EnvironmentConfig } from './schema';

interface ServiceUse {
  /** The SDK's service id, as in AWS_ENDPOINT_URL_<SERVICE>. */
  variable: string;
  name: string;
  why: string;
}

/** The AWS services a run of the environment calls, each with what it is used for. */
export function awsServicesOfRun(env: EnvironmentConfig, vars: NodeJS.ProcessEnv): ServiceUse[] {
  const uses: ServiceUse[] = [
    { variable: 'AWS_ENDPOINT_URL_EC2', name: 'EC2', why: 'instances and pinned AMIs' },
    {
      variable: 'AWS_ENDPOINT_URL_SSM',
      name: 'SSM',
      why: `the approved pointer ${env.approvedDigestParameter}`,
    },
  ];
  if (env.evidence.location.startsWith('s3://')) {
    uses.push({
      variable: 'AWS_ENDPOINT_URL_S3',
      name: 'S3',
      why: `the evidence at ${env.evidence.location}`,
    });
  }
  // The control plane's service user signs in through Cognito unless a token is given as is.
  if (!vars.RADIX_JWT_TOKEN) {
    uses.push({
      variable: 'AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER',
      name: 'Cognito',
      why: `the control plane's service user (pool ${env.controlPlane.cognito.userPoolId})`,
    });
  }
  return uses;
}

/** Hosts of AWS itself: an endpoint there is no emulator. */
const AWS_HOSTS = /(^|\.)(amazonaws\.com|amazonaws\.com\.cn|api\.aws|on\.aws)$/i;

/**
 * What keeps a run of the environment from being safely simulated, one
 * problem per line naming the variable to set; empty when every service it
 * uses is emulated, or when the environment is not a sandbox.
 */
export function sandboxEmulationProblems(
  env: EnvironmentConfig,
  vars: NodeJS.ProcessEnv = process.env,
): string[] {
  if (env.kind !== 'sandbox' && env.executor.kind !== 'local') return [];
  if (/^true$/i.test(vars.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '')) {
    return [
      'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true makes the AWS SDK ignore every endpoint variable, so every call would go to AWS: unset it',
    ];
  }
  const problems: string[] = [];
  for (const use of awsServicesOfRun(env, vars)) {
    const own = vars[use.variable]?.trim();
    const [variable, endpoint] = own
      ? [use.variable, own]
      : ['AWS_ENDPOINT_URL', vars.AWS_ENDPOINT_URL?.trim()];
    if (!endpoint) {
      problems.push(
        `${use.variable} (or AWS_ENDPOINT_URL) is not set: ${use.name} (${use.why}) would be real AWS; point it at the emulator`,
      );
      continue;
    }
    let host: string;
    try {
      host = new URL(endpoint).hostname;
    } catch {
      problems.push(
        `${variable}=${endpoint} is not a URL; expected the emulator's, e.g. http://127.0.0.1:5000`,
      );
      continue;
    }
    if (AWS_HOSTS.test(host))
      problems.push(
        `${variable}=${endpoint} is AWS itself, not an emulator: ${use.name} (${use.why}) would be real`,
      );
  }
  return problems;
}
