/**
 * Typed client for the control-plane endpoints a leg needs, authenticated as
 * Sentinel's service user. Every failure is classified: refused credentials
 * (not retryable), an unavailable control plane (retryable), or a request the
 * control plane refused (with its message).
 */
import type { z } from 'zod';
import { ControlPlaneAuthError, type CognitoTokenProvider } from '../auth/cognito-token';
import {
  cluster,
  clusterList,
  createClusterResponse,
  job,
  onboarding,
  type Cluster,
  type CreateClusterRequest,
  type Job,
  type Onboarding,
  type SubmitJobRequest,
} from './contract';

export class ControlPlaneUnavailableError extends Error {
  override name = 'ControlPlaneUnavailableError';
}

export class ControlPlaneRequestError extends Error {
  override name = 'ControlPlaneRequestError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ControlPlaneClient {
  constructor(
    private readonly baseUrl: string,
    private readonly tokens: CognitoTokenProvider,
    private readonly timeoutMs = 15_000,
  ) {}

  async createCluster(request: CreateClusterRequest): Promise<{ cluster: Cluster; onboarding: Onboarding }> {
    return this.call('POST', '/v1/clusters', createClusterResponse, request);
  }

  async findClusterByName(name: string): Promise<Cluster | undefined> {
    const out = await this.call('GET', `/v1/clusters?name=${encodeURIComponent(name)}`, clusterList);
    return out.clusters[0];
  }

  /** Every cluster the service user can see (the janitor looks for test clusters of dead runs). */
  async listClusters(): Promise<Cluster[]> {
    return (await this.call('GET', '/v1/clusters', clusterList)).clusters;
  }

  /** A fresh onboarding token for an existing cluster (a retried install needs one: tokens are single-use). */
  async mintOnboardingToken(clusterId: string): Promise<Onboarding> {
    return this.call('POST', `/v1/clusters/${encodeURIComponent(clusterId)}/onboarding-tokens`, onboarding);
  }

  async getCluster(clusterId: string): Promise<Cluster> {
    return this.call('GET', `/v1/clusters/${encodeURIComponent(clusterId)}`, cluster);
  }

  /** Idempotent: a cluster already gone counts as deleted. */
  async deleteCluster(clusterId: string): Promise<void> {
    try {
      await this.call('DELETE', `/v1/clusters/${encodeURIComponent(clusterId)}`, null);
    } catch (err) {
      if (err instanceof ControlPlaneRequestError && err.status === 404) return;
      throw err;
    }
  }

  async submitJob(clusterId: string, request: SubmitJobRequest): Promise<Job> {
    return this.call('POST', `/v1/clusters/${encodeURIComponent(clusterId)}/jobs`, job, request);
  }

  async getJob(clusterId: string, jobId: string): Promise<Job> {
    return this.call(
      'GET',
      `/v1/clusters/${encodeURIComponent(clusterId)}/jobs/${encodeURIComponent(jobId)}`,
      job,
    );
  }

  private async call<S extends z.ZodType | null>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<S extends z.ZodType ? z.infer<S> : void> {
    for (let attempt = 1; ; attempt++) {
      const token = await this.tokens.idToken();
      let response: Response;
      try {
        response = await fetch(new URL(path, this.baseUrl), {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        throw new ControlPlaneUnavailableError(`${method} ${path}: ${(err as Error).message}`);
      }
      if (response.status === 401 && attempt === 1) {
        // An expired or revoked token: sign in again once.
        this.tokens.invalidate(token);
        continue;
      }
      const text = await response.text();
      if (response.status === 401 || response.status === 403) {
        throw new ControlPlaneAuthError(
          `the control plane refused Sentinel's service user (${response.status} on ${method} ${path}): ${errorMessage(text)}`,
        );
      }
      if (response.status >= 500 || response.status === 429) {
        throw new ControlPlaneUnavailableError(`${method} ${path}: ${response.status} ${errorMessage(text)}`);
      }
      if (response.status >= 400)
        throw new ControlPlaneRequestError(
          response.status,
          `${method} ${path}: ${response.status} ${errorMessage(text)}`,
        );
      if (schema === null) return undefined as never;
      const parsed = schema.safeParse(text ? JSON.parse(text) : undefined);
      if (!parsed.success) {
        throw new ControlPlaneUnavailableError(
          `${method} ${path}: response breaks the contract: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      }
      return parsed.data as never;
    }
  }
}

function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    const said = body.message ?? body.error ?? text;
    // Some control planes answer `{"error": {"code", "message"}}`: shown as JSON, not as "[object Object]".
    return (typeof said === 'string' ? said : JSON.stringify(said)).slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}
