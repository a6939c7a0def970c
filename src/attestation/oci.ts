/**
 * Attestations attached to the candidate image in its registry, in the
 * layout `cosign verify-attestation` (v3) reads: for a subject manifest
 * `sha256:<hex>`, an OCI image index under the tag `sha256-<hex>` (the
 * referrers tag scheme, for registries without the referrers API) lists one
 * manifest per attestation. Each such manifest has the subject, an empty
 * config, and one layer: a Sigstore bundle v0.3 carrying the DSSE envelope.
 *
 * Anyone can list and check them with standard tools; Sentinel's verifier
 * reads them back the same way.
 */
import type { DsseEnvelope } from './dsse';
import { sha256Digest, type RegistryWriter } from '../registry/push';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY_JSON = Buffer.from('{}');
const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: sha256Digest(EMPTY_JSON),
  size: EMPTY_JSON.length,
};
const ANNOTATION_CONTENT = 'dev.sigstore.bundle.content';
const ANNOTATION_PREDICATE = 'dev.sigstore.bundle.predicateType';

export interface SubjectDescriptor {
  mediaType: string;
  /** `sha256:<hex>` */
  digest: string;
  size: number;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}

/** The tag that holds a subject's attestations under the referrers tag scheme. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

/** A Sigstore bundle v0.3 around a DSSE envelope signed by a plain public key (no certificate, no transparency log). */
export function sigstoreBundle(envelope: DsseEnvelope, keyHint: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: keyHint } },
      dsseEnvelope: {
        payload: envelope.payload,
        payloadType: envelope.payloadType,
        signatures: envelope.signatures.map((s) => ({ sig: s.sig })),
      },
    }),
  );
}

/** Attaches one signed attestation to `subject`; attaching the same one twice changes nothing. */
export async function attachAttestation(
  registry: RegistryWriter,
  subject: SubjectDescriptor,
  envelope: DsseEnvelope,
  predicateType: string,
  keyHint: string,
  createdAt: string,
): Promise<string> {
  const bundle = sigstoreBundle(envelope, keyHint);
  await registry.putBlob(EMPTY_JSON);
  const bundleDigest = await registry.putBlob(bundle);
  const annotations = {
    [ANNOTATION_CONTENT]: 'dsse-envelope',
    [ANNOTATION_PREDICATE]: predicateType,
    'org.opencontainers.image.created': createdAt,
  };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: BUNDLE_MEDIA_TYPE,
      config: EMPTY_CONFIG,
      layers: [{ mediaType: BUNDLE_MEDIA_TYPE, digest: bundleDigest, size: bundle.length }],
      subject,
      annotations,
    }),
  );
  const manifestDigest = await registry.putManifest(sha256Digest(manifest), OCI_MANIFEST, manifest);

  // Read-modify-write of the index: runs of one environment are serial (the lane), so only
  // another environment attesting the same digest at the same moment could race; a lost
  // entry is seen by `sentinel verify` and fixed by attaching again.
  const tag = referrersTag(subject.digest);
  const index = await readIndex(registry, tag);
  if (!index.manifests.some((m) => m.digest === manifestDigest)) {
    index.manifests.push({
      mediaType: OCI_MANIFEST,
      digest: manifestDigest,
      size: manifest.length,
      artifactType: BUNDLE_MEDIA_TYPE,
      annotations,
    });
    await registry.putManifest(tag, OCI_INDEX, Buffer.from(JSON.stringify(index)));
  }
  return manifestDigest;
}

async function readIndex(registry: RegistryWriter, tag: string): Promise<ImageIndex> {
  const bytes = await registry.getManifest(tag, OCI_INDEX);
  if (!bytes) return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  const parsed = JSON.parse(bytes.toString('utf8')) as Partial<ImageIndex>;
  return {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: Array.isArray(parsed.manifests) ? parsed.manifests : [],
  };
}

export interface AttachedAttestation {
  manifestDigest: string;
  predicateType?: string;
  /** The DSSE envelope as JSON text, as carried in the bundle (unparsed: the verifier judges it). */
  envelopeText: string;
}

/** Every attestation attached to `digest` (any predicate type), in the order they were attached. */
export async function listAttestations(
  registry: RegistryWriter,
  digest: string,
): Promise<AttachedAttestation[]> {
  const index = await readIndex(registry, referrersTag(digest));
  const found: AttachedAttestation[] = [];
  for (const entry of index.manifests) {
    if (
      entry.artifactType !== BUNDLE_MEDIA_TYPE &&
      entry.annotations?.[ANNOTATION_CONTENT] !== 'dsse-envelope'
    )
      continue;
    const manifestBytes = await registry.getManifest(entry.digest, OCI_MANIFEST);
    if (!manifestBytes) continue;
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as { layers?: Descriptor[] };
    const layer = manifest.layers?.find((l) => l.mediaType === BUNDLE_MEDIA_TYPE);
    const bundle = layer ? await registry.getBlob(layer.digest) : undefined;
    if (!bundle) continue;
    found.push({
      manifestDigest: entry.digest,
      predicateType: entry.annotations?.[ANNOTATION_PREDICATE],
      envelopeText: envelopeTextOf(bundle),
    });
  }
  return found;
}

/** The envelope inside a bundle, as text; what cannot be read is passed on as it is, for the verifier to refuse. */
function envelopeTextOf(bundle: Buffer): string {
  try {
    const parsed = JSON.parse(bundle.toString('utf8')) as { dsseEnvelope?: unknown };
    return parsed.dsseEnvelope === undefined ? bundle.toString('utf8') : JSON.stringify(parsed.dsseEnvelope);
  } catch {
    return bundle.toString('utf8');
  }
}
