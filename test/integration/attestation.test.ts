import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { attestRun, type AttestRunRequest } from '../../src/attestation/attest-run';
import { checkDigest } from '../../src/attestation/check-digest';
import { TEST_RESULT_PREDICATE, VERIFICATION_SUMMARY_PREDICATE } from '../../src/attestation/statements';
import { parsePinnedImage } from '../../src/domain/image-ref';
import { cosignBinary } from '../../dev/stack/tools';
import { registryEndpoint } from '../../src/registry/client';
import { aws, candidate, REGION, REPOSITORY } from '../support/aws';
import { sharedStack, suiteDir } from '../support/stack';

/** `cosign verify-attestation` as anyone would run it, against the suite's registry over plain HTTP. */
function cosignVerify(
  registryUrl: string,
  digest: string,
  publicKeyFile: string,
  type: string,
): { status: number | null; output: string } {
  const ref = `${registryUrl.replace(/^https?:\/\//, '')}/${registryEndpoint(REPOSITORY).name}@${digest}`;
  const out = spawnSync(
    cosignBinary(),
    [
      'verify-attestation',
      '--key',
      publicKeyFile,
      '--insecure-ignore-tlog',
      '--type',
      type,
      '--allow-http-registry',
      ref,
    ],
    {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, COSIGN_PASSWORD: '' },
    },
  );
  return { status: out.status, output: `${out.stdout}\n${out.stderr}` };
}

const keyIds = new Map<string, string>();
async function signingKey(kms: KMSClient, alias: string): Promise<string> {
  const created = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: created.KeyMetadata!.KeyId! }));
  keyIds.set(alias, created.KeyMetadata!.KeyId!);
  return alias;
}

function request(
  reference: string,
  keyId: string,
  evidenceLocation: string,
  passed = true,
): AttestRunRequest {
  const image = parsePinnedImage(reference);
  return {
    environment: 'local',
    region: REGION,
    kmsKeyId: keyId,
    evidenceLocation,
    candidate: image,
    simulated: true,
    runWorkflowId: `sentinel-run-local-attest-${Date.now()}`,
    runId: 'run-1',
    sentinelVersion: '0.1.0',
    configFile: 'ops/invariants.yaml',
    configSha256: 'aa'.repeat(32),
    timeVerified: new Date().toISOString(),
    passed,
    scripts: { 'ops/checks/gpu-detect.sh': 'bb'.repeat(32) },
    legs: ['nvidia-a10g', 'amd-v520'].map((target) => ({
      target,
      ami: 'ami-0c2b8ca305e393e06',
      instanceType: 'g5.xlarge',
      configSha256: 'cc'.repeat(32),
      passed,
      passedPhases: passed ? ['provision', 'gpu_detect', 'cleanup'] : ['provision'],
      failedPhases: passed ? [] : ['gpu_detect'],
      url: `http://127.0.0.1:8233/namespaces/default/workflows/${target}`,
    })),
  };
}

describe('attestations: KMS-signed, attached to the image, checked by the real cosign', function () {
  this.timeout(300_000);
  let registryUrl: string;
  let kms: KMSClient;

  before(async function () {
    const stack = await sharedStack();
    registryUrl = stack.registry.url;
    kms = aws.kms(REGION);
  });

  it('cosign verify-attestation accepts the run summary and each leg result with the exported public key, and refuses another key', async function () {
    const reference = await candidate('attest-cosign');
    const keyId = await signingKey(kms, `alias/sentinel-test-attest-${Date.now()}`);
    const evidence = path.join(suiteDir, 'attest-cosign');
    const result = await attestRun(aws, request(reference, keyId, evidence));
    assert.equal(result.result, 'PASSED');
    assert.ok(
      existsSync(result.summary.file) && existsSync(result.publicKey),
      'summary and public key sit beside the evidence',
    );
    assert.match(readFileSync(result.publicKey, 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    const digest = parsePinnedImage(reference).digest;

    for (const type of [VERIFICATION_SUMMARY_PREDICATE, TEST_RESULT_PREDICATE]) {
      const verified = cosignVerify(registryUrl, digest, result.publicKey, type);
      assert.equal(
        verified.status,
        0,
        `cosign verify-attestation --type ${type} failed:\n${verified.output}`,
      );
    }

    // The same attestations under a key that did not sign them.
    const otherKey = await signingKey(kms, `alias/sentinel-test-other-${Date.now()}`);
    const otherPem = path.join(suiteDir, 'attest-other.pem');
    const other = await checkDigest(kms, {
      environment: 'local',
      live: false,
      repository: REPOSITORY,
      digest,
      kmsKeyId: otherKey,
    });
    writeFileSync(otherPem, other.publicKeyPem!);
    assert.equal(other.ok, false);
    assert.equal(other.reason, 'SIGNATURE_INVALID');
    const refused = cosignVerify(registryUrl, digest, otherPem, VERIFICATION_SUMMARY_PREDICATE);
    assert.notEqual(refused.status, 0, 'cosign refuses a key that did not sign');
  });

  it("checkDigest passes an attested digest, and refuses it once the environment's key is disabled", async function () {
    const reference = await candidate('attest-disabled-key');
    const keyId = await signingKey(kms, `alias/sentinel-test-disable-${Date.now()}`);
    await attestRun(aws, request(reference, keyId, path.join(suiteDir, 'attest-disabled')));
    const digest = parsePinnedImage(reference).digest;
    const check = () =>
      checkDigest(kms, {
        environment: 'local',
        live: false,
        repository: REPOSITORY,
        digest,
        kmsKeyId: keyId,
      });
    const before = await check();
    assert.equal(before.ok, true, JSON.stringify({ reason: before.reason, detail: before.detail }));
    assert.deepEqual(
      before.legs.map((l) => l.ok),
      [true, true],
    );
    assert.equal(
      (
        await checkDigest(kms, {
          environment: 'local',
          live: true,
          repository: REPOSITORY,
          digest,
          kmsKeyId: keyId,
        })
      ).reason,
      'SIMULATED_IN_LIVE',
    );

    // DisableKey takes the key's id, not its alias.
    await kms.send(new DisableKeyCommand({ KeyId: keyIds.get(keyId)! }));
    const after = await check();
    assert.equal(after.ok, false);
    assert.equal(after.reason, 'KEY_UNAVAILABLE');
  });

  it('a FAILED run is attested as FAILED, which never verifies', async function () {
    const reference = await candidate('attest-failed');
    const keyId = await signingKey(kms, `alias/sentinel-test-failed-${Date.now()}`);
    const result = await attestRun(
      aws,
      request(reference, keyId, path.join(suiteDir, 'attest-failed'), false),
    );
    assert.equal(result.result, 'FAILED');
    const check = await checkDigest(kms, {
      environment: 'local',
      live: false,
      repository: REPOSITORY,
      digest: parsePinnedImage(reference).digest,
      kmsKeyId: keyId,
    });
    assert.equal(check.reason, 'RESULT_FAILED');
  });
});
