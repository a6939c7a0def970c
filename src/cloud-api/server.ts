/**
 * The control plane's HTTP service (reference implementation): the installer
 * endpoint and a health endpoint, on Fastify. One process serves one
 * environment of ops/invariants.yaml.
 *
 *   GET /v1/clusters/installer   the installer script (src/cloud-api/installer.ts)
 *   GET /healthz                 liveness, the approved-digest cache's and the attestation checks' counters
 *   GET /metrics                 Prometheus counters of installer answers (./metrics.ts)
 *
 * Request URLs carry onboarding tokens and grants, so the log never records
 * a query string, and no response carrying a token may be cached.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { AwsClients } from '../aws/clients';
import type { LoadedInvariants } from '../config/load';
import { environmentOf } from '../config/environment';
import { checkDigest, digestCheckRequest } from '../attestation/check-digest';
import { registryEndpoint } from '../registry/client';
import { RegistryWriter } from '../registry/push';
import {
  ApprovedDigestCache,
  approvedDigestOutcome,
  UncachedApprovedDigest,
  type ApprovedDigestOutcome,
  type ApprovedDigestProvider,
} from './approved-digest';
import { AttestedDigestReader, type DigestVerifier } from './attested-digest';
import { CandidateGrants } from './candidate-grant';
import { handleInstallerRequest, INSTALLER_PATH, type InstallerDeps } from './installer';
import type { ScriptSettings } from './installer-script';
import { InstallerMetrics, METRICS_CONTENT_TYPE, METRICS_PATH } from './metrics';

export const HEALTH_PATH = '/healthz';

export interface CloudApiOptions {
  invariants: LoadedInvariants;
  environment: string;
  /** Public base URL handed to agents (see resolveApiUrl). */
  apiUrl: string;
  aws: AwsClients;
  /** False serves every request from SSM directly: for the benchmark's baseline only. */
  cache: boolean;
  /** The candidate grant key; undefined refuses every candidate. */
  grantKey: Uint8Array | undefined;
  /** Fastify's logger: false for none, or pino options (a `stream` captures the log). */
  logger: FastifyServerOptions['logger'];
  /** Set when the service also manages clusters (the reference control plane): refuses unknown tokens. */
  isKnownOnboardingToken?: (token: string) => boolean;
}

export interface CloudApi {
  app: FastifyInstance;
  installer: InstallerDeps;
  /** Starts listening; returns the URL it listens on. */
  listen(host: string, port: number): Promise<string>;
  close(): Promise<void>;
}

export class ApiUrlError extends Error {}

/** RADIX_API_URL overrides controlPlane.baseUrl; either must be an absolute http(s) URL. */
export function resolveApiUrl(configured: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.RADIX_API_URL || configured;
  let url: URL;
  try {
    url = new URL(chosen);
  } catch {
    throw new ApiUrlError(
      `${env.RADIX_API_URL ? 'RADIX_API_URL' : 'controlPlane.baseUrl'} is not a URL: ${JSON.stringify(chosen)}`,
    );
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username ||
    url.password ||
    url.search ||
    url.hash
  ) {
    throw new ApiUrlError(
      `${env.RADIX_API_URL ? 'RADIX_API_URL' : 'controlPlane.baseUrl'} must be a plain http(s) base URL, got ${JSON.stringify(chosen)}`,
    );
  }
  return url.href.replace(/\/+$/, '');
}

export function buildCloudApi(options: CloudApiOptions): CloudApi {
  const env = environmentOf(options.invariants, options.environment);
  const settings: ScriptSettings = {
    environment: options.environment,
    region: env.awsRegion,
    parameter: env.approvedDigestParameter,
    repository: env.image.repository,
    apiUrl: options.apiUrl,
    cacheTtlMs: env.controlPlane.installer.cacheTtl,
    kmsKeyId: env.attestation.kmsKeyId,
  };
  const app = Fastify({
    logger: withSafeRequestLogging(options.logger),
    // One line per refresh and per refused request is enough; a line per served script is noise at thousands per second.
    logController: new LogController({ disableRequestLogging: true }),
  });

  const readPointer = () =>
    approvedDigestOutcome(
      options.aws,
      { region: env.awsRegion, parameter: env.approvedDigestParameter },
      env.image.repository,
      env.controlPlane.installer.ssmTimeout,
    );

  // The proof behind the pointer: the environment's key from KMS, the image's attestations from its registry.
  const kms = options.aws.kms(env.awsRegion);
  // Resolved once, so a bad SENTINEL_REGISTRY_URL stops the service at start rather than failing every check.
  const registryOfImages = env.attestation.requireAttestation
    ? registryEndpoint(env.image.repository)
    : undefined;
  let registryRequests = 0;
  const verify: DigestVerifier = async (image, signal) => {
    const countingFetch: typeof fetch = (input, init) => {
      registryRequests += 1;
      return fetch(input, { ...init, signal });
    };
    // The approved digest is always of env.image.repository (approvedDigestOutcome refuses any other).
    const registry = new RegistryWriter(registryOfImages!, undefined, countingFetch);
    return checkDigest(kms, digestCheckRequest(options.environment, env, image), registry);
  };
  const attested = env.attestation.requireAttestation
    ? new AttestedDigestReader(readPointer, verify, env.controlPlane.installer.ssmTimeout)
    : undefined;
  const read = attested ? attested.get : readPointer;
  const logRead = (outcome: ApprovedDigestOutcome, ms: number) => {
    const fields = { parameter: env.approvedDigestParameter, ms, ...describe(outcome) };
    if (outcome.kind === 'approved') app.log.info(fields, 'approved digest read');
    else if (outcome.kind === 'unattested')
      app.log.error(fields, 'approved digest refused: its attestation does not hold');
    else app.log.error(fields, 'approved digest not servable');
  };
  const approved: ApprovedDigestProvider = options.cache
    ? new ApprovedDigestCache({ ttlMs: env.controlPlane.installer.cacheTtl, read, onRead: logRead })
    : new UncachedApprovedDigest(read);

  const installer: InstallerDeps = {
    settings,
    approved,
    grants: options.grantKey ? new CandidateGrants(options.grantKey) : undefined,
    retryAfterSeconds: Math.max(1, Math.ceil(env.controlPlane.installer.cacheTtl / 1000)),
    ...(options.isKnownOnboardingToken ? { isKnownOnboardingToken: options.isKnownOnboardingToken } : {}),
  };

  const metrics = new InstallerMetrics(options.environment);
  // Counted when the answer is sent, so an answer the handler never shaped (a 500) is counted too.
  const countAnswer = (
    _request: unknown,
    reply: { statusCode: number; getHeader(name: string): unknown },
    done: () => void,
  ) => {
    const error = reply.getHeader('x-radix-installer-error');
    metrics.countResponse(
      reply.statusCode,
      typeof error === 'string' ? error : reply.statusCode === 200 ? 'installed' : 'error',
    );
    done();
  };
  app.get(METRICS_PATH, async (_request, reply) =>
    reply.header('content-type', METRICS_CONTENT_TYPE).send(metrics.render()),
  );

  app.get(INSTALLER_PATH, { onResponse: countAnswer }, async (request, reply) => {
    const res = await handleInstallerRequest(
      { query: request.query as Record<string, unknown>, headers: request.headers },
      installer,
    );
    const { outcome } = res;
    if (outcome.result === 'installed' && outcome.source === 'candidate') {
      request.log.info({ installer: outcome }, 'candidate installer served');
    } else if (
      outcome.result === 'ONBOARDING_TOKEN_INVALID' ||
      outcome.result === 'CANDIDATE_INVALID' ||
      outcome.result === 'CANDIDATE_NOT_AUTHORISED'
    ) {
      request.log.warn({ installer: outcome }, 'installer request refused');
    }
    return reply.code(res.status).headers(res.headers).send(res.body);
  });

  app.get(HEALTH_PATH, async () => ({
    status: 'ok',
    environment: options.environment,
    approvedDigest: {
      parameter: env.approvedDigestParameter,
      cache: options.cache,
      cacheTtlMs: env.controlPlane.installer.cacheTtl,
      ...approved.stats(),
    },
    attestation: {
      required: env.attestation.requireAttestation,
      kmsKeyId: env.attestation.kmsKeyId,
      ...(attested ? attested.stats() : {}),
      registryRequests,
    },
    awsCalls: options.aws.callCounts(),
  }));

  return {
    app,
    installer,
    async listen(host: string, port: number) {
      await app.listen({ host, port });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('the service has no TCP address');
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${shownHost}:${address.port}`;
    },
    close: () => app.close(),
  };
}

function describe(outcome: ApprovedDigestOutcome): Record<string, unknown> {
  switch (outcome.kind) {
    case 'approved':
      return {
        outcome: 'approved',
        reference: outcome.image.reference,
        version: outcome.version,
        ...(outcome.attestedBy ? { attestedBy: outcome.attestedBy } : {}),
      };
    case 'unattested':
      // The digest is logged (it is a valid pinned reference); the script never names it.
      return {
        outcome: 'APPROVED_DIGEST_UNATTESTED',
        reason: outcome.reason,
        reference: outcome.image.reference,
        version: outcome.version,
        ...(outcome.detail ? { detail: outcome.detail } : {}),
      };
    case 'missing':
      return { outcome: 'APPROVED_DIGEST_MISSING' };
    case 'invalid':
      // The value itself is not logged either: it may be anything.
      return { outcome: 'APPROVED_DIGEST_INVALID', problem: outcome.problem, version: outcome.version };
    case 'unavailable':
      return {
        outcome: 'APPROVED_DIGEST_UNAVAILABLE',
        source: outcome.source,
        reason: outcome.reason,
        detail: outcome.detail,
      };
  }
}

/** Request log lines name the path, never the query (it carries tokens and grants). */
function withSafeRequestLogging(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (!logger) return false;
  const base = logger === true ? {} : logger;
  return {
    ...base,
    serializers: {
      ...(base.serializers ?? {}),
      req: (req: { method?: string; url?: string; id?: string }) => ({
        method: req.method,
        path: (req.url ?? '').split('?')[0],
        id: req.id,
      }),
    },
  };
}
