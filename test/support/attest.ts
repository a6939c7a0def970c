/**
 * Gives a digest the signed PASSED summary a real run would leave, for tests
 * that set the pointer's history by hand (rollback) and still need the proof.
 */
import { attestRun, type AttestRunRequest } from '../../src/attestation/attest-run';
import { passedAttestationRequest } from '../../dev/stack/passed-attestation';
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
    ...passedAttestationRequest({
      environment: env.name,
      settings,
      reference,
      evidenceLocation: settings.evidence.location,
      runWorkflowId: `sentinel-run-${env.name}-attested-by-test`,
      runId: 'test',
      simulated: true,
      configFile: env.file,
      configSha256: env.invariants.sha256,
    }),
    ...overrides,
  });
}
