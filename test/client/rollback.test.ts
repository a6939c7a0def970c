import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { AwsClients } from '../../src/aws/clients';
import { PromotionConflictError } from '../../src/promotion/errors';
import { applyRollback, planRollback, type RollbackRecord } from '../../src/promotion/rollback';
import { aws, candidate, parameterValue, putParameter, REGION } from '../support/aws';
import { jsonOf, sentinelCli } from '../support/cli';
import { testEnvironment, type TestEnvironment } from '../support/invariants';
import { startSsmFaultProxy } from '../support/ssm-fault-proxy';
import { attestAsPassed } from '../support/attest';
import { sharedStack } from '../support/stack';

function parameterOf(env: TestEnvironment): string {
  return env.invariants.environments[env.name]!.approvedDigestParameter;
}

async function history(env: TestEnvironment, values: string[]): Promise<void> {
  for (const value of values) await putParameter(parameterOf(env), value);
}

describe('sentinel promote --rollback against moto_server', function () {
  before(async () => {
    await sharedStack();
  });

  it('restores the previous approved digest compare-and-set and records the rollback as evidence', async () => {
    const env = testEnvironment('rollback');
    const [a, b] = [await candidate('rb-a'), await candidate('rb-b')];
    await history(env, [a, b]);
    await attestAsPassed(env, a);
    const run = await sentinelCli([
      '--json',
      '--invariants',
      env.file,
      'promote',
      '--rollback',
      '--env',
      env.name,
      '--reason',
      'B breaks onboarding',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const out = jsonOf(run);
    assert.equal(out.status, 'rolled_back');
    const now = await aws.ssm(REGION).send(new GetParameterCommand({ Name: parameterOf(env) }));
    assert.equal(now.Parameter?.Value, a);
    assert.equal(now.Parameter?.Version, 3);

    const files = readdirSync(env.evidenceDir)
      .filter((f) => /\.(json|md)$/.test(f))
      .sort();
    assert.equal(files.length, 2);
    assert.match(files[0]!, /^rollback-.*\.json$/);
    const record = JSON.parse(readFileSync(path.join(env.evidenceDir, files[0]!), 'utf8')) as RollbackRecord;
    assert.equal(record.schema, 'sentinel.rollback/v1');
    assert.deepEqual(record.before, { reference: b, version: 2 });
    assert.deepEqual(record.after, { reference: a, version: 3 });
    assert.equal(record.restoredFrom.version, 1);
    assert.equal(record.reason, 'B breaks onboarding');
    assert.equal(record.configSha256, env.invariants.sha256);
    const markdown = readFileSync(path.join(env.evidenceDir, files[1]!), 'utf8');
    assert.match(markdown, /# Sentinel rollback/);
    assert.match(markdown, /B breaks onboarding/);
  });

  it('skips values that are not pinned references of the configured repository, and recovers from an invalid current value', async () => {
    const env = testEnvironment('rollback-skip');
    const a = await candidate('skip-a');
    await attestAsPassed(env, a);
    await history(env, [
      a,
      await candidate('skip-x', 'ghcr.io/someone/else'),
      'ghcr.io/iangreen74/radix-cluster-agent:latest',
      'garbage',
    ]);
    const run = await sentinelCli([
      '--json',
      '--invariants',
      env.file,
      'promote',
      '--rollback',
      '--env',
      env.name,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(jsonOf(run).record.restoredFrom.version, 1);
    assert.equal(await parameterValue(parameterOf(env)), a);
  });

  it('writes nothing on --dry-run', async () => {
    const env = testEnvironment('rollback-dry');
    const [a, b] = [await candidate('dry-a'), await candidate('dry-b')];
    await history(env, [a, b]);
    await attestAsPassed(env, a);
    const run = await sentinelCli([
      '--json',
      '--invariants',
      env.file,
      'promote',
      '--rollback',
      '--env',
      env.name,
      '--dry-run',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(jsonOf(run).plan.restore.reference, a);
    assert.equal(await parameterValue(parameterOf(env)), b);
  });

  it('refuses when there is nothing to roll back to (exit 1) or no parameter at all (exit 8)', async () => {
    const env = testEnvironment('rollback-none');
    const absent = await sentinelCli(['--invariants', env.file, 'promote', '--rollback', '--env', env.name]);
    assert.equal(absent.code, 8, absent.stderr);
    assert.match(absent.stderr, /does not exist/);
    const only = await candidate('only');
    await history(env, [only, only]);
    const none = await sentinelCli(['--invariants', env.file, 'promote', '--rollback', '--env', env.name]);
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /no earlier version/);
    assert.equal(await parameterValue(parameterOf(env)), only);
    const bare = await sentinelCli(['--invariants', env.file, 'promote', '--env', env.name]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /only --rollback/);
  });

  it("names a value another writer put in the last round trip before the rollback's write, in its evidence and with exit 13", async () => {
    const env = testEnvironment('rollback-overwritten');
    const [a, b, c] = [await candidate('ow-a'), await candidate('ow-b'), await candidate('ow-c')];
    await history(env, [a, b]);
    await attestAsPassed(env, a);
    let raced = false;
    // C's write lands after the rollback's last read, right before its own write.
    const proxy = await startSsmFaultProxy((await sharedStack()).moto.endpoint, async (call) => {
      if (raced || call.target !== 'AmazonSSM.PutParameter' || call.json?.Value !== a) return;
      raced = true;
      await aws.ssm(REGION).send(
        new PutParameterCommand({
          Name: parameterOf(env),
          Value: c,
          Type: 'String',
          Overwrite: true,
          Description: 'a promotion meanwhile',
        }),
      );
    });
    try {
      const run = await sentinelCli(
        ['--json', '--invariants', env.file, 'promote', '--rollback', '--env', env.name],
        { AWS_ENDPOINT_URL_SSM: proxy.url },
      );
      assert.ok(raced, 'the other write was injected');
      assert.equal(run.code, 13, run.stderr);
      assert.match(
        run.stderr,
        /PROMOTION_OVERWRITTEN: .* overwritten: .*\(version 3, a promotion meanwhile\)/,
      );
      const record = jsonOf(run).record as RollbackRecord;
      assert.deepEqual(record.after, { reference: a, version: 4 });
      assert.deepEqual(
        record.overwritten?.map((o) => [o.reference, o.version]),
        [[c, 3]],
      );
      assert.equal(await parameterValue(parameterOf(env)), a);
      const stored = JSON.parse(
        readFileSync(
          path.join(
            env.evidenceDir,
            readdirSync(env.evidenceDir).find((f) => f.endsWith('.json'))!,
          ),
          'utf8',
        ),
      ) as RollbackRecord;
      assert.deepEqual(
        stored.overwritten?.map((o) => o.reference),
        [c],
      );
    } finally {
      await proxy.stop();
    }
  });

  it('refuses to restore a digest without a PASSED summary for the environment (exit 18), writing nothing', async () => {
    const env = testEnvironment('rollback-unattested');
    const [a, b] = [await candidate('unattested-a'), await candidate('unattested-b')];
    await history(env, [a, b]);
    const run = await sentinelCli(['--invariants', env.file, 'promote', '--rollback', '--env', env.name]);
    assert.equal(run.code, 18, run.stderr);
    assert.match(run.stderr, /refusing to restore .*: ATTESTATION_MISSING/);
    assert.equal(await parameterValue(parameterOf(env)), b);
  });

  it('never overwrites a value written after the rollback read the parameter', async () => {
    const env = testEnvironment('rollback-race');
    const [a, b, c] = [await candidate('race-a'), await candidate('race-b'), await candidate('race-c')];
    await history(env, [a, b]);
    const clients = new AwsClients();
    try {
      const settings = env.invariants.environments[env.name]!;
      const plan = await planRollback(clients, env.name, settings);
      await putParameter(parameterOf(env), c); // a promotion lands meanwhile
      await assert.rejects(
        applyRollback(clients, plan, {
          actor: 'test',
          evidenceLocation: env.evidenceDir,
          configFile: env.file,
          configSha256: env.invariants.sha256,
        }),
        (err: unknown) => err instanceof PromotionConflictError,
      );
      assert.equal(await parameterValue(parameterOf(env)), c);
    } finally {
      clients.destroy();
    }
  });
});
