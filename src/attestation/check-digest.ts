/**
 * The one place that answers "may this digest reach customers of this
 * environment?": the environment's public key from KMS, the image's
 * attestations from its registry, and the pure verifier over both. Used by
 * `sentinel verify`, `sentinel promote --rollback` and the installer endpoint.
 */
import { DescribeKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { awsErrorMessage, awsErrorName } from '../aws/errors';
import type { EnvironmentConfig } from '../config/schema';
import type { PinnedImage } from '../domain/image-ref';
import { registryEndpoint } from '../registry/client';
import { RegistryWriter } from '../registry/push';
import { publicKeyFromPem } from './dsse';
import { exportPublicKeyPem } from './public-key';
import { listAttestations, type AttachedAttestation } from './oci';
import { verifyDigest, type VerifyResult } from './verify';

export interface DigestCheckRequest {
  environment: string;
  live: boolean;
  repository: string;
  digest: string;
  kmsKeyId: string;
}

export interface DigestCheck extends VerifyResult {
  attestations: AttachedAttestation[];
  publicKeyPem?: string;
}

/** The check of one image for an environment: its kind decides whether simulated proof counts, its KMS key signs. */
export function digestCheckRequest(
  environment: string,
  env: Pick<EnvironmentConfig, 'kind' | 'attestation'>,
  image: PinnedImage,
): DigestCheckRequest {
  return {
    environment,
    live: env.kind === 'live',
    repository: image.repository,
    digest: image.digest,
    kmsKeyId: env.attestation.kmsKeyId,
  };
}

const KEY_UNAVAILABLE = new Set([
  'DisabledException',
  'NotFoundException',
  'KMSInvalidStateException',
  'AccessDeniedException',
]);

export async function checkDigest(
  kms: KMSClient,
  req: DigestCheckRequest,
  registry = new RegistryWriter(registryEndpoint(req.repository)),
): Promise<DigestCheck> {
  let pem: string;
  try {
    // A disabled key vouches for nothing, whatever it signed before.
    const state = (await kms.send(new DescribeKeyCommand({ KeyId: req.kmsKeyId }))).KeyMetadata?.KeyState;
    if (state !== 'Enabled')
      return {
        ok: false,
        reason: 'KEY_UNAVAILABLE',
        detail: `${req.kmsKeyId} is ${state ?? 'in an unknown state'}`,
        legs: [],
        attestations: [],
      };
    pem = await exportPublicKeyPem(kms, req.kmsKeyId);
  } catch (err) {
    if (KEY_UNAVAILABLE.has(awsErrorName(err))) {
      return {
        ok: false,
        reason: 'KEY_UNAVAILABLE',
        detail: `${req.kmsKeyId}: ${awsErrorMessage(err)}`,
        legs: [],
        attestations: [],
      };
    }
    throw err;
  }
  let attestations: AttachedAttestation[];
  try {
    attestations = await listAttestations(registry, req.digest);
  } catch (err) {
    return {
      ok: false,
      reason: 'ATTESTATIONS_UNREADABLE',
      detail: (err as Error).message,
      legs: [],
      attestations: [],
      publicKeyPem: pem,
    };
  }
  const result = verifyDigest({
    environment: req.environment,
    live: req.live,
    repository: req.repository,
    digest: req.digest,
    publicKey: publicKeyFromPem(pem),
    envelopes: attestations.map((a) => a.envelopeText),
  });
  return { ...result, attestations, publicKeyPem: pem };
}
