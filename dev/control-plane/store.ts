/**
 * State of the reference control plane: clusters, their single-use
 * onboarding tokens, agent sessions and jobs. In memory: it lives as long as
 * the demo or the test suite that started it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Cluster, Job, Onboarding, SubmitJobRequest } from '../../src/control-plane/contract';

interface ClusterRecord extends Cluster {
  ownerSubject: string;
}

interface TokenRecord {
  clusterId: string;
  expiresAtMs: number;
  used: boolean;
}

/** Issues the grant that lets one cluster's installer install one candidate (src/cloud-api/candidate-grant.ts). */
export type GrantIssuer = (
  candidate: string,
  onboardingToken: string,
  lifetimeSeconds: number,
) => Promise<string>;

export class ControlPlaneStore {
  readonly clusters = new Map<string, ClusterRecord>();
  private readonly onboardingTokens = new Map<string, TokenRecord>();
  private readonly agentSessions = new Map<string, string>(); // agent token -> cluster id
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly installerUrl: string,
    private readonly onboardingTokenTtlMs: number,
    private readonly issueGrant: GrantIssuer,
    private readonly now: () => number = Date.now,
  ) {}

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  createCluster(name: string, ownerSubject: string, candidate?: string): ClusterRecord {
    const record: ClusterRecord = {
      id: `cl-${randomUUID()}`,
      name,
      status: 'pending',
      createdAt: this.iso(),
      ownerSubject,
      ...(candidate ? { candidate } : {}),
    };
    this.clusters.set(record.id, record);
    return record;
  }

  findByName(name: string): ClusterRecord | undefined {
    return [...this.clusters.values()].find((c) => c.name === name);
  }

  /**
   * A fresh single-use onboarding token and the installer URL to use it with.
   * The token is not in the URL (the installer takes it as a header); a test
   * cluster's URL names its candidate and carries the grant for it.
   */
  async mintOnboarding(cluster: ClusterRecord): Promise<Onboarding> {
    const token = `rot_${randomBytes(24).toString('base64url')}`;
    const expiresAtMs = this.now() + this.onboardingTokenTtlMs;
    this.onboardingTokens.set(token, { clusterId: cluster.id, expiresAtMs, used: false });
    const url = new URL(this.installerUrl);
    if (cluster.candidate) {
      url.searchParams.set('candidate', cluster.candidate);
      url.searchParams.set(
        'grant',
        await this.issueGrant(cluster.candidate, token, Math.ceil(this.onboardingTokenTtlMs / 1000)),
      );
    }
    return {
      clusterId: cluster.id,
      onboardingToken: token,
      installerUrl: url.toString(),
      expiresAt: new Date(expiresAtMs).toISOString(),
    };
  }

  /** Is the token one this control plane minted, unexpired and not yet exchanged? */
  isUsableOnboardingToken(token: string): boolean {
    const record = this.onboardingTokens.get(token);
    return (
      !!record && !record.used && record.expiresAtMs >= this.now() && this.clusters.has(record.clusterId)
    );
  }

  /** The agent's token exchange: the onboarding token is spent, the agent gets its own session token. */
  exchange(
    onboardingToken: string,
    agent: Cluster['agent'],
  ): { agentToken: string; cluster: ClusterRecord } | undefined {
    const record = this.onboardingTokens.get(onboardingToken);
    if (!record || record.used || record.expiresAtMs < this.now()) return undefined;
    const cluster = this.clusters.get(record.clusterId);
    if (!cluster) return undefined;
    record.used = true;
    const agentToken = `rat_${randomBytes(24).toString('base64url')}`;
    this.agentSessions.set(agentToken, cluster.id);
    cluster.status = 'onboarding';
    cluster.tokenExchangedAt = this.iso();
    cluster.agent = agent;
    delete cluster.activeAt;
    return { agentToken, cluster };
  }

  /** An agent's heartbeat: its cluster turns active on the first one; queued jobs are handed out. */
  heartbeat(agentToken: string): { cluster: ClusterRecord; jobs: Job[] } | undefined {
    const clusterId = this.agentSessions.get(agentToken);
    const cluster = clusterId ? this.clusters.get(clusterId) : undefined;
    if (!cluster) return undefined;
    if (cluster.status === 'onboarding') {
      cluster.status = 'active';
      cluster.activeAt = this.iso();
    }
    const handed: Job[] = [];
    for (const job of this.jobs.values()) {
      if (job.clusterId === cluster.id && job.status === 'queued') {
        job.status = 'running';
        job.startedAt = this.iso();
        handed.push({ ...job });
      }
    }
    return { cluster, jobs: handed };
  }

  reportJob(
    agentToken: string,
    jobId: string,
    status: 'succeeded' | 'failed',
    message: string,
  ): Job | undefined {
    const clusterId = this.agentSessions.get(agentToken);
    const job = this.jobs.get(jobId);
    if (!job || job.clusterId !== clusterId || job.status !== 'running') return undefined;
    job.status = status;
    job.message = message.slice(0, 2000);
    job.finishedAt = this.iso();
    return job;
  }

  submitJob(clusterId: string, request: SubmitJobRequest): Job {
    const job: Job = {
      id: `job-${randomUUID()}`,
      clusterId,
      kind: request.kind,
      gpuCount: request.gpuCount,
      vendor: request.vendor,
      status: 'queued',
      createdAt: this.iso(),
    };
    this.jobs.set(job.id, job);
    return job;
  }

  getJob(clusterId: string, jobId: string): Job | undefined {
    const job = this.jobs.get(jobId);
    return job && job.clusterId === clusterId ? job : undefined;
  }

  /** Deletes the cluster and ends its agent sessions; its jobs go with it. */
  deleteCluster(clusterId: string): boolean {
    const existed = this.clusters.delete(clusterId);
    for (const [token, id] of this.agentSessions) if (id === clusterId) this.agentSessions.delete(token);
    for (const [token, record] of this.onboardingTokens)
      if (record.clusterId === clusterId) this.onboardingTokens.delete(token);
    for (const [id, job] of this.jobs) if (job.clusterId === clusterId) this.jobs.delete(id);
    return existed;
  }

  view(cluster: ClusterRecord): Cluster {
    const { ownerSubject: _owner, ...rest } = cluster;
    return rest;
  }
}
