/**
 * The attestation request of a run in which every target passed, for code
 * that needs a digest's signed proof without running the matrix (the
 * installer benchmark, tests that set the pointer's history by hand).
 */
import type { AttestRunRequest } from '../../src/attestation/attest-run';
import type { EnvironmentConfig } from '../../src/config/schema';
import { parsePinnedImage } from '../../src/domain/image-ref';

export function passedAttestationRequest(options: {
  environment: string;
  settings: EnvironmentConfig;
  reference: string;
  evidenceLocation: string;
  runWorkflowId: string;
  runId: string;
  /** Whether the proof says its hosts were simulated. */
  simulated: boolean;
  configFile: string;
  configSha256: string;
}): AttestRunRequest {
  const { settings } = options;
  return {
    environment: options.environment,
    region: settings.awsRegion,
    kmsKeyId: settings.attestation.kmsKeyId,
    evidenceLocation: options.evidenceLocation,
    candidate: parsePinnedImage(options.reference),
    simulated: options.simulated,
    runWorkflowId: options.runWorkflowId,
    runId: options.runId,
    sentinelVersion: '0.1.0',
    configFile: options.configFile,
    configSha256: options.configSha256,
    timeVerified: new Date().toISOString(),
    passed: true,
    scripts: {},
    legs: settings.targets.map((t) => ({
      target: t.name,
      ami: t.ami,
      instanceType: t.instanceTypes[0]!,
      configSha256: '00'.repeat(32),
      passed: true,
      passedPhases: ['provision', 'cleanup'],
      failedPhases: [],
      url: 'http://127.0.0.1:8233',
    })),
  };
}
