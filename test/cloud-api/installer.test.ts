import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { unavailableReason } from '../../src/cloud-api/approved-digest';
import { mintCandidateGrant } from '../../src/cloud-api/candidate-grant';
import { PROJECT_ROOT } from '../../src/config/load';
import {
  INSTALLER_ERRORS,
  installerErrorOfExit,
  installerFailureCode,
  parseInstallerResult,
  type EndpointErrorName,
} from '../../src/domain/installer';
import { attestAsPassed } from '../support/attest';
import { candidate, parameterValue, putParameter } from '../support/aws';
import { startCloudApiProcess, startTestCloudApi, stopAllCloudApis, tcpProxy } from '../support/cloud-api';
import { callsOf, runOnHost, type HostRun } from '../support/installer-host';
import { testEnvironment } from '../support/invariants';
import { sharedStack } from '../support/stack';

const REPOSITORY = 'ghcr.io/iangreen74/radix-cluster-agent';
const TOKEN = 'onb_Zm9vYmFyLWNsdXN0ZXItMDE.sig-9f8e7d';
const GRANT_KEY = new TextEncoder().encode('k'.repeat(48));

const parameterOf = (envName: string) => `/radix/${envName}/agent_digest_approved`;
const digestOf = (reference: string) => reference.slice(reference.indexOf('@') + 1);

/** What every refused or failing answer has in common: the documented status, headers, and a script that installs nothing. */
async function assertFailingScript(
  res: Response,
  name: EndpointErrorName,
): Promise<{ body: string; run: HostRun }> {
  const info = INSTALLER_ERRORS[name];
  const body = await res.text();
  assert.equal(res.status, info.httpStatus, `HTTP status of ${name}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/x-shellscript/);
  assert.equal(res.headers.get('x-radix-installer-error'), name);
  assert.equal(res.headers.get('x-radix-installer-exit'), String(info.exit));
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const run = await runOnHost(body, { nvidia: true });
  assert.equal(run.exit, info.exit, `exit status of ${name}; stderr: ${run.stderr}`);
  assert.match(run.stderr, new RegExp(`^RADIX_INSTALLER_ERROR: ${name}$`, 'm'));
  assert.deepEqual(run.calls, [], 'a failing installer calls neither docker nor curl');
  assert.equal(run.stdout, '');
  assert.doesNotMatch(body, /sha256:[0-9a-f]{64}/, 'a failing installer names no digest at all');
  return { body, run };
}

describe('installer endpoint: GET /v1/clusters/installer against moto SSM', function () {
  before(async () => {
    await sharedStack();
    // moto builds its SSM backend on first use (about a second); pay for that here, not inside a test's SSM timeout.
    await parameterValue('/radix/warm-up/agent_digest_approved');
  });
  afterEach(async () => {
    await stopAllCloudApis();
  });

  it('a missing parameter gives a script that exits 20 with how to bootstrap it', async () => {
    const env = testEnvironment('inst-missing');
    const api = await startTestCloudApi(env);
    const { run } = await assertFailingScript(
      await api.installer({ token: TOKEN }),
      'APPROVED_DIGEST_MISSING',
    );
    assert.match(
      run.stderr,
      new RegExp(`SSM parameter ${parameterOf(env.name)} \\(region us-west-2\\) does not exist`),
    );
    assert.match(
      run.stderr,
      new RegExp(
        `sentinel bootstrap --env ${env.name} --apply --initial-digest ${REPOSITORY}@sha256:<64 lower-case hex>`,
      ),
    );
    assert.match(run.stderr, /aws ssm put-parameter --region us-west-2 --name \/radix\/.+ --type String/);
    assert.match(run.stderr, /within 2s/, 'says when the control plane sees a new value (its cache TTL)');
  });

  it('each invalid value gives a script that exits 21 and contains none of the value', async () => {
    const env = testEnvironment('inst-invalid');
    const marker = path.join(env.dir, 'injected');
    const good = await candidate('inst-invalid');
    const hex = good.slice(good.indexOf(':', good.indexOf('@')) + 1);
    const cases: Array<[string, string, string]> = [
      ['no @sha256', 'docker.io/library/radix-agent', 'no @sha256: digest'],
      ['digest too short', `${REPOSITORY}@sha256:${hex.slice(1)}`, 'not sha256: followed by 64 hex'],
      ['digest too long', `${REPOSITORY}@sha256:${hex}0`, 'not sha256: followed by 64 hex'],
      ['upper-case hex', `${REPOSITORY}@sha256:${hex.toUpperCase()}`, 'upper-case hex'],
      ['a tag', `${REPOSITORY}:v1.4.2`, 'names a tag'],
      ['a tag next to the digest', `${REPOSITORY}:latest@sha256:${hex}`, 'names a tag'],
      [
        'an unexpected repository',
        `ghcr.io/someone-else/radix-cluster-agent@sha256:${hex}`,
        'another repository',
      ],
      ['trailing whitespace', `${good} `, 'whitespace'],
      ['a line break', `${good}\nFOO=1`, 'whitespace'],
      ['a command substitution', `${REPOSITORY}@sha256:$(touch ${marker})`, 'shell metacharacters'],
      ['backquotes', `\`touch ${marker}\``, 'shell metacharacters'],
      ['a quote breaking out', `${good}'; touch ${marker}; echo '`, 'shell metacharacters'],
      ['a command separator', `${good};touch ${marker}`, 'shell metacharacters'],
    ];
    for (const [what, value, explanation] of cases) {
      await putParameter(parameterOf(env.name), value);
      const api = await startTestCloudApi(env); // a fresh cache for each value
      const { body, run } = await assertFailingScript(
        await api.installer({ token: TOKEN }),
        'APPROVED_DIGEST_INVALID',
      );
      assert.ok(
        !body.includes(value) && !body.includes(value.trim()),
        `${what}: the script must not contain the value`,
      );
      for (const part of value
        .split(/[@:;\s'`$()]+/)
        .filter((p) => p.length >= 12 && !REPOSITORY.includes(p))) {
        assert.ok(!body.includes(part), `${what}: the script must not contain ${JSON.stringify(part)}`);
      }
      assert.match(run.stderr, new RegExp(explanation), `${what}: stderr says what is wrong`);
      assert.match(run.stderr, new RegExp(`sentinel promote --rollback --env ${env.name}`));
      assert.equal(existsSync(marker), false, `${what}: nothing from the value was executed`);
      await api.stop();
    }
  });

  it("a valid value gives a deterministic script that installs exactly that digest, by digest, with the cluster's token", async () => {
    const env = testEnvironment('inst-valid');
    const reference = await candidate('inst-valid');
    await attestAsPassed(env, reference);
    await putParameter(parameterOf(env.name), reference);
    const api = await startTestCloudApi(env);

    const res = await api.installer({ token: TOKEN });
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/x-shellscript/);
    assert.equal(res.headers.get('x-radix-installer-digest'), digestOf(reference));
    assert.equal(res.headers.get('x-radix-installer-source'), 'approved');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(
      [...new Set(body.match(/sha256:[0-9a-f]{64}/g))],
      [digestOf(reference)],
      'the script names exactly one digest',
    );
    assert.doesNotMatch(body, new RegExp(`${REPOSITORY}:`), 'never a tag');

    // Same digest and token, same bytes; the header form of the token gives the same script too.
    assert.equal(await (await api.installer({ token: TOKEN })).text(), body);
    assert.equal(await (await api.installer({}, { 'X-Radix-Onboarding-Token': TOKEN })).text(), body);
    const other = await (await api.installer({ token: `${TOKEN}-other` })).text();
    assert.notEqual(other, body);
    assert.equal(
      other.replace(`${TOKEN}-other`, TOKEN),
      body,
      'another token changes the token and nothing else',
    );

    const run = await runOnHost(body, { nvidia: true });
    assert.equal(run.exit, 0, run.stderr);
    const docker = callsOf(run, 'docker');
    assert.deepEqual(
      docker.map((c) => c.args[0]),
      ['pull', 'rm', 'run'],
    );
    assert.deepEqual(docker[0]!.args, ['pull', reference], 'pulled by digest');
    const runArgs = docker[2]!.args;
    assert.equal(runArgs[runArgs.length - 1], reference, 'started by digest');
    assert.deepEqual(runArgs.slice(1, 6), [
      '-d',
      '--name',
      'radix-cluster-agent',
      '--restart',
      'unless-stopped',
    ]);
    assert.ok(runArgs.includes('RADIX_ONBOARDING_TOKEN'), 'the token is handed to the agent');
    assert.ok(runArgs.join(' ').includes('--gpus all'), 'an NVIDIA host gives the agent its GPUs');
    assert.equal(docker[2]!.token, TOKEN, "the agent container gets the cluster's token");
    for (const call of run.calls)
      assert.ok(
        !call.args.some((a) => a.includes(TOKEN)),
        `${call.tool} never sees the token on its command line`,
      );
    const apiUrl = env.invariants.environments[env.name]!.controlPlane.baseUrl.replace(/\/+$/, '');
    assert.deepEqual(
      callsOf(run, 'curl').map((c) => c.args),
      [['-fsS', '-o', '/dev/null', '--max-time', '15', `${apiUrl}/healthz`]],
      'the agent is told the configured API URL',
    );

    const result = parseInstallerResult(run.stdout);
    assert.deepEqual(result, {
      installer: 'ok',
      reference,
      digest: digestOf(reference),
      source: 'approved',
      container: 'radix-cluster-agent',
    });

    // A host without a GPU runtime gets no GPU flags; the rest is the same.
    const plain = await runOnHost(body);
    assert.equal(plain.exit, 0, plain.stderr);
    assert.ok(!callsOf(plain, 'docker')[2]!.args.includes('--gpus'));
  });

  it('host-side failures end with their documented status and name', async () => {
    const env = testEnvironment('inst-host');
    const reference = await candidate('inst-host');
    await attestAsPassed(env, reference);
    await putParameter(parameterOf(env.name), reference);
    const api = await startTestCloudApi(env);
    const body = await (await api.installer({ token: TOKEN })).text();
    const expectations: Array<[Parameters<typeof runOnHost>[1], keyof typeof INSTALLER_ERRORS]> = [
      [{ noDocker: true }, 'DOCKER_MISSING'],
      [{ curlExit: 7 }, 'CONTROL_PLANE_UNREACHABLE'],
      [{ dockerPullExit: 1 }, 'IMAGE_PULL_FAILED'],
      [{ dockerRunExit: 125 }, 'AGENT_START_FAILED'],
    ];
    for (const [host, name] of expectations) {
      const run = await runOnHost(body, host);
      assert.equal(run.exit, INSTALLER_ERRORS[name].exit, `${name}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`^RADIX_INSTALLER_ERROR: ${name}$`, 'm'));
      assert.equal(run.stdout, '', `${name}: no result line`);
    }
  });

  it('a promotion is served within the TTL, and concurrent requests share one SSM read and one verification of its proof', async function () {
    const env = testEnvironment('inst-ttl', (e) => {
      e.controlPlane.installer.cacheTtl = '2s';
    });
    const ttlMs = 2_000;
    const first = await candidate('inst-ttl-1');
    const second = await candidate('inst-ttl-2');
    await attestAsPassed(env, first);
    await attestAsPassed(env, second);
    await putParameter(parameterOf(env.name), first);
    const api = await startTestCloudApi(env);

    const burst = await Promise.all(Array.from({ length: 200 }, () => api.installer({ token: TOKEN })));
    assert.deepEqual(
      [...new Set(burst.map((r) => r.headers.get('x-radix-installer-digest')))],
      [digestOf(first)],
    );
    await Promise.all(burst.map((r) => r.text()));
    let health = await api.health();
    assert.equal(health.awsCalls['SSM.GetParameter'], 1, '200 concurrent requests, one SSM read');
    assert.equal(health.approvedDigest.reads, 1);
    assert.equal(health.approvedDigest.shared + health.approvedDigest.hits, 199);
    // ... and one verification of the digest's proof: one key state, one public key, one walk of the registry.
    assert.equal(health.attestation.verifications, 1, '200 concurrent requests, one verification');
    assert.equal(health.attestation.passed, 1);
    assert.equal(health.awsCalls['KMS.DescribeKey'], 1);
    assert.equal(health.awsCalls['KMS.GetPublicKey'], 1);
    const registryPerVerification = health.attestation.registryRequests;
    assert.ok(
      registryPerVerification >= 4,
      `the registry was read for the attestations (${registryPerVerification} requests)`,
    );

    // The read above happened before the promotion, so its entry expires less than one TTL after it.
    await putParameter(parameterOf(env.name), second);
    const promotedAt = Date.now();
    const cached = await api.installer({ token: TOKEN });
    await cached.text();
    assert.equal(
      cached.headers.get('x-radix-installer-digest'),
      digestOf(first),
      'within the TTL the cached value is served',
    );
    await new Promise((r) => setTimeout(r, promotedAt + ttlMs - Date.now()));
    const promoted = await api.installer({ token: TOKEN });
    assert.equal(
      promoted.headers.get('x-radix-installer-digest'),
      digestOf(second),
      'one TTL after the promotion, the new digest is served',
    );
    const run = await runOnHost(await promoted.text());
    assert.equal(parseInstallerResult(run.stdout).reference, second);

    health = await api.health();
    assert.equal(health.awsCalls['SSM.GetParameter'], 2, 'one more read for the new TTL window');
    assert.equal(health.attestation.verifications, 2, 'one more verification for the new TTL window');
    assert.equal(health.awsCalls['KMS.DescribeKey'], 2);
    assert.equal(health.awsCalls['KMS.GetPublicKey'], 2);
    assert.equal(
      health.attestation.registryRequests,
      2 * registryPerVerification,
      'the same registry walk for the second digest, and no other',
    );
  });

  it('SSM unreachable: a 503 with a script that exits 22, never the digest served before', async function () {
    const env = testEnvironment('inst-unreachable', (e) => {
      e.controlPlane.installer.cacheTtl = '1s';
      e.controlPlane.installer.ssmTimeout = '2s';
    });
    const stack = await sharedStack();
    const reference = await candidate('inst-unreachable');
    await attestAsPassed(env, reference);
    await putParameter(parameterOf(env.name), reference);
    const proxy = await tcpProxy(stack.moto.endpoint);
    try {
      // The real entry point (npm run cloud-api), reaching SSM through the proxy.
      const service = await startCloudApiProcess(
        env,
        { AWS_ENDPOINT_URL: proxy.url },
        'cloud-api-unreachable',
      );
      const ok = await service.installer({ token: TOKEN });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('x-radix-installer-digest'), digestOf(reference));
      await ok.text();

      for (const mode of ['refuse', 'hang'] as const) {
        proxy.set(mode);
        await new Promise((r) => setTimeout(r, 1_100)); // past the TTL: the next request must read SSM again
        const started = Date.now();
        const res = await service.installer({ token: TOKEN });
        const { body, run } = await assertFailingScript(res, 'APPROVED_DIGEST_UNAVAILABLE');
        const tookMs = Date.now() - started;
        assert.ok(tookMs < 2_000 + 500, `${mode}: answered within the 2s SSM timeout (took ${tookMs} ms)`);
        assert.equal(res.headers.get('retry-after'), '1');
        assert.ok(
          !body.includes(digestOf(reference)),
          `${mode}: the digest served before is not served stale`,
        );
        assert.match(run.stderr, mode === 'hang' ? /SSM did not answer in time/ : /SSM could not be reached/);
        assert.match(run.stderr, /never hands out a stale or guessed image/);
      }

      proxy.set('forward');
      await new Promise((r) => setTimeout(r, 1_100));
      const back = await service.installer({ token: TOKEN });
      assert.equal(back.status, 200, 'served again once SSM answers');
      assert.equal(back.headers.get('x-radix-installer-digest'), digestOf(reference));
      await back.text();
      await service.stop();
      assert.equal(service.proc.child.exitCode, 0, 'SIGTERM stops the service cleanly');
    } finally {
      await proxy.close();
    }
  });

  it('requests without a well-formed onboarding token are refused with exit 23, the token never echoed', async () => {
    const env = testEnvironment('inst-token');
    await putParameter(parameterOf(env.name), await candidate('inst-token'));
    const api = await startTestCloudApi(env);
    await assertFailingScript(await api.installer({}), 'ONBOARDING_TOKEN_INVALID');
    await assertFailingScript(await api.installer({ token: '' }), 'ONBOARDING_TOKEN_INVALID');
    for (const bad of [
      "abcdefghijklmnop'; touch pwned; '",
      'abcdefghijklmnop$(id)',
      'short',
      'abcdefghijklmnop qrs',
    ]) {
      const { body } = await assertFailingScript(
        await api.installer({ token: bad }),
        'ONBOARDING_TOKEN_INVALID',
      );
      assert.ok(!body.includes(bad));
    }
    const twice = await fetch(`${api.url}/v1/clusters/installer?token=${TOKEN}&token=${TOKEN}x`);
    await assertFailingScript(twice, 'ONBOARDING_TOKEN_INVALID');
    await assertFailingScript(
      await api.installer({ token: TOKEN }, { 'X-Radix-Onboarding-Token': `${TOKEN}x` }),
      'ONBOARDING_TOKEN_INVALID',
    );
  });

  it('a candidate is installed only with a valid grant for that candidate, cluster and environment', async () => {
    const env = testEnvironment('inst-candidate'); // no approved digest at all: a candidate install never reads it
    const api = await startTestCloudApi(env, { grantKey: GRANT_KEY });
    const wanted = await candidate('inst-candidate');
    const grant = await mintCandidateGrant(
      GRANT_KEY,
      { candidate: wanted, onboardingToken: TOKEN, environment: env.name },
      900,
    );

    const res = await api.installer({ token: TOKEN, candidate: wanted, grant });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.equal(res.headers.get('x-radix-installer-source'), 'candidate');
    const run = await runOnHost(body);
    assert.equal(run.exit, 0, run.stderr);
    assert.deepEqual(callsOf(run, 'docker')[0]!.args, ['pull', wanted]);
    assert.deepEqual(parseInstallerResult(run.stdout), {
      installer: 'ok',
      reference: wanted,
      digest: digestOf(wanted),
      source: 'candidate',
      container: 'radix-cluster-agent',
    });
    assert.equal(
      (await api.health()).awsCalls['SSM.GetParameter'],
      undefined,
      'a candidate install does not read the approved digest',
    );
    assert.ok(
      api.logs.some((l) => l.includes('candidate installer served') && l.includes(digestOf(wanted))),
      'a candidate install is logged',
    );

    const otherKey = new TextEncoder().encode('o'.repeat(48));
    const refusals: Array<[string, Record<string, string>, string]> = [
      ['no grant', { candidate: wanted }, 'carried no grant'],
      [
        'a grant signed with another key',
        {
          candidate: wanted,
          grant: await mintCandidateGrant(
            otherKey,
            { candidate: wanted, onboardingToken: TOKEN, environment: env.name },
            900,
          ),
        },
        'not one this control plane issued',
      ],
      [
        'a grant for another candidate',
        {
          candidate: wanted,
          grant: await mintCandidateGrant(
            GRANT_KEY,
            { candidate: await candidate('other'), onboardingToken: TOKEN, environment: env.name },
            900,
          ),
        },
        'another image, cluster or environment',
      ],
      [
        'a grant for another cluster',
        {
          candidate: wanted,
          grant: await mintCandidateGrant(
            GRANT_KEY,
            { candidate: wanted, onboardingToken: `${TOKEN}-other`, environment: env.name },
            900,
          ),
        },
        'another image, cluster or environment',
      ],
      [
        'a grant for another environment',
        {
          candidate: wanted,
          grant: await mintCandidateGrant(
            GRANT_KEY,
            { candidate: wanted, onboardingToken: TOKEN, environment: 'dev' },
            900,
          ),
        },
        'another image, cluster or environment',
      ],
      [
        'an expired grant',
        {
          candidate: wanted,
          grant: await mintCandidateGrant(
            GRANT_KEY,
            { candidate: wanted, onboardingToken: TOKEN, environment: env.name },
            60,
            Date.now() - 120_000,
          ),
        },
        'expired',
      ],
      [
        'a forged grant',
        { candidate: wanted, grant: `${grant.slice(0, -4)}AAAA` },
        'not one this control plane issued',
      ],
    ];
    for (const [what, query, explanation] of refusals) {
      const { run: refused } = await assertFailingScript(
        await api.installer({ token: TOKEN, ...query }),
        'CANDIDATE_NOT_AUTHORISED',
      );
      assert.match(refused.stderr, new RegExp(explanation), what);
    }

    const invalid: Array<[string, string]> = [
      ['another repository', `ghcr.io/someone-else/agent@${digestOf(wanted)}`],
      ['a tag', `${REPOSITORY}:canary`],
      ['shell metacharacters', `${wanted};id`],
    ];
    for (const [what, value] of invalid) {
      const grantForIt = await mintCandidateGrant(
        GRANT_KEY,
        { candidate: value, onboardingToken: TOKEN, environment: env.name },
        900,
      );
      const { body: refusedBody } = await assertFailingScript(
        await api.installer({ token: TOKEN, candidate: value, grant: grantForIt }),
        'CANDIDATE_INVALID',
      );
      assert.ok(!refusedBody.includes(value), `${what}: not echoed`);
    }
    await assertFailingScript(await api.installer({ token: TOKEN, grant }), 'CANDIDATE_INVALID');

    // Without a grant key, no candidate is ever installed.
    const locked = await startTestCloudApi(env);
    const { run: disabled } = await assertFailingScript(
      await locked.installer({ token: TOKEN, candidate: wanted, grant }),
      'CANDIDATE_NOT_AUTHORISED',
    );
    assert.match(disabled.stderr, /accepts no candidate installs/);
  });

  it('the service log never holds an onboarding token or a grant', async () => {
    const env = testEnvironment('inst-logs');
    const approved = await candidate('inst-logs');
    await attestAsPassed(env, approved);
    await putParameter(parameterOf(env.name), approved);
    const api = await startTestCloudApi(env, { grantKey: GRANT_KEY });
    const wanted = await candidate('inst-logs-candidate');
    const grant = await mintCandidateGrant(
      GRANT_KEY,
      { candidate: wanted, onboardingToken: TOKEN, environment: env.name },
      900,
    );
    await (await api.installer({ token: TOKEN })).text();
    await (await api.installer({ token: TOKEN, candidate: wanted, grant })).text();
    await (await api.installer({ token: TOKEN, candidate: wanted, grant: `${grant}x` })).text();
    await (await api.installer({ token: `${TOKEN}'` })).text();
    await (await fetch(`${api.url}/nowhere?token=${TOKEN}&grant=${grant}`)).text();
    const log = api.logs.join('');
    assert.ok(api.logs.length >= 3, 'the service logged its reads and refusals');
    for (const secret of [TOKEN, grant, grant.split('.')[2]!])
      assert.ok(!log.includes(secret), 'a secret reached the log');
  });
});

describe('installer contract', () => {
  it("maps every documented exit status to a failure code, and curl -f's exit 22 to the unavailable source", () => {
    assert.equal(installerFailureCode(20), 'INSTALLER_APPROVED_DIGEST_MISSING');
    assert.equal(installerFailureCode(21), 'INSTALLER_APPROVED_DIGEST_INVALID');
    assert.equal(installerFailureCode(22), 'INSTALLER_SOURCE_UNAVAILABLE');
    assert.equal(installerFailureCode(31), 'IMAGE_PULL_FAILED');
    assert.equal(installerFailureCode(1), 'INSTALLER_FAILED');
    assert.equal(installerFailureCode(null), 'INSTALLER_FAILED');
    assert.equal(installerErrorOfExit(33), 'CONTROL_PLANE_UNREACHABLE');
    const exits = Object.values(INSTALLER_ERRORS).map((e) => e.exit);
    assert.equal(new Set(exits).size, exits.length, 'exit statuses are distinct');
  });

  it('docs/installer.md lists every exit status with its name and HTTP status', () => {
    const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'installer.md'), 'utf8');
    for (const [name, info] of Object.entries(INSTALLER_ERRORS)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| ${info.exit} | \`${name}\` |`));
      assert.ok(row, `docs/installer.md has no row for ${info.exit} ${name}`);
      const http = 'httpStatus' in info ? String(info.httpStatus) : '';
      assert.equal(row.split('|')[3]!.trim(), http, `HTTP status of ${name} in docs/installer.md`);
      assert.ok(row.includes(`\`${info.failureCode}\``), `failure code of ${name} in docs/installer.md`);
    }
  });

  it('refuses a result line that does not name a pinned digest', () => {
    assert.throws(() => parseInstallerResult(''), /no result line/);
    assert.throws(
      () =>
        parseInstallerResult(
          '{"installer":"ok","reference":"x:latest","digest":"latest","source":"approved","container":"c"}',
        ),
      /installed reference and digest/,
    );
  });

  it('classifies SSM failures without echoing them', () => {
    const named = (name: string, extra: Record<string, unknown> = {}) =>
      Object.assign(new Error(`${name}: something`), { name, ...extra });
    assert.equal(unavailableReason(named('ThrottlingException')), 'throttled');
    assert.equal(unavailableReason(named('AccessDeniedException')), 'access-denied');
    assert.equal(unavailableReason(named('AbortError')), 'timeout');
    assert.equal(
      unavailableReason(named('TimeoutError', { code: 'ECONNRESET' })),
      'unreachable',
      'the SDK names a reset connection TimeoutError',
    );
    assert.equal(
      unavailableReason(named('TimeoutError', { code: 'ECONNRESET' }), true),
      'timeout',
      "the read's own deadline fired",
    );
    assert.equal(unavailableReason(named('Error', { code: 'ECONNREFUSED' })), 'unreachable');
    assert.equal(unavailableReason(named('InternalServerError')), 'error');
  });
});
