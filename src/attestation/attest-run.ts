/**
 * Attesting one run: a signed test result per leg and a signed verification
 * summary that names them, stored beside the evidence (with the public key,
 * as PEM) and attached to the candidate image in its registry.
 *
 * The summary is stored before the pointer may move (the matrix workflow
 * promotes only after this returns), so a promoted digest always has its
 * proof where the installer and `sentinel verify` look.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { AwsClients } from '../aws/clients';
import { RegistryClient, registryEndpoint } from '../registry/client';
import { RegistryWriter } from '../registry/push';
import type { PinnedImage } from '../domain/image-ref';
import { signStatement, kmsSigner, type AttestationSigner } from './kms-signer';
import { attachAttestation } from './oci';
import {
  legTestResult,
  runVerificationSummary,
  TEST_RESULT_PREDICATE,
  VERIFICATION_SUMMARY_PREDICATE,
  type ResourceDescriptor,
} from './statements';
import { storeAttestationFiles, type StoredFile } from './store';

export interface LegToAttest {
  target: string;
  ami: string;
  instanceType: string;
  /** sha256 hex of the target's configuration as the run captured it. */
  configSha256: string;
  passed: boolean;
  passedPhases: string[];
  failedPhases: string[];
  url: string;
}

export interface AttestRunRequest {
  environment: string;
  region: string;
  kmsKeyId: string;
  evidenceLocation: string;
  candidate: PinnedImage;
  simulated: boolean;
  runWorkflowId: string;
  runId: string;
  sentinelVersion: string;
  configFile: string;
  configSha256: string;
  timeVerified: string;
  passed: boolean;
  /** Script name → sha256 hex, as sent to every host. */
  scripts: Record<string, string>;
  legs: LegToAttest[];
}

export interface AttestRunResult {
  result: 'PASSED' | 'FAILED';
  summary: { file: string; registryManifest: string; statementSha256: string };
  legs: Array<{ target: string; file: string; registryManifest: string; statementSha256: string }>;
  publicKey: string;
}

export const sha256Hex = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** The hint a Sigstore bundle carries for a plain key, as cosign writes it: base64 of the sha256 of the key's DER. */
export const keyHint = (pem: string): string =>
  createHash('sha256')
    .update(createPublicKey(pem).export({ type: 'spki', format: 'der' }))
    .digest('base64');

export async function attestRun(
  aws: AwsClients,
  req: AttestRunRequest,
  signer: AttestationSigner = kmsSigner(aws.kms(req.region), req.kmsKeyId),
): Promise<AttestRunResult> {
  const pem = await signer.publicKeyPem();
  const hint = keyHint(pem);
  const endpoint = registryEndpoint(req.candidate.repository);
  const head = await new RegistryClient().headManifest(endpoint, req.candidate.digest);
  if (!head)
    throw new Error(`${req.candidate.reference} is not in its registry: nothing to attach attestations to`);
  const subject = { mediaType: head.mediaType, digest: req.candidate.digest, size: head.size ?? 0 };
  const writer = new RegistryWriter(endpoint);

  const legs = [];
  for (const leg of req.legs) {
    const statement = legTestResult({
      repository: req.candidate.repository,
      digest: req.candidate.digest,
      environment: req.environment,
      runWorkflowId: req.runWorkflowId,
      simulated: req.simulated,
      target: {
        name: leg.target,
        ami: leg.ami,
        instanceType: leg.instanceType,
        configSha256: leg.configSha256,
      },
      scripts: req.scripts,
      url: leg.url,
      passed: leg.passed,
      passedPhases: leg.passedPhases,
      failedPhases: leg.failedPhases,
    });
    const envelope = await signStatement(signer, statement);
    legs.push({
      target: leg.target,
      envelope,
      statementSha256: sha256Hex(Buffer.from(envelope.payload, 'base64')),
    });
  }
  const inputAttestations: ResourceDescriptor[] = legs.map((l) => ({
    name: `leg:${l.target}`,
    digest: { sha256: l.statementSha256 },
  }));
  const summaryStatement = runVerificationSummary({
    repository: req.candidate.repository,
    digest: req.candidate.digest,
    environment: req.environment,
    simulated: req.simulated,
    runWorkflowId: req.runWorkflowId,
    runId: req.runId,
    sentinelVersion: req.sentinelVersion,
    configFile: req.configFile,
    configSha256: req.configSha256,
    timeVerified: req.timeVerified,
    passed: req.passed,
    targets: req.legs.map((l) => l.target),
    legAttestations: inputAttestations,
  });
  const summary = await signStatement(signer, summaryStatement);

  // Beside the evidence first (same location, same retention), then on the image.
  const files: StoredFile[] = await storeAttestationFiles(
    aws,
    req.region,
    req.evidenceLocation,
    req.runWorkflowId,
    [
      ...legs.map((l) => ({
        name: `leg-${l.target}.intoto.dsse.json`,
        body: `${JSON.stringify(l.envelope, null, 2)}\n`,
      })),
      { name: 'summary.intoto.dsse.json', body: `${JSON.stringify(summary, null, 2)}\n` },
      { name: 'public-key.pem', body: pem },
    ],
  );
  const fileOf = (name: string) => files.find((f) => f.name === name)!.location;

  const attachedLegs = [];
  for (const leg of legs) {
    const manifest = await attachAttestation(
      writer,
      subject,
      leg.envelope,
      TEST_RESULT_PREDICATE,
      hint,
      req.timeVerified,
    );
    attachedLegs.push({
      target: leg.target,
      file: fileOf(`leg-${leg.target}.intoto.dsse.json`),
      registryManifest: manifest,
      statementSha256: leg.statementSha256,
    });
  }
  const summaryManifest = await attachAttestation(
    writer,
    subject,
    summary,
    VERIFICATION_SUMMARY_PREDICATE,
    hint,
    req.timeVerified,
  );
  return {
    result: req.passed ? 'PASSED' : 'FAILED',
    summary: {
      file: fileOf('summary.intoto.dsse.json'),
      registryManifest: summaryManifest,
      statementSha256: sha256Hex(Buffer.from(summary.payload, 'base64')),
    },
    legs: attachedLegs,
    publicKey: fileOf('public-key.pem'),
  };
}
