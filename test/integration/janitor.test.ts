import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  AdminGetUserCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { DescribeInstancesCommand, RunInstancesCommand, type Tag } from '@aws-sdk/client-ec2';
import { PURPOSE, TAG } from '../../src/machines/tags';
import type { JanitorReport } from '../../src/domain/janitor';
import { evidenceSchema } from '../../src/evidence/schema';
import type { janitorWorkflow } from '../../src/workflows';
import { janitorPreStepWorkflowId, runWorkflowId } from '../../src/temporal/definitions';
import { aws, candidate, REGION } from '../support/aws';
import { sentinel } from '../support/cli';
import { testEnvironment, type TestEnvironment } from '../support/invariants';
import { readEvidence, startRun, temporalClient } from '../support/runs';
import { sharedStack, suiteDir } from '../support/stack';
import { startWorker } from '../support/worker';

const HOUR = 3600_000;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

/** Launches GPU-matrix instances in the emulated account, tagged as Sentinel tags them. */
async function launch(
  environment: string,
  options: { runId?: string; expiresAt?: string; target?: string },
): Promise<string> {
  const tags: Tag[] = [
    { Key: TAG.purpose, Value: PURPOSE },
    { Key: TAG.environment, Value: environment },
    { Key: TAG.target, Value: options.target ?? 'nvidia-a10g' },
    ...(options.runId ? [{ Key: TAG.runId, Value: options.runId }] : []),
    ...(options.expiresAt ? [{ Key: TAG.expiresAt, Value: options.expiresAt }] : []),
  ];
  const out = await aws.ec2(REGION).send(
    new RunInstancesCommand({
      ImageId: 'ami-0c2b8ca305e393e06',
      InstanceType: 'g5.xlarge',
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
    }),
  );
  return out.Instances![0]!.InstanceId!;
}

async function states(ids: string[]): Promise<Record<string, string>> {
  const out = await aws.ec2(REGION).send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return Object.fromEntries(
    (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => [i.InstanceId!, i.State!.Name!]),
  );
}

const gone = (state: string | undefined) => state === 'terminated' || state === 'shutting-down';

/** A run that is open for as long as the test wants: a matrix run on a task queue no worker polls. */
async function openRun(
  env: TestEnvironment,
  name: string,
): Promise<{ workflowId: string; close(): Promise<void> }> {
  const client = await temporalClient();
  const workflowId = runWorkflowId(env.name, name);
  const handle = await client.workflow.start('gpuMatrixWorkflow', {
    workflowId,
    taskQueue: `nobody-polls-${env.name}`,
    args: [],
  });
  return {
    workflowId,
    close: async () => {
      await handle.terminate('test over');
    },
  };
}

describe('janitor (moto_server, real Temporal)', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('terminates an expired orphan, spares the instance of an open run however old its tags say it is, and a young one; --dry-run only lists', async () => {
    const env = testEnvironment('janitor-cli');
    const worker = await startWorker(env.invariants);
    const open = await openRun(env, 'still-open');
    try {
      const expired = await launch(env.name, {
        runId: runWorkflowId(env.name, 'long-gone'),
        expiresAt: iso(-1 * HOUR),
      });
      const untagged = await launch(env.name, { expiresAt: iso(-2 * HOUR) });
      const ofOpenRun = await launch(env.name, { runId: open.workflowId, expiresAt: iso(-30 * HOUR) });
      const young = await launch(env.name, {
        runId: runWorkflowId(env.name, 'long-gone'),
        expiresAt: iso(3 * HOUR),
      });
      const otherEnvironment = await launch(`${env.name}-other`, { expiresAt: iso(-5 * HOUR) });
      // The simulated host's disk of the expired instance (local executor).
      const disk = path.join(suiteDir, 'hosts-work', expired);
      mkdirSync(disk, { recursive: true });
      writeFileSync(path.join(disk, 'gpu-detect.sh'), 'true\n');

      const dry = await sentinel(['janitor', '--env', env.name, '--dry-run', '--json'], env.file);
      assert.equal(dry.code, 0, dry.stderr);
      const dryReport = dry.json.report as JanitorReport;
      assert.equal(dryReport.dryRun, true);
      assert.equal(dryReport.seen, 4, "the other environment's instance is not this janitor's");
      assert.deepEqual(dryReport.wouldTerminate.map((a) => a.instanceId).sort(), [expired, untagged].sort());
      assert.deepEqual(dryReport.terminated, []);
      const spared = Object.fromEntries(dryReport.spared.map((s) => [s.instanceId, s]));
      assert.equal(spared[ofOpenRun]?.reason, 'run_open');
      assert.match(spared[ofOpenRun].detail, new RegExp(`run ${open.workflowId} is still open`));
      assert.equal(spared[young]?.reason, 'young');
      assert.ok(
        Object.values(await states([expired, untagged, ofOpenRun, young])).every((s) => s === 'running'),
        'a dry run terminates nothing',
      );
      assert.ok(existsSync(disk));

      const real = await sentinel(['janitor', '--env', env.name], env.file);
      assert.equal(real.code, 0, real.stderr);
      assert.match(
        real.stdout,
        new RegExp(
          `terminated\\s+${expired} .*run ${runWorkflowId(env.name, 'long-gone')}: past its radix:expires-at`,
        ),
      );
      assert.match(real.stdout, new RegExp(`terminated\\s+${untagged} .*run \\(none\\)`));
      assert.match(real.stdout, new RegExp(`spared\\s+${ofOpenRun} .*is still open`));
      assert.match(real.stdout, /4 instance\(s\) seen, 2 terminated, 2 spared/);

      const after = await states([expired, untagged, ofOpenRun, young, otherEnvironment]);
      assert.ok(
        gone(after[expired]) && gone(after[untagged]),
        `expired instances terminated: ${JSON.stringify(after)}`,
      );
      assert.equal(after[ofOpenRun], 'running');
      assert.equal(after[young], 'running');
      assert.equal(after[otherEnvironment], 'running');
      assert.ok(!existsSync(disk), 'the local executor released the terminated host');
    } finally {
      await open.close();
      await worker.stop();
    }
  });

  it('stays correct across DescribeInstances pages with 120 instances', async function () {
    this.timeout(180_000);
    const env = testEnvironment('janitor-pages');
    const worker = await startWorker(env.invariants);
    try {
      // One reservation per instance, as Sentinel launches them (the emulator pages by reservation).
      const expired: string[] = [];
      const young: string[] = [];
      const started = Date.now();
      for (let batch = 0; batch < 12; batch++) {
        const ids = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            launch(
              env.name,
              (batch * 10 + i) % 2 === 0
                ? { runId: runWorkflowId(env.name, `gone-${batch}-${i}`), expiresAt: iso(-HOUR) }
                : { expiresAt: iso(HOUR) },
            ),
          ),
        );
        ids.forEach((id, i) => ((batch * 10 + i) % 2 === 0 ? expired : young).push(id));
      }
      console.log(`      (launched 120 instances in ${((Date.now() - started) / 1000).toFixed(1)}s)`);

      const client = await temporalClient();
      worker.sentinel.aws.resetCallCounts();
      const sweep = Date.now();
      const report = await client.workflow.execute<typeof janitorWorkflow>('janitorWorkflow', {
        workflowId: `janitor-pages-${env.name}`,
        taskQueue: env.invariants.temporal.taskQueue,
        args: [{ environment: env.name, dryRun: false }],
      });
      console.log(`      (janitor over 120 instances: ${Date.now() - sweep} ms)`);
      assert.equal(report.seen, 120);
      assert.deepEqual(report.terminated.map((t) => t.instanceId).sort(), [...expired].sort());
      assert.deepEqual(report.spared.map((s) => s.instanceId).sort(), [...young].sort());
      const calls = worker.sentinel.aws.callCounts();
      assert.equal(calls['EC2.DescribeInstances'], 2, 'two pages of at most 100');
      assert.equal(calls['EC2.TerminateInstances'], 2, 'two batches of at most 50');

      const again = await client.workflow.execute<typeof janitorWorkflow>('janitorWorkflow', {
        workflowId: `janitor-pages-again-${env.name}`,
        taskQueue: env.invariants.temporal.taskQueue,
        args: [{ environment: env.name, dryRun: false }],
      });
      assert.equal(again.seen, 60, 'terminated instances are no longer live');
      assert.deepEqual(again.terminated, []);
    } finally {
      await worker.stop();
    }
  });

  it("runs before every matrix run's legs and reports in its evidence; a failing janitor is recorded and the run goes on", async () => {
    const env = testEnvironment('janitor-prestep');
    const worker = await startWorker(env.invariants);
    const client = await temporalClient();
    try {
      const orphan = await launch(env.name, {
        runId: runWorkflowId(env.name, 'crashed-yesterday'),
        expiresAt: iso(-20 * HOUR),
      });
      const first = await (
        await startRun(env, { candidate: await candidate('janitor-prestep', undefined), ciRunId: 'first' })
      ).result();
      assert.equal(first.verdict, 'passed');
      assert.deepEqual(
        first.janitor && { terminated: first.janitor.terminated, failure: first.janitor.failure },
        { terminated: 1, failure: undefined },
      );
      const evidence = readEvidence(first);
      evidenceSchema.parse(evidence);
      assert.equal(evidence.janitor?.workflowId, janitorPreStepWorkflowId(first.workflowId));
      assert.deepEqual(
        evidence.janitor?.report?.terminated.map((t) => t.instanceId),
        [orphan],
      );
      assert.ok(gone((await states([orphan]))[orphan]));
      const markdown = readFileSync(first.evidence!.markdown, 'utf8');
      assert.match(markdown, /## Preflight/);
      assert.match(markdown, new RegExp(`\\| \`${orphan}\` \\| terminated \\|`));

      // Occupy the janitor's workflow id so the pre-step cannot start: the run must still pass.
      const secondId = runWorkflowId(env.name, 'second');
      const blocker = await client.workflow.start('janitorWorkflow', {
        workflowId: janitorPreStepWorkflowId(secondId),
        taskQueue: `nobody-polls-${env.name}`,
        args: [{ environment: env.name, dryRun: false }],
      });
      try {
        const second = await (
          await startRun(env, { candidate: await candidate('janitor-prestep-2'), ciRunId: 'second' })
        ).result();
        assert.equal(second.verdict, 'passed');
        assert.equal(second.promotion.status, 'promoted');
        assert.ok(second.janitor?.failure, 'the janitor failure is recorded');
        const recorded = readEvidence(second);
        evidenceSchema.parse(recorded);
        assert.equal(recorded.janitor?.failure?.code, 'INTERNAL_ERROR');
        assert.match(recorded.janitor.failure.detail!, /already started|already running|exists/i);
      } finally {
        await blocker.terminate('test over');
      }
    } finally {
      await worker.stop();
    }
  });

  it("deletes the test clusters of dead runs in the control plane, spares those of an open run and clusters that are not Sentinel's; --dry-run only lists", async () => {
    const env = testEnvironment('janitor-clusters');
    const stack = await sharedStack();
    const store = stack.controlPlane.store;
    const worker = await startWorker(env.invariants);
    const open = await openRun(env, 'clusters-open');
    try {
      // Clusters as legs name them (<run workflow id>--<target>), owned by Sentinel's service user (only an owner may
      // delete a cluster), left by runs that died before their cleanup.
      const cognito = new CognitoIdentityProviderClient({ region: stack.serviceUser.region });
      const user = await cognito.send(
        new AdminGetUserCommand({
          UserPoolId: stack.serviceUser.userPoolId,
          Username: stack.serviceUser.username,
        }),
      );
      cognito.destroy();
      const serviceSubject = user.UserAttributes!.find((a) => a.Name === 'sub')!.Value!;
      const dead = store.createCluster(
        `${runWorkflowId(env.name, 'died-in-cleanup')}--nvidia-a10g`,
        serviceSubject,
      ).id;
      const deadToo = store.createCluster(
        `${runWorkflowId(env.name, 'died-in-cleanup')}--amd-v520`,
        serviceSubject,
      ).id;
      const ofOpenRun = store.createCluster(`${open.workflowId}--amd-v520`, serviceSubject).id;
      const customer = store.createCluster(`customer-${env.name}`, 'someone-else').id;

      const dry = await sentinel(['janitor', '--env', env.name, '--dry-run', '--json'], env.file);
      assert.equal(dry.code, 0, dry.stderr);
      const dryReport = dry.json.report as JanitorReport;
      assert.deepEqual(
        dryReport.clusters?.wouldDelete.map((c) => c.clusterId).sort(),
        [dead, deadToo].sort(),
      );
      assert.deepEqual(
        dryReport.clusters?.spared.map((c) => c.clusterId),
        [ofOpenRun],
      );
      assert.ok(
        [dead, deadToo, ofOpenRun, customer].every((id) => store.clusters.has(id)),
        'a dry run deletes nothing',
      );

      const real = await sentinel(['janitor', '--env', env.name], env.file);
      assert.equal(real.code, 0, real.stderr);
      assert.match(
        real.stdout,
        new RegExp(`deleted\\s+${dead} .*run ${runWorkflowId(env.name, 'died-in-cleanup')}`),
      );
      assert.match(real.stdout, new RegExp(`spared\\s+${ofOpenRun} .*is still open`));
      assert.ok(
        !store.clusters.has(dead) && !store.clusters.has(deadToo),
        "the dead run's clusters are deleted",
      );
      assert.ok(store.clusters.has(ofOpenRun), "the open run's cluster is spared");
      assert.ok(store.clusters.has(customer), 'a cluster Sentinel did not name is never touched');
    } finally {
      await open.close();
      await worker.stop();
    }
  });
});
