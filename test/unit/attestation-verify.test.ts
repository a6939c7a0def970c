import { strict as assert } from 'node:assert';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { pae, type DsseEnvelope } from '../../src/attestation/dsse';
import {
  legTestResult,
  runVerificationSummary,
  IN_TOTO_PAYLOAD_TYPE,
  type Statement,
} from '../../src/attestation/statements';
import { statementSha256, verifyDigest, type VerifyInput } from '../../src/attestation/verify';

const REPO = 'ghcr.io/iangreen74/radix-cluster-agent';
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OTHER = `sha256:${'cd'.repeat(32)}`;

function keyPair() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function envelope(statement: unknown, privateKey: KeyObject, rawPayload?: Buffer): string {
  const payload = rawPayload ?? Buffer.from(JSON.stringify(statement));
  const sig = sign('sha256', pae(IN_TOTO_PAYLOAD_TYPE, payload), privateKey);
  const env: DsseEnvelope = {
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ sig: sig.toString('base64') }],
  };
  return JSON.stringify(env);
}

interface Options {
  digest?: string;
  environment?: string;
  passed?: boolean;
  simulated?: boolean;
  legKey?: KeyObject;
  mutate?: (s: Statement<unknown>) => void;
}

function attestations(privateKey: KeyObject, o: Options = {}): string[] {
  const digest = o.digest ?? DIGEST;
  const environment = o.environment ?? 'dev';
  const simulated = o.simulated ?? false;
  const legs = ['nvidia-a10g', 'amd-v520'].map((target) =>
    envelope(
      legTestResult({
        repository: REPO,
        digest,
        environment,
        runWorkflowId: 'sentinel-run-dev-1',
        simulated,
        target: {
          name: target,
          ami: 'ami-0c2b8ca305e393e06',
          instanceType: 'g5.xlarge',
          configSha256: 'ee'.repeat(32),
        },
        scripts: { 'ops/checks/gpu-detect.sh': '11'.repeat(32) },
        url: `http://ui/${target}`,
        passed: true,
        passedPhases: ['provision', 'gpu_detect'],
        failedPhases: [],
      }),
      o.legKey ?? privateKey,
    ),
  );
  const summary = runVerificationSummary({
    repository: REPO,
    digest,
    environment,
    simulated,
    runWorkflowId: 'sentinel-run-dev-1',
    runId: 'r1',
    sentinelVersion: '0.1.0',
    configFile: 'ops/invariants.yaml',
    configSha256: 'ff'.repeat(32),
    timeVerified: '2026-11-30T00:00:00Z',
    passed: o.passed ?? true,
    targets: ['nvidia-a10g', 'amd-v520'],
    legAttestations: legs.map((l, i) => ({ name: `leg:${i}`, digest: { sha256: statementSha256(l)! } })),
  }) as Statement<unknown>;
  o.mutate?.(summary);
  return [...legs, envelope(summary, privateKey)];
}

describe('attestation verification (the refusals sentinel verify and the installer share)', function () {
  const { privateKey, publicKey } = keyPair();
  const input = (envelopes: string[], over: Partial<VerifyInput> = {}): VerifyInput => ({
    environment: 'dev',
    live: true,
    repository: REPO,
    digest: DIGEST,
    publicKey,
    envelopes,
    ...over,
  });

  it('accepts a PASSED summary for exactly this digest and environment, signed by the key, with every leg', function () {
    const result = verifyDigest(input(attestations(privateKey)));
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(
      result.legs.map((l) => l.ok),
      [true, true],
    );
  });

  const cases: Array<[string, () => string[], string, Partial<VerifyInput>?]> = [
    ['a digest with no summary (a pointer set by hand)', () => [], 'ATTESTATION_MISSING'],
    ['a summary signed by another key', () => attestations(keyPair().privateKey), 'SIGNATURE_INVALID'],
    ['a summary for another digest', () => attestations(privateKey, { digest: OTHER }), 'SUBJECT_MISMATCH'],
    [
      'a summary for another environment',
      () => attestations(privateKey, { environment: 'staging' }),
      'ENVIRONMENT_MISMATCH',
    ],
    ['a FAILED summary', () => attestations(privateKey, { passed: false }), 'RESULT_FAILED'],
    [
      'a simulated summary in a live environment',
      () => attestations(privateKey, { simulated: true }),
      'SIMULATED_IN_LIVE',
    ],
    [
      'a truncated envelope',
      () => {
        const all = attestations(privateKey);
        const summary = all.pop()!;
        return [...all, summary.slice(0, summary.length - 40)];
      },
      'ENVELOPE_MALFORMED',
    ],
    [
      'an altered payload',
      () => {
        const all = attestations(privateKey);
        const summary = JSON.parse(all.pop()!) as DsseEnvelope;
        const statement = JSON.parse(Buffer.from(summary.payload, 'base64').toString()) as Statement<{
          verificationResult: string;
        }>;
        statement.subject[0]!.digest.sha256 = 'cd'.repeat(32);
        summary.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
        return [...all, JSON.stringify(summary)];
      },
      'SIGNATURE_INVALID',
    ],
    [
      'a payload that is not JSON',
      () => [envelope(undefined, privateKey, Buffer.from('not json {'))],
      'PAYLOAD_NOT_JSON',
    ],
    [
      'a subject digest in upper case',
      () =>
        attestations(privateKey, {
          mutate: (s) => {
            s.subject[0]!.digest.sha256 = 'AB'.repeat(32);
          },
        }),
      'SUBJECT_DIGEST_INVALID',
    ],
    [
      'a leg attestation signed by another key',
      () => attestations(privateKey, { legKey: keyPair().privateKey }),
      'LEG_ATTESTATION_INVALID',
    ],
    [
      'a summary whose leg attestations are gone',
      () => attestations(privateKey).slice(-1),
      'LEG_ATTESTATION_MISSING',
    ],
  ];
  for (const [what, make, reason] of cases) {
    it(`refuses ${what} with ${reason}`, function () {
      const result = verifyDigest(input(make()));
      assert.equal(result.ok, false);
      assert.equal(result.reason, reason, JSON.stringify(result));
    });
  }

  it('accepts a simulated summary in a sandbox environment, and any one good summary among bad ones', function () {
    assert.equal(
      verifyDigest(input(attestations(privateKey, { simulated: true }), { live: false })).ok,
      true,
    );
    const mixed = [...attestations(privateKey, { passed: false }), ...attestations(privateKey)];
    assert.equal(verifyDigest(input(mixed)).ok, true);
  });
});
