import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand } from '@aws-sdk/client-kms';
import type { VerificationReason } from '../../src/attestation/verify';
import { INSTALLER_ERRORS, parseInstallerResult, type EndpointErrorName } from '../../src/domain/installer';
import { attestAsPassed } from '../support/attest';
import { aws, candidate, parameterValue, putParameter, REGION } from '../support/aws';
import { startCloudApiProcess, startTestCloudApi, stopAllCloudApis, tcpProxy } from '../support/cloud-api';
import { runOnHost, type HostRun } from '../support/installer-host';
import { testEnvironment, type TestEnvironment } from '../support/invariants';
import { sharedStack, suiteDir } from '../support/stack';

const TOKEN = 'onb_YXR0ZXN0ZWQtY2x1c3Rlci0wMQ.sig-1a2b3c';
const digestOf = (reference: string) => reference.slice(reference.indexOf('@') + 1);

/** A signing key of its own in moto (KMS), under an alias; returns the alias and the key id (DisableKey takes the id). */
async function ownKey(slug: string): Promise<{ alias: string; keyId: string }> {
  const kms = aws.kms(REGION);
  const created = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
  const alias = `alias/sentinel-test-${slug}-${Date.now()}`;
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: created.KeyMetadata!.KeyId! }));
  return { alias, keyId: created.KeyMetadata!.KeyId! };
}

/** The documented failing script: status, headers, the name on stderr, nothing run on the host, no digest named. */
async function assertRefused(
  res: Response,
  name: EndpointErrorName,
): Promise<{ body: string; run: HostRun }> {
  const info = INSTALLER_ERRORS[name];
  const body = await res.text();
  assert.equal(res.status, info.httpStatus, `HTTP status of ${name}: ${body}`);
  assert.equal(res.headers.get('x-radix-installer-error'), name);
  assert.equal(res.headers.get('x-radix-installer-exit'), String(info.exit));
  const run = await runOnHost(body, { nvidia: true });
  assert.equal(run.exit, info.exit, `exit status of ${name}; stderr: ${run.stderr}`);
  assert.match(run.stderr, new RegExp(`^RADIX_INSTALLER_ERROR: ${name}$`, 'm'));
  assert.deepEqual(run.calls, [], 'a refused installer calls neither docker nor curl');
  assert.doesNotMatch(body, /sha256:[0-9a-f]{64}/, 'a refused installer names no digest');
  return { body, run };
}

/** The service's log lines about reads, parsed. */
function readLog(logs: string[]): Array<Record<string, unknown>> {
  return logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => typeof l.outcome === 'string');
}

/** The service process's n-th APPROVED_DIGEST_UNAVAILABLE line (its log reaches the file through a pipe, a moment later). */
async function loggedUnavailable(logName: string, n: number): Promise<Record<string, unknown> | undefined> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const lines = readLog(
      readFileSync(path.join(suiteDir, logName), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{')),
    ).filter((l) => l.outcome === 'APPROVED_DIGEST_UNAVAILABLE');
    if (lines.length >= n || Date.now() > deadline) return lines[n - 1];
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('installer endpoint: serves the approved digest only with its signed proof (attestation.requireAttestation)', function () {
  before(async () => {
    await sharedStack();
    await parameterValue('/radix/warm-up/agent_digest_approved');
  });
  afterEach(async () => {
    await stopAllCloudApis();
  });

  it('serves an attested approved digest, and logs the run that vouches for it', async () => {
    const env = testEnvironment('att-served');
    const reference = await candidate('att-served');
    await attestAsPassed(env, reference);
    await putParameter(env.invariants.environments[env.name]!.approvedDigestParameter, reference);
    const api = await startTestCloudApi(env);
    const res = await api.installer({ token: TOKEN });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-radix-installer-digest'), digestOf(reference));
    const run = await runOnHost(await res.text(), { nvidia: true });
    assert.equal(run.exit, 0, run.stderr);
    assert.equal(parseInstallerResult(run.stdout).reference, reference);
    const read = readLog(api.logs).find((l) => l.outcome === 'approved');
    assert.equal(read?.attestedBy, `sentinel-run-${env.name}-attested-by-test`);
    assert.equal((await api.health()).attestation.passed, 1);
  });

  // Each refusal: its own environment, a pointer set to a digest whose proof does not hold, exit 26 with its reason.
  const refusals: Array<{
    what: string;
    reason: VerificationReason;
    setup: (env: TestEnvironment, reference: string) => Promise<void>;
    edit?: (e: Record<string, any>) => void;
  }> = [
    {
      what: 'a pointer set by hand to a digest without a summary',
      reason: 'ATTESTATION_MISSING',
      setup: async () => {},
    },
    {
      what: 'a summary signed by another key',
      reason: 'SIGNATURE_INVALID',
      setup: async (env, reference) =>
        attestAsPassed(env, reference, { kmsKeyId: (await ownKey('att-other-key')).alias }),
    },
    {
      what: 'a summary for another environment',
      reason: 'ENVIRONMENT_MISMATCH',
      setup: (env, reference) => attestAsPassed(env, reference, { environment: 'dev' }),
    },
    {
      what: 'a FAILED summary',
      reason: 'RESULT_FAILED',
      setup: async (env, reference) => {
        const settings = env.invariants.environments[env.name]!;
        await attestAsPassed(env, reference, {
          passed: false,
          legs: settings.targets.map((t) => ({
            target: t.name,
            ami: t.ami,
            instanceType: t.instanceTypes[0]!,
            configSha256: '00'.repeat(32),
            passed: false,
            passedPhases: ['provision'],
            failedPhases: ['gpu_detect'],
            url: 'http://127.0.0.1:8233',
          })),
        });
      },
    },
    {
      what: 'a simulated summary in a live environment',
      reason: 'SIMULATED_IN_LIVE',
      edit: (e) => {
        e.kind = 'live';
        e.executor = { kind: 'ssm' };
      },
      setup: (env, reference) => attestAsPassed(env, reference),
    },
  ];
  for (const refusal of refusals) {
    it(`refuses ${refusal.what}: exit 26, ${refusal.reason} in the log`, async () => {
      const env = testEnvironment(`att-${refusal.reason.toLowerCase().replace(/_/g, '-')}`, refusal.edit);
      const reference = await candidate(`att-${refusal.reason}`);
      await refusal.setup(env, reference);
      await putParameter(env.invariants.environments[env.name]!.approvedDigestParameter, reference);
      const api = await startTestCloudApi(env);
      const { run } = await assertRefused(
        await api.installer({ token: TOKEN }),
        'APPROVED_DIGEST_UNATTESTED',
      );
      assert.match(run.stderr, new RegExp(`\\(${refusal.reason}\\)`), 'the script names the reason code');
      assert.match(run.stderr, /Remediation: /);
      assert.match(run.stderr, new RegExp(`sentinel verify --env ${env.name}`));
      const read = readLog(api.logs).find((l) => l.outcome === 'APPROVED_DIGEST_UNATTESTED');
      assert.ok(read, `the refusal is logged: ${api.logs.join('')}`);
      assert.equal(read.reason, refusal.reason);
      assert.equal(read.reference, reference, 'the log names the refused digest');
      const health = await api.health();
      assert.equal(health.attestation.refused, 1);
    });
  }

  it("refuses once the environment's KMS key is disabled (KEY_UNAVAILABLE), though it served the digest before", async () => {
    const key = await ownKey('att-disabled');
    const env = testEnvironment('att-key-disabled', (e) => {
      e.attestation.kmsKeyId = key.alias;
      e.controlPlane.installer.cacheTtl = '1s';
    });
    const reference = await candidate('att-key-disabled');
    await attestAsPassed(env, reference);
    await putParameter(env.invariants.environments[env.name]!.approvedDigestParameter, reference);
    const api = await startTestCloudApi(env);
    const served = await api.installer({ token: TOKEN });
    assert.equal(served.status, 200);
    await served.text();

    await aws.kms(REGION).send(new DisableKeyCommand({ KeyId: key.keyId }));
    await new Promise((r) => setTimeout(r, 1_100)); // past the TTL: the next request checks again
    const { run } = await assertRefused(await api.installer({ token: TOKEN }), 'APPROVED_DIGEST_UNATTESTED');
    assert.match(run.stderr, /\(KEY_UNAVAILABLE\)/);
    const read = readLog(api.logs).find((l) => l.outcome === 'APPROVED_DIGEST_UNATTESTED');
    assert.equal(read?.reason, 'KEY_UNAVAILABLE');
  });

  for (const broken of ['registry', 'kms'] as const) {
    it(`a check that cannot run (${broken} unreachable) is answered like SSM unavailable: 503, Retry-After, exit 22, never the unverified digest`, async () => {
      const stack = await sharedStack();
      const env = testEnvironment(`att-${broken}-down`, (e) => {
        e.controlPlane.installer.cacheTtl = '1s';
        e.controlPlane.installer.ssmTimeout = '2s';
      });
      const reference = await candidate(`att-${broken}-down`);
      await attestAsPassed(env, reference);
      await putParameter(env.invariants.environments[env.name]!.approvedDigestParameter, reference);
      const proxy = await tcpProxy(broken === 'registry' ? stack.registry.url : stack.moto.endpoint);
      try {
        // The real entry point, reaching the registry (or KMS only) through the proxy.
        const vars: Record<string, string> =
          broken === 'registry' ? { SENTINEL_REGISTRY_URL: proxy.url } : { AWS_ENDPOINT_URL_KMS: proxy.url };
        const service = await startCloudApiProcess(env, vars, `cloud-api-att-${broken}-down`);
        const ok = await service.installer({ token: TOKEN });
        assert.equal(ok.status, 200, 'served while the check can run');
        await ok.text();

        for (const mode of ['refuse', 'hang'] as const) {
          proxy.set(mode);
          await new Promise((r) => setTimeout(r, 1_100));
          const started = Date.now();
          const res = await service.installer({ token: TOKEN });
          const { run } = await assertRefused(res, 'APPROVED_DIGEST_UNAVAILABLE');
          const tookMs = Date.now() - started;
          assert.ok(tookMs < 2_000 + 1_000, `${mode}: answered within the deadline (took ${tookMs} ms)`);
          assert.equal(res.headers.get('retry-after'), '1');
          assert.match(run.stderr, /could not check the signed proof of the approved digest/);
          assert.match(run.stderr, /never an unverified one/);
          const logged = await loggedUnavailable(
            `cloud-api-att-${broken}-down.log`,
            mode === 'refuse' ? 1 : 2,
          );
          // A refused connection names the part that failed; a hung one may run into the whole check's deadline first.
          assert.ok(
            logged && (logged.source === broken || (mode === 'hang' && logged.source === 'attestation')),
            `${mode}: logged source ${String(logged?.source)}`,
          );
          if (mode === 'refuse') assert.equal(logged.reason, 'unreachable');
          if (mode === 'hang') assert.equal(logged.reason, 'timeout');
        }
        const health = await service.health();
        assert.equal(health.attestation.unavailable, 2, 'both failures were checks that could not run');
        assert.equal(health.attestation.passed, 1);

        proxy.set('forward');
        await new Promise((r) => setTimeout(r, 1_100));
        const back = await service.installer({ token: TOKEN });
        assert.equal(back.status, 200, 'served again once the check can run');
        await back.text();
        await service.stop();
      } finally {
        await proxy.close();
      }
    });
  }
});
