import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { GetParameterCommand, GetParameterHistoryCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { EXIT } from '../../src/cli/exit-codes';
import type { EvidenceRecord } from '../../src/domain/evidence';
import { evidenceSchema } from '../../src/evidence/schema';
import { freePort } from '../../dev/stack/process';
import { runProgressQuery, runWorkflowId } from '../../src/temporal/definitions';
import { aws, candidate, parameterValue, putParameter, REGION } from '../support/aws';
import { sentinel } from '../support/cli';
import { slowGpuDetect, testEnvironment, type TestEnvironment } from '../support/invariants';
import { legReachesPhase, readEvidence, startRun, temporalClient } from '../support/runs';
import { startSsmFaultProxy, type SsmFaultProxy } from '../support/ssm-fault-proxy';
import { attestAsPassed } from '../support/attest';
import { sharedStack } from '../support/stack';
import { eventually } from '../support/wait';
import { startWorker, startWorkerProcess } from '../support/worker';

function parameterOf(env: TestEnvironment): string {
  return env.invariants.environments[env.name]!.approvedDigestParameter;
}

async function pointer(env: TestEnvironment): Promise<{ value?: string; version?: number }> {
  const out = await aws.ssm(REGION).send(new GetParameterCommand({ Name: parameterOf(env) }));
  return { value: out.Parameter?.Value, version: out.Parameter?.Version };
}

async function pointerHistory(env: TestEnvironment): Promise<string[]> {
  const out = await aws
    .ssm(REGION)
    .send(new GetParameterHistoryCommand({ Name: parameterOf(env), MaxResults: 50 }));
  return (out.Parameters ?? []).sort((a, b) => a.Version! - b.Version!).map((p) => p.Value!);
}

function isPutOf(
  call: { target: string; json?: Record<string, unknown> },
  parameter: string,
  value: string,
): boolean {
  return (
    call.target === 'AmazonSSM.PutParameter' && call.json?.Name === parameter && call.json?.Value === value
  );
}

describe('the approved pointer: forward only, truthful about races, consistent after a cancel', function () {
  let motoEndpoint: string;

  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    motoEndpoint = stack.moto.endpoint;
  });

  it('never regresses: the run of an older image, queued at the lane behind a newer one, ends PROMOTION_STALE (exit 12) and the pointer keeps the newer image', async () => {
    const env = testEnvironment('never-regress');
    // The newer image's run holds the lane while the older one's queues behind it.
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 10);
    // Built in this order: SEED, OLD, NEW (each image's config carries its own build time).
    const seed = await candidate(`${env.name}-seed`);
    const old = await candidate(`${env.name}-old`);
    const newer = await candidate(`${env.name}-new`);
    await putParameter(parameterOf(env), seed);
    const worker = await startWorker(env.invariants);
    try {
      const newRun = await startRun(env, { candidate: newer, ciRunId: 'new' });
      await legReachesPhase(newRun.workflowId, 'nvidia-a10g', 'gpu_detect');
      const oldRun = sentinel(
        ['run', '--env', env.name, '--digest', old, '--run-id', 'old', '--json'],
        env.file,
      );
      const client = await temporalClient();
      await eventually(
        "the old image's run to queue at the lane",
        async () => {
          const progress = await client.workflow
            .getHandle(runWorkflowId(env.name, 'old'))
            .query(runProgressQuery);
          return progress.stage === 'waiting_for_lane' ? true : undefined;
        },
        60_000,
      );
      const newResult = await newRun.result();
      const oldCli = await oldRun;

      assert.equal(newResult.verdict, 'passed');
      assert.equal(newResult.promotion.status, 'promoted');
      // The pointer moved SEED → NEW and no further: OLD never became version 3.
      assert.deepEqual(await pointerHistory(env), [seed, newer]);
      assert.deepEqual(await pointer(env), { value: newer, version: 2 });
      assert.equal(newResult.promotion.order?.approvedReference, seed);

      assert.equal(oldCli.code, EXIT.PROMOTION_STALE, oldCli.stderr);
      const oldResult = oldCli.json;
      assert.equal(oldResult.verdict, 'promotion_stale');
      assert.equal(oldResult.failure.code, 'PROMOTION_STALE');
      assert.equal(oldResult.promotion.status, 'stale');
      assert.match(oldCli.stderr, /PROMOTION_STALE: the candidate was built .* before the approved/);
      assert.match(oldCli.stderr, /sentinel promote --rollback/);

      const newEvidence = readEvidence(newResult);
      const evidence = JSON.parse(readFileSync(oldResult.evidence.json, 'utf8')) as EvidenceRecord;
      evidenceSchema.parse(evidence);
      // OLD really was queued behind NEW: it started before NEW finished and read NEW as its baseline after the wait.
      assert.ok(
        Date.parse(evidence.run.startedAt) < Date.parse(newEvidence.run.finishedAt),
        'the old run was waiting at the lane while the new one ran',
      );
      assert.equal(evidence.approvedDigest.before?.reference, newer);
      assert.equal(evidence.approvedDigest.after?.reference, newer);
      assert.equal(evidence.verdict, 'promotion_stale');
      assert.equal(evidence.promotion.status, 'stale');
      assert.equal(evidence.promotion.order?.approvedReference, newer);
      assert.ok(
        Date.parse(evidence.promotion.order.candidateCreated) <
          Date.parse(evidence.promotion.order.approvedCreated),
      );
      assert.deepEqual(
        evidence.legs.map((l) => l.outcome),
        ['passed', 'passed'],
        'the legs passed: only the order refused it',
      );
      assert.match(
        readFileSync(oldResult.evidence.markdown, 'utf8'),
        /# Sentinel GPU matrix: PROMOTION STALE/,
      );

      // Going back on purpose is still possible, explicitly, to a digest with its signed proof.
      await attestAsPassed(env, seed);
      const rollback = await sentinel(['promote', '--rollback', '--env', env.name], env.file);
      assert.equal(rollback.code, EXIT.PASSED, rollback.stderr);
      assert.equal(await parameterValue(parameterOf(env)), seed);
    } finally {
      await worker.stop();
    }
  });

  describe("with a fault proxy in front of moto's SSM", function () {
    let proxy: SsmFaultProxy | undefined;
    afterEach(async () => {
      await proxy?.stop();
      proxy = undefined;
    });

    it("reports PROMOTION_OVERWRITTEN (exit 13) naming the value another writer put between Sentinel's read and its write, and raises the alert metric", async () => {
      const env = testEnvironment('overwritten');
      const parameter = parameterOf(env);
      const before = await candidate(`${env.name}-before`);
      const other = await candidate(`${env.name}-other`);
      const wanted = await candidate(`${env.name}-candidate`);
      await putParameter(parameter, before);
      let raced = false;
      // The other writer's PutParameter lands after Sentinel's last read, just before Sentinel's own write.
      proxy = await startSsmFaultProxy(motoEndpoint, async (call) => {
        if (raced || !isPutOf(call, parameter, wanted)) return;
        raced = true;
        await aws.ssm(REGION).send(
          new PutParameterCommand({
            Name: parameter,
            Value: other,
            Type: 'String',
            Overwrite: true,
            Description: 'hand edit by an operator',
          }),
        );
      });
      const metrics = `127.0.0.1:${await freePort()}`;
      const worker = await startWorkerProcess(env.file, `${env.name}-worker`, {
        AWS_ENDPOINT_URL_SSM: proxy.url,
        SENTINEL_METRICS_ADDRESS: metrics,
      });
      try {
        const result = await (await startRun(env, { candidate: wanted })).result();
        assert.ok(raced, 'the other write was injected');
        // The window another writer has: from Sentinel's last read of the pointer to its write arriving.
        const put = proxy.calls.findIndex((c) => isPutOf(c, parameter, wanted));
        const lastRead = proxy.calls
          .slice(0, put)
          .reverse()
          .find((c) => c.target === 'AmazonSSM.GetParameter' && c.json?.Name === parameter);
        assert.ok(lastRead, 'the pointer was read right before the write');
        console.log(
          `      race window: ${(proxy.calls[put]!.at - lastRead.at).toFixed(1)} ms from the last read to the write reaching SSM (loopback)`,
        );
        assert.equal(result.verdict, 'promotion_overwritten');
        assert.equal(result.failure?.code, 'PROMOTION_OVERWRITTEN');
        assert.match(
          result.failure.detail!,
          new RegExp(
            `overwritten: ${other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(version 2, hand edit by an operator\\)`,
          ),
        );
        assert.deepEqual(await pointerHistory(env), [before, other, wanted]);
        assert.deepEqual(await pointer(env), { value: wanted, version: 3 });

        const evidence = readEvidence(result);
        evidenceSchema.parse(evidence);
        assert.equal(evidence.verdict, 'promotion_overwritten');
        assert.equal(evidence.promotion.status, 'overwritten');
        assert.deepEqual(
          evidence.promotion.overwritten?.map((o) => [o.reference, o.version, o.description]),
          [[other, 2, 'hand edit by an operator']],
        );
        assert.equal(
          evidence.approvedDigest.after?.reference,
          wanted,
          'the evidence says what the pointer holds',
        );
        assert.match(readFileSync(result.evidence!.markdown, 'utf8'), /\*\*Overwritten\*\*/);

        const scrape = await (await fetch(`http://${metrics}/metrics`)).text();
        const line = scrape
          .split('\n')
          .find(
            (l) => l.startsWith('sentinel_promotion_overwritten{') && l.includes(`parameter="${parameter}"`),
          );
        assert.ok(
          line && Number(line.slice(line.lastIndexOf(' ') + 1)) >= 1,
          `alert counter raised; metrics:\n${scrape
            .split('\n')
            .filter((l) => l.startsWith('sentinel_'))
            .join('\n')}`,
        );
      } finally {
        await worker.stop('SIGTERM');
      }
    });

    it('finishes a promotion that a cancel interrupts: after the run the evidence matches the pointer', async () => {
      const env = testEnvironment('cancel-promotion');
      const parameter = parameterOf(env);
      const wanted = await candidate(`${env.name}-candidate`);
      let held = false;
      // Sentinel's write reaches SSM only after 6 s: the run is cancelled meanwhile.
      proxy = await startSsmFaultProxy(motoEndpoint, async (call) => {
        if (!isPutOf(call, parameter, wanted)) return;
        held = true;
        await new Promise((r) => setTimeout(r, 6_000));
      });
      const worker = await startWorkerProcess(env.file, `${env.name}-worker`, {
        AWS_ENDPOINT_URL_SSM: proxy.url,
      });
      try {
        const handle = await startRun(env, { candidate: wanted });
        await eventually(
          'the promotion write to reach the proxy',
          async () => (held ? true : undefined),
          120_000,
        );
        await handle.cancel();
        const result = await handle.result();
        // Whatever the run did, the write it sent has settled before we compare.
        await eventually(
          'the held write to be answered',
          async () => (proxy!.inFlight() === 0 ? true : undefined),
          60_000,
        );

        const now = await parameterValue(parameter);
        const evidence = readEvidence(result);
        evidenceSchema.parse(evidence);
        assert.equal(
          evidence.approvedDigest.after?.reference ?? undefined,
          now,
          'the evidence records the pointer as it is',
        );
        assert.equal(now, wanted, 'the write that was sent was completed');
        assert.equal(result.verdict, 'passed');
        assert.equal(evidence.promotion.status, 'promoted');
        assert.match(evidence.promotion.detail ?? '', /cancelled while the promotion was being written/);
      } finally {
        await worker.stop('SIGTERM');
      }
    });
  });
});
