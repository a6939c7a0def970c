/**
 * Gives a digest the signed PASSED summary a real run would leave, for tests
 * that set the pointer's history by hand (rollback) and still need the proof.
 */
import { attestRun, type AttestRunRequest } from '../../src/attestation/attest-run';
import { parsePinnedImage } from '../../src/domain/image-ref';
import { aws } from './aws';
import type { TestEnvironment } from './invariants';

/** `overrides` change the proof for tests of refusals (another key, another environment, a FAILED result). */
export async function attestAsPassed(
  env: TestEnvironment,
  reference: string,
  overrides: Partial<AttestRunRequest> = {},
): Promise<void> {
  const settings = env.invariants.environments[env.name]!;
  await attestRun(aws, {
    environment: env.name,
    region: settings.awsRegion,
    kmsKeyId: settings.attestation.kmsKeyId,
    evidenceLocation: settings.evidence.location,
    candidate: parsePinnedImage(reference),
    simulated: true,
    runWorkflowId: `sentinel-run-${env.name}-attested-by-test`,
    runId: 'test',
    sentinelVersion: '0.1.0',
    configFile: env.file,
    configSha256: env.invariants.sha256,
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
    ...overrides,
  });
}
