/**
 * The control-plane API Sentinel's legs use (docs/control-plane.openapi.yaml),
 * as validators for what crosses the wire. Shared by the client and the
 * reference implementation so both hold to one contract.
 */
import { z } from 'zod';

export const clusterStatus = z.enum(['pending', 'onboarding', 'active', 'failed']);
export const jobStatus = z.enum(['queued', 'running', 'succeeded', 'failed']);

/** Sentinel's test clusters carry the leg's id as their name, so a retried leg finds its own cluster. */
export const createClusterRequest = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/),
  /** Install this candidate instead of the approved digest (release-gate principals only). */
  candidate: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
});

export const cluster = z.object({
  id: z.string(),
  name: z.string(),
  status: clusterStatus,
  statusMessage: z.string().optional(),
  candidate: z.string().optional(),
  createdAt: z.string(),
  tokenExchangedAt: z.string().optional(),
  activeAt: z.string().optional(),
  agent: z
    .object({
      imageDigest: z.string().optional(),
      gpuVendor: z.string().optional(),
      gpuCount: z.number().optional(),
      gpuModel: z.string().optional(),
    })
    .optional(),
});

/** Returned once per mint: the token is a secret and is not part of the cluster view. */
export const onboarding = z.object({
  clusterId: z.string(),
  onboardingToken: z.string(),
  installerUrl: z.string().url(),
  expiresAt: z.string(),
});

export const createClusterResponse = z.object({ cluster, onboarding });

export const submitJobRequest = z.strictObject({
  kind: z.literal('gpu-smoke'),
  gpuCount: z.number().int().min(1),
  vendor: z.enum(['nvidia', 'amd']),
});

export const job = z.object({
  id: z.string(),
  clusterId: z.string(),
  kind: z.string(),
  gpuCount: z.number().int().optional(),
  vendor: z.enum(['nvidia', 'amd']).optional(),
  status: jobStatus,
  message: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});

export const clusterList = z.object({ clusters: z.array(cluster) });

export type Cluster = z.infer<typeof cluster>;
export type Onboarding = z.infer<typeof onboarding>;
export type Job = z.infer<typeof job>;
export type CreateClusterRequest = z.infer<typeof createClusterRequest>;
export type SubmitJobRequest = z.infer<typeof submitJobRequest>;

/** Cognito group whose members may install a candidate instead of the approved digest. */
export const RELEASE_GATE_GROUP = 'radix-release-gate';
