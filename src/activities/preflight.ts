/**
 * Checks a run makes before any instance, dry or not: the candidate's
 * manifest exists in the registry, and every target's pinned AMI is there.
 * Also the nightly run's candidate: the digest its configured tag points to.
 */
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { Context } from '@temporalio/activity';
import { awsErrorMessage, isCredentialError } from '../aws/errors';
import type { TargetConfig } from '../config/schema';
import type { CandidateSource } from '../domain/run';
import type { PinnedImage } from '../domain/image-ref';
import {
  RegistryClient,
  RegistryConfigError,
  RegistryError,
  registryEndpoint,
  type RegistryEndpoint,
} from '../registry/client';
import type { ActivityDeps } from './deps';
import { environmentForActivity } from './environment';
import { activityFailure } from './failure';

export interface ManifestCheck {
  registry: string;
  digest: string;
  mediaType: string;
}

export interface AmiCheckRequest {
  region: string;
  targets: Array<Pick<TargetConfig, 'name' | 'ami'>>;
}

export interface AmiFacts {
  target: string;
  ami: string;
  name: string;
  state: string;
}

export interface NightlyCandidate {
  /** `<repository>@sha256:<digest>` */
  candidate: string;
  /** The same, as its parts (absent in results recorded before they were carried). */
  candidateImage?: PinnedImage;
  source: CandidateSource;
  /** The image's `org.opencontainers.image.revision` label, when it carries a commit id. */
  gitSha?: string;
}

const REVISION = /^[0-9a-f]{7,64}$/;

export function preflightActivities({ aws, invariants }: Pick<ActivityDeps, 'aws' | 'invariants'>) {
  const registry = new RegistryClient();

  function endpointOf(repository: string): RegistryEndpoint {
    try {
      return registryEndpoint(repository);
    } catch (err) {
      if (err instanceof RegistryConfigError) throw activityFailure('CONFIG_INVALID', err.message);
      throw err;
    }
  }

  /** Registry errors to catalogue codes: refusals are final, an unreachable registry is retried. */
  function registryFailure(err: unknown): unknown {
    if (!(err instanceof RegistryError)) return err;
    if (err.kind === 'auth_refused') return activityFailure('REGISTRY_AUTH_REFUSED', err.message, err);
    return activityFailure('REGISTRY_UNREACHABLE', err.message, err);
  }

  return {
    /** `HEAD /v2/<name>/manifests/<digest>`: MANIFEST_NOT_FOUND when the registry has no such manifest. */
    async checkManifest(req: { candidate: PinnedImage }): Promise<ManifestCheck> {
      const endpoint = endpointOf(req.candidate.repository);
      let head;
      try {
        head = await registry.headManifest(
          endpoint,
          req.candidate.digest,
          Context.current().cancellationSignal,
        );
      } catch (err) {
        throw registryFailure(err);
      }
      if (!head) {
        throw activityFailure(
          'MANIFEST_NOT_FOUND',
          `${endpoint.baseUrl}/v2/${endpoint.name}/manifests/${req.candidate.digest}: 404, no such manifest`,
        );
      }
      if (head.digest !== req.candidate.digest) {
        throw activityFailure(
          'MANIFEST_NOT_FOUND',
          `${endpoint.baseUrl} answered for ${req.candidate.digest} with a different digest ${head.digest}`,
        );
      }
      return { registry: endpoint.baseUrl, digest: head.digest, mediaType: head.mediaType };
    },

    /** DescribeImages shows every target's pinned AMI, available, in the region; AMI_NOT_FOUND names those it does not. */
    async checkPinnedAmis(req: AmiCheckRequest): Promise<AmiFacts[]> {
      const wanted = [...new Set(req.targets.map((t) => t.ami))];
      let images;
      try {
        const out = await aws
          .ec2(req.region)
          .send(new DescribeImagesCommand({ Filters: [{ Name: 'image-id', Values: wanted }] }));
        images = out.Images ?? [];
      } catch (err) {
        if (isCredentialError(err))
          throw activityFailure('AWS_CREDENTIALS_REFUSED', awsErrorMessage(err), err);
        throw err; // retried; the AWS error says what
      }
      const found = new Map(images.map((i) => [i.ImageId, i]));
      const problems: string[] = [];
      const facts = req.targets.map((t): AmiFacts => {
        const image = found.get(t.ami);
        if (!image) problems.push(`${t.name}: ${t.ami} is not visible in ${req.region}`);
        else if (image.State !== 'available')
          problems.push(`${t.name}: ${t.ami} is ${image.State ?? 'in an unknown state'}, not available`);
        return { target: t.name, ami: t.ami, name: image?.Name ?? '', state: image?.State ?? 'missing' };
      });
      if (problems.length > 0) throw activityFailure('AMI_NOT_FOUND', problems.join('; '));
      return facts;
    },

    /**
     * The nightly run's candidate: the digest `schedules.nightly.candidate.tag`
     * of the environment points to now, read from the worker's configuration.
     */
    async resolveNightlyCandidate(req: {
      environment: string;
      scheduleId?: string;
    }): Promise<NightlyCandidate> {
      const env = environmentForActivity(invariants, req.environment);
      const tag = env.schedules?.nightly?.candidate.tag;
      if (!tag) {
        throw activityFailure(
          'CONFIG_INVALID',
          `environment ${req.environment} has no schedules.nightly.candidate.tag in ${invariants.file}`,
        );
      }
      const repository = env.image.repository;
      const endpoint = endpointOf(repository);
      const signal = Context.current().cancellationSignal;
      let manifest;
      try {
        manifest = await registry.getManifest(endpoint, tag, signal);
      } catch (err) {
        throw registryFailure(err);
      }
      if (!manifest) {
        throw activityFailure(
          'CANDIDATE_TAG_NOT_FOUND',
          `${repository}:${tag} has no manifest at ${endpoint.baseUrl}/v2/${endpoint.name}/manifests/${tag}`,
        );
      }
      const gitSha = await revisionLabel(manifest.body, endpoint, signal).catch(() => undefined);
      return {
        candidate: `${repository}@${manifest.digest}`,
        candidateImage: {
          repository,
          digest: manifest.digest,
          reference: `${repository}@${manifest.digest}`,
        },
        source: {
          kind: 'tag',
          tag,
          reference: `${repository}:${tag}`,
          digest: manifest.digest,
          resolvedAt: new Date().toISOString(),
          ...(req.scheduleId ? { scheduleId: req.scheduleId } : {}),
        },
        ...(gitSha ? { gitSha } : {}),
      };
    },
  };

  /** The commit an image says it was built from (OCI label), for the evidence; best effort. */
  async function revisionLabel(
    body: Buffer,
    endpoint: RegistryEndpoint,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const manifest = JSON.parse(body.toString('utf8')) as { config?: { digest?: string } };
    const configDigest = manifest.config?.digest;
    if (!configDigest) return undefined; // an index: one config per platform, none is "the" revision
    const config = await registry.getBlob(endpoint, configDigest, signal);
    if (!config) return undefined;
    const parsed = JSON.parse(config.toString('utf8')) as { config?: { Labels?: Record<string, string> } };
    const revision = parsed.config?.Labels?.['org.opencontainers.image.revision'];
    return revision && REVISION.test(revision) ? revision : undefined;
  }
}
