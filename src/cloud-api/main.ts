/**
 * `npm run cloud-api -- --env <env>`: the control plane's installer service
 * for one environment of ops/invariants.yaml (or SENTINEL_INVARIANTS).
 *
 * It listens where the public base URL (RADIX_API_URL, else
 * controlPlane.baseUrl) says, unless --host / --port say otherwise (behind a
 * load balancer, or --port 0 for a free port). AWS comes from the standard
 * chain and AWS_ENDPOINT_URL; candidate installs need RADIX_INSTALLER_GRANT_KEY.
 * Where attestation is required it reads the image's attestations from its
 * registry (SENTINEL_REGISTRY_URL overrides the repository's host) and the
 * environment's public key from KMS.
 * It logs JSON lines; the first says where it listens. SIGTERM / SIGINT stop it.
 */
import { Command, InvalidArgumentError } from 'commander';
import { AwsClients } from '../aws/clients';
import { environmentOf, UnknownEnvironmentError } from '../config/environment';
import { InvariantsError, loadInvariants } from '../config/load';
import { RegistryConfigError } from '../registry/client';
import { GRANT_KEY_VARIABLE, GrantKeyError, grantKeyFromEnv } from './candidate-grant';
import { ApiUrlError, buildCloudApi, resolveApiUrl } from './server';

interface Options {
  env: string;
  invariants?: string;
  host?: string;
  port?: number;
  cache: boolean;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port number (0 picks a free one)');
  return n;
}

async function main(argv: string[]): Promise<void> {
  const options = new Command('cloud-api')
    .description('the control plane installer service (GET /v1/clusters/installer) for one environment')
    .requiredOption('--env <env>', 'environment of ops/invariants.yaml')
    .option(
      '--invariants <path>',
      'configuration file (default: $SENTINEL_INVARIANTS, then ops/invariants.yaml)',
    )
    .option('--host <address>', 'address to listen on (default: the host of the public base URL)')
    .option(
      '--port <port>',
      'port to listen on, 0 for a free one (default: the port of the public base URL)',
      port,
    )
    .option('--no-cache', 'read SSM on every request (benchmark baseline only; never in production)')
    .parse(argv)
    .opts<Options>();

  const invariants = loadInvariants(options.invariants);
  const env = environmentOf(invariants, options.env);
  const apiUrl = resolveApiUrl(env.controlPlane.baseUrl);
  const grantKey = grantKeyFromEnv();
  const publicUrl = new URL(apiUrl);
  const host = options.host ?? publicUrl.hostname.replace(/^\[|\]$/g, '');
  const listenPort =
    options.port ?? (publicUrl.port ? Number(publicUrl.port) : publicUrl.protocol === 'https:' ? 443 : 80);

  const aws = new AwsClients();
  const api = buildCloudApi({
    invariants,
    environment: options.env,
    apiUrl,
    aws,
    cache: options.cache,
    grantKey,
    logger: { level: process.env.LOG_LEVEL || 'info' },
  });
  let url: string;
  try {
    url = await api.listen(host, listenPort);
  } catch (err) {
    throw new Error(
      `cannot listen on ${host}:${listenPort} (${(err as Error).message}); pass --host and --port`,
    );
  }
  api.app.log.info(
    {
      url,
      environment: options.env,
      apiUrl,
      parameter: env.approvedDigestParameter,
      cacheTtlMs: options.cache ? env.controlPlane.installer.cacheTtl : 0,
      candidateInstalls: grantKey ? 'enabled' : `disabled (no ${GRANT_KEY_VARIABLE})`,
      attestation: env.attestation.requireAttestation
        ? `required, signed by ${env.attestation.kmsKeyId}`
        : 'not required',
      invariants: invariants.file,
    },
    'cloud-api listening',
  );
  if (!options.cache)
    api.app.log.warn('the approved-digest cache is off: every request reads SSM (benchmark baseline only)');

  const stop = async (signal: string) => {
    api.app.log.info({ signal }, 'cloud-api stopping');
    await api.close();
    aws.destroy();
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof InvariantsError) {
    console.error(err.message);
    process.exit(3);
  }
  if (
    err instanceof UnknownEnvironmentError ||
    err instanceof ApiUrlError ||
    err instanceof GrantKeyError ||
    err instanceof RegistryConfigError
  ) {
    console.error(`cloud-api: ${err.message}`);
    process.exit(2);
  }
  console.error(`cloud-api: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
