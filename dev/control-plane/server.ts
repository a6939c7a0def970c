/**
 * The reference control plane: a small, honest implementation of the
 * contract in docs/control-plane.openapi.yaml, for the demo and the tests
 * (there is no real control plane here). One service: the installer endpoint
 * (src/cloud-api) plus the cluster, job and agent endpoints below. It
 * authenticates Sentinel with Cognito IdTokens verified against the pool's
 * keys, and talks to the agent (token exchange, heartbeats, jobs).
 *
 * It is a reference, not the product: state is in memory, in one process.
 * It holds to the rules Sentinel relies on: single-use onboarding tokens,
 * tokens minted and clusters deleted only by their owner,
 * candidate installs only for the release-gate group (through a grant bound
 * to the cluster's token), clusters deleted with everything they own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AwsClients } from '../../src/aws/clients';
import { environmentOf } from '../../src/config/environment';
import type { LoadedInvariants } from '../../src/config/load';
import { mintCandidateGrant } from '../../src/cloud-api/candidate-grant';
import { INSTALLER_PATH } from '../../src/cloud-api/installer';
import { buildCloudApi } from '../../src/cloud-api/server';
import { parsePinnedImage } from '../../src/domain/image-ref';
import { freePort } from '../stack/process';
import { createClusterRequest, RELEASE_GATE_GROUP, submitJobRequest } from '../../src/control-plane/contract';
import { cognitoVerifier, Unauthorized, type CognitoPool, type Principal } from './bearer-auth';
import { ControlPlaneStore } from './store';

export interface ReferenceControlPlaneOptions {
  invariants: LoadedInvariants;
  /** The environment this control plane serves (its approved digest, repository, installer settings). */
  environment: string;
  aws: AwsClients;
  cognito: CognitoPool;
  onboardingTokenTtlMs: number;
  env?: NodeJS.ProcessEnv;
}

export interface ReferenceControlPlane {
  url: string;
  app: FastifyInstance;
  store: ControlPlaneStore;
  stop(): Promise<void>;
}

const exchangeRequest = z.object({
  onboardingToken: z.string(),
  imageDigest: z.string().optional(),
  gpuVendor: z.string().optional(),
  gpuCount: z.number().optional(),
  gpuModel: z.string().optional(),
});
const jobResult = z.object({ status: z.enum(['succeeded', 'failed']), message: z.string() });

export async function startReferenceControlPlane(
  options: ReferenceControlPlaneOptions,
): Promise<ReferenceControlPlane> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const settings = environmentOf(options.invariants, options.environment);
  // A grant key of its own: candidate grants are only ever checked by this same process.
  const grantKey = new Uint8Array(randomBytes(32));
  const store = new ControlPlaneStore(
    `${url}${INSTALLER_PATH}`,
    options.onboardingTokenTtlMs,
    (candidate, onboardingToken, lifetime) =>
      mintCandidateGrant(
        grantKey,
        { candidate, onboardingToken, environment: options.environment },
        lifetime,
      ),
  );
  const cloud = buildCloudApi({
    invariants: options.invariants,
    environment: options.environment,
    apiUrl: url,
    aws: options.aws,
    cache: true,
    grantKey,
    logger: false,
    isKnownOnboardingToken: (token) => store.isUsableOnboardingToken(token),
  });
  registerClusterApi(
    cloud.app,
    store,
    cognitoVerifier(options.cognito, options.env),
    settings.image.repository,
  );
  await cloud.listen('127.0.0.1', port);
  return { url, app: cloud.app, store, stop: () => cloud.close() };
}

/**
 * Why `who` may not act on `cluster`, or undefined when they may. Only the
 * cluster's owner may, and for a release-gate cluster (one that installs a
 * candidate, so whose tokens carry a candidate grant) only while still a
 * member of the release-gate group: the same rule that let them create it.
 */
export function refuseUnlessOwner(
  who: Principal,
  cluster: { ownerSubject: string; candidate?: string },
  action: string,
): string | undefined {
  if (cluster.ownerSubject !== who.subject) return `only the cluster's owner may ${action} it`;
  if (cluster.candidate !== undefined && !who.groups.includes(RELEASE_GATE_GROUP)) {
    return `a cluster that installs a candidate requires membership of ${RELEASE_GATE_GROUP} to ${action} it`;
  }
  return undefined;
}

function registerClusterApi(
  app: FastifyInstance,
  store: ControlPlaneStore,
  verify: (authorization: string | undefined) => Promise<Principal>,
  repository: string,
): void {
  async function principal(request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined> {
    try {
      return await verify(request.headers.authorization);
    } catch (err) {
      if (err instanceof Unauthorized) {
        await reply.code(401).send({ message: err.message });
        return undefined;
      }
      throw err;
    }
  }
  const agentToken = (request: FastifyRequest) =>
    /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
  const problems = (error: z.ZodError) =>
    error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');

  // --- Sentinel (service user) ---------------------------------------------------------------
  app.post('/v1/clusters', async (request, reply) => {
    const who = await principal(request, reply);
    if (!who) return;
    const body = createClusterRequest.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ message: problems(body.error) });
    if (body.data.candidate !== undefined) {
      if (!who.groups.includes(RELEASE_GATE_GROUP))
        return reply
          .code(403)
          .send({ message: `installing a candidate requires membership of ${RELEASE_GATE_GROUP}` });
      try {
        parsePinnedImage(body.data.candidate, repository);
      } catch (err) {
        return reply.code(400).send({ message: `candidate refused: ${(err as Error).message}` });
      }
    }
    if (store.findByName(body.data.name))
      return reply.code(409).send({ message: `cluster ${body.data.name} exists` });
    const cluster = store.createCluster(body.data.name, who.subject, body.data.candidate);
    return reply
      .code(201)
      .send({ cluster: store.view(cluster), onboarding: await store.mintOnboarding(cluster) });
  });

  app.get<{ Querystring: { name?: string } }>('/v1/clusters', async (request, reply) => {
    if (!(await principal(request, reply))) return;
    const clusters = [...store.clusters.values()].filter(
      (c) => request.query.name === undefined || c.name === request.query.name,
    );
    return { clusters: clusters.map((c) => store.view(c)) };
  });

  app.get<{ Params: { id: string } }>('/v1/clusters/:id', async (request, reply) => {
    if (!(await principal(request, reply))) return;
    const cluster = store.clusters.get(request.params.id);
    return cluster ? store.view(cluster) : reply.code(404).send({ message: 'no such cluster' });
  });

  app.delete<{ Params: { id: string } }>('/v1/clusters/:id', async (request, reply) => {
    const who = await principal(request, reply);
    if (!who) return;
    const cluster = store.clusters.get(request.params.id);
    if (!cluster) return reply.code(404).send({ message: 'no such cluster' });
    const refusal = refuseUnlessOwner(who, cluster, 'delete');
    if (refusal) return reply.code(403).send({ message: refusal });
    store.deleteCluster(cluster.id);
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/v1/clusters/:id/onboarding-tokens', async (request, reply) => {
    const who = await principal(request, reply);
    if (!who) return;
    const cluster = store.clusters.get(request.params.id);
    if (!cluster) return reply.code(404).send({ message: 'no such cluster' });
    const refusal = refuseUnlessOwner(who, cluster, 'mint an onboarding token for');
    if (refusal) return reply.code(403).send({ message: refusal });
    return reply.code(201).send(await store.mintOnboarding(cluster));
  });

  app.post<{ Params: { id: string } }>('/v1/clusters/:id/jobs', async (request, reply) => {
    if (!(await principal(request, reply))) return;
    const cluster = store.clusters.get(request.params.id);
    if (!cluster) return reply.code(404).send({ message: 'no such cluster' });
    if (cluster.status !== 'active')
      return reply.code(409).send({ message: `cluster is ${cluster.status}, not active` });
    const body = submitJobRequest.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ message: problems(body.error) });
    return reply.code(201).send(store.submitJob(cluster.id, body.data));
  });

  app.get<{ Params: { id: string; jobId: string } }>(
    '/v1/clusters/:id/jobs/:jobId',
    async (request, reply) => {
      if (!(await principal(request, reply))) return;
      const job = store.getJob(request.params.id, request.params.jobId);
      return job ?? reply.code(404).send({ message: 'no such job' });
    },
  );

  // --- Agent -------------------------------------------------------------------------------
  app.post('/v1/agent/exchange', async (request, reply) => {
    const body = exchangeRequest.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ message: 'onboardingToken required' });
    const { onboardingToken, ...agent } = body.data;
    const session = store.exchange(onboardingToken, agent);
    if (!session)
      return reply.code(401).send({ message: 'onboarding token unknown, expired or already used' });
    return { agentToken: session.agentToken, clusterId: session.cluster.id };
  });

  app.post('/v1/agent/heartbeat', async (request, reply) => {
    const beat = store.heartbeat(agentToken(request));
    return beat
      ? { clusterId: beat.cluster.id, jobs: beat.jobs }
      : reply.code(401).send({ message: 'unknown agent session' });
  });

  app.post<{ Params: { jobId: string } }>('/v1/agent/jobs/:jobId/result', async (request, reply) => {
    const body = jobResult.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ message: 'status and message required' });
    const job = store.reportJob(
      agentToken(request),
      request.params.jobId,
      body.data.status,
      body.data.message,
    );
    return job ?? reply.code(404).send({ message: 'no such running job for this agent' });
  });
}
