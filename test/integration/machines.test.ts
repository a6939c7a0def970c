/**
 * The promise "no leaked machine", under the faults the other tests do not
 * try: a worker killed while cleanup is in flight, a cleanup that cannot
 * finish, a cancel while RunInstances is in flight, EC2's eventual
 * consistency, a second machine tagged with the leg, and radix:expires-at
 * fixed at the leg's start. EC2 faults come from the fault proxy in front of
 * moto; control-plane faults from a small proxy in front of the reference
 * control plane.
 */
import { strict as assert } from 'node:assert';
import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { PURPOSE, TAG } from '../../src/machines/tags';
import { freePort } from '../../dev/stack/process';
import type { EvidenceRecord } from '../../src/domain/evidence';
import { CLEANUP_INCOMPLETE_METRIC, legWorkflowId } from '../../src/temporal/definitions';
import { aws, candidate, instancesTagged, parameterValue, REGION } from '../support/aws';
import { jsonOf, sentinel } from '../support/cli';
import { startControlPlaneProxy, type ControlPlaneProxy } from '../support/control-plane-proxy';
import { startEc2FaultProxy, type Ec2FaultProxy } from '../support/ec2-fault-proxy';
import { slowGpuDetect, testEnvironment } from '../support/invariants';
import { legReachesPhase, readEvidence, startRun, temporalClient } from '../support/runs';
import { sharedStack } from '../support/stack';
import { eventually } from '../support/wait';
import { startWorker, startWorkerProcess } from '../support/worker';

const TARGETS = ['amd-v520', 'nvidia-a10g'];
const gone = (i: Instance) => i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down';
const tag = (i: Instance, key: string) => i.Tags?.find((t) => t.Key === key)?.Value;

/** Waits until `count` instances of the run exist and every one is terminated; returns them. */
async function runInstancesTerminated(
  runWorkflowId: string,
  count: number,
  timeoutMs: number,
): Promise<Instance[]> {
  return eventually(
    `${count} instances of ${runWorkflowId}, all terminated`,
    async () => {
      const found = await instancesTagged(TAG.runId, runWorkflowId);
      if (found.length > count)
        throw new Error(
          `${found.length} instances for ${count} targets: ${found.map((i) => `${i.InstanceId} ${i.State?.Name}`).join(', ')}`,
        );
      if (found.length === count && found.every(gone)) return found;
      throw new Error(`seen: ${found.map((i) => `${i.InstanceId} ${i.State?.Name}`).join(', ') || 'none'}`);
    },
    timeoutMs,
    500,
  );
}

const hasLegTagFilter = (p: URLSearchParams) => [...p.values()].includes(`tag:${TAG.leg}`);

describe('machines: no leaked machine under worker loss, cancel and EC2 eventual consistency', function () {
  this.timeout(360_000);
  let ec2Proxy: Ec2FaultProxy;
  let cpProxy: ControlPlaneProxy;
  let proxyEnv: Record<string, string>;

  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    ec2Proxy = await startEc2FaultProxy({ upstream: stack.moto.endpoint });
    cpProxy = await startControlPlaneProxy(stack.controlPlane.url);
    proxyEnv = { AWS_ENDPOINT_URL_EC2: ec2Proxy.url, RADIX_API_URL: cpProxy.url };
  });
  after(async () => {
    await ec2Proxy?.stop();
    await cpProxy?.stop();
  });
  afterEach(() => {
    ec2Proxy.clearRules();
    cpProxy.clearRules();
  });

  it('a worker killed while TerminateInstances and the cluster DELETE are in flight: a new worker terminates the machines and deletes the clusters within a bound', async () => {
    const stack = await sharedStack();
    const env = testEnvironment('kill-in-cleanup');
    const first = await startWorkerProcess(env.file, `${env.name}-worker-1`, proxyEnv);
    // Both legs' TerminateInstances and DELETE are held far longer than the bound below, then lost with the worker.
    ec2Proxy.addRule({ action: 'TerminateInstances', holdMs: 300_000, holdWhere: 'before', times: 2 });
    cpProxy.addRule({ method: 'DELETE', path: /^\/v1\/clusters\//, holdMs: 300_000, times: 2 });
    const handle = await startRun(env, { candidate: await candidate('kill-in-cleanup') });
    const before = {
      terminate: ec2Proxy.callsOf('TerminateInstances').length,
      del: cpProxy.requests.filter((r) => r.method === 'DELETE').length,
    };
    await eventually(
      'both legs cleaning up, their calls in flight',
      async () =>
        ec2Proxy.callsOf('TerminateInstances').length - before.terminate >= 2 &&
        cpProxy.requests.filter((r) => r.method === 'DELETE').length - before.del >= 2
          ? true
          : undefined,
      120_000,
    );
    await first.stop('SIGKILL');
    const killedAt = Date.now();
    const second = await startWorkerProcess(env.file, `${env.name}-worker-2`, proxyEnv);
    try {
      await runInstancesTerminated(handle.workflowId, 2, 90_000);
      const instancesAfter = (Date.now() - killedAt) / 1000;
      await eventually(
        'both test clusters deleted',
        async () =>
          TARGETS.every((t) => !stack.controlPlane.store.findByName(legWorkflowId(handle.workflowId, t)))
            ? true
            : undefined,
        90_000,
      );
      const clustersAfter = (Date.now() - killedAt) / 1000;
      console.log(
        `      worker killed in cleanup: instances terminated ${instancesAfter.toFixed(1)} s and clusters deleted ${clustersAfter.toFixed(1)} s after the kill`,
      );
      const result = await handle.result();
      assert.equal(result.verdict, 'passed');
      assert.equal(result.cleanupIncomplete, undefined);
      for (const leg of readEvidence(result).legs)
        assert.equal(leg.phases.find((p) => p.name === 'cleanup')?.outcome, 'passed', leg.target);
    } finally {
      await second.stop('SIGKILL');
    }
  });

  it('a run cancelled, then its worker killed during the cleanup that follows: a new worker still terminates the machines', async () => {
    const env = testEnvironment('cancel-kill-cleanup');
    slowGpuDetect(env.hostsDir, 'amd-v520', 60);
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 60);
    const first = await startWorkerProcess(env.file, `${env.name}-worker-1`, proxyEnv);
    const seen = ec2Proxy.callsOf('TerminateInstances').length;
    ec2Proxy.addRule({ action: 'TerminateInstances', holdMs: 300_000, holdWhere: 'before', times: 2 });
    const handle = await startRun(env, { candidate: await candidate('cancel-kill-cleanup') });
    for (const target of TARGETS) await legReachesPhase(handle.workflowId, target, 'gpu_detect', 90_000);
    await handle.cancel();
    await eventually(
      'both legs terminating, the calls in flight',
      async () => (ec2Proxy.callsOf('TerminateInstances').length - seen >= 2 ? true : undefined),
      120_000,
    );
    await first.stop('SIGKILL');
    const killedAt = Date.now();
    const second = await startWorkerProcess(env.file, `${env.name}-worker-2`, proxyEnv);
    try {
      await runInstancesTerminated(handle.workflowId, 2, 90_000);
      console.log(
        `      cancelled, worker killed in cleanup: instances terminated ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`,
      );
      const result = await handle.result();
      assert.equal(result.verdict, 'cancelled');
      assert.equal(result.cleanupIncomplete, undefined);
    } finally {
      await second.stop('SIGKILL');
    }
  });

  it('a leg whose cleanup fails is loud: no promotion, exit 14, and the CLI, the evidence and an alert metric name what may be left', async () => {
    const env = testEnvironment('cleanup-fails');
    const metrics = `127.0.0.1:${await freePort()}`;
    const worker = await startWorkerProcess(env.file, `${env.name}-worker`, {
      ...proxyEnv,
      SENTINEL_METRICS_ADDRESS: metrics,
    });
    ec2Proxy.addRule({ action: 'TerminateInstances', error: 'RequestLimitExceeded' });
    cpProxy.addRule({ method: 'DELETE', path: /^\/v1\/clusters\//, status: 503 });
    try {
      const run = await sentinel(
        [
          'run',
          '--env',
          env.name,
          '--digest',
          await candidate('cleanup-fails'),
          '--run-id',
          'leaks',
          '--json',
        ],
        env.file,
      );
      const result = jsonOf(run);
      console.log(
        run.stderr
          .split('\n')
          .filter((l) => /CLEANUP|LEFT/.test(l))
          .map((l) => `      ${l}`)
          .join('\n'),
      );
      assert.equal(run.code, 14, run.stderr);
      assert.equal(result.verdict, 'failed');
      assert.equal(result.failure?.code, 'CLEANUP_INCOMPLETE');
      assert.equal(result.promotion.status, 'not_promoted_failed');
      assert.equal(
        await parameterValue(`/radix/${env.name}/agent_digest_approved`),
        undefined,
        'nothing promoted',
      );

      const instances = await instancesTagged(TAG.runId, result.workflowId);
      assert.equal(instances.length, 2);
      const expected = [
        ...instances.map((i) => ({ target: tag(i, TAG.target), kind: 'instance', id: i.InstanceId })),
        ...TARGETS.map((t) => ({ target: t, kind: 'cluster', id: legWorkflowId(result.workflowId, t) })),
      ].sort((a, b) => `${a.kind}${a.target}`.localeCompare(`${b.kind}${b.target}`));
      const named = (list: Array<{ target: string; kind: string; id: string }>) =>
        list
          .map(({ target, kind, id }) => ({ target, kind, id }))
          .sort((a, b) => `${a.kind}${a.target}`.localeCompare(`${b.kind}${b.target}`));
      assert.deepEqual(
        named(result.cleanupIncomplete),
        expected,
        'the CLI names every machine and cluster that may be left',
      );
      for (const left of result.cleanupIncomplete)
        assert.match(run.stderr, new RegExp(`LEFT\\s+${left.target}\\s+${left.kind} ${left.id}`));
      const evidence: EvidenceRecord = readEvidence(result);
      assert.deepEqual(named(evidence.cleanupIncomplete ?? []), expected, 'the evidence names them');
      assert.equal(evidence.verdict, 'failed');

      const text = await (await fetch(`http://${metrics}/metrics`)).text();
      for (const left of expected) {
        assert.match(
          text,
          new RegExp(`^${CLEANUP_INCOMPLETE_METRIC}(_total)?\\{[^}]*resource="${left.id}"[^}]*\\} 1$`, 'm'),
          `the alert metric names ${left.kind} ${left.id}`,
        );
      }
    } finally {
      await worker.stop('SIGKILL');
      ec2Proxy.clearRules();
      const stray = (await instancesTagged(TAG.environment, env.name))
        .filter((i) => !gone(i))
        .map((i) => i.InstanceId!);
      if (stray.length > 0) await aws.ec2(REGION).send(new TerminateInstancesCommand({ InstanceIds: stray }));
    }
  });

  it('a run cancelled while RunInstances is in flight ends with the machine that launched terminated', async () => {
    const env = testEnvironment('cancel-in-launch');
    const worker = await startWorkerProcess(env.file, `${env.name}-worker`, proxyEnv);
    try {
      const seen = ec2Proxy.callsOf('RunInstances').length;
      ec2Proxy.addRule({ action: 'RunInstances', holdMs: 8_000, holdWhere: 'before', times: 2 });
      const handle = await startRun(env, { candidate: await candidate('cancel-in-launch') });
      await eventually(
        'both launches in flight',
        async () => (ec2Proxy.callsOf('RunInstances').length - seen >= 2 ? true : undefined),
        120_000,
      );
      await handle.cancel();
      const result = await handle.result();
      assert.equal(result.verdict, 'cancelled');
      const instances = await runInstancesTerminated(result.workflowId, 2, 60_000);
      const evidence = readEvidence(result);
      for (const leg of evidence.legs) {
        assert.ok(
          instances.some((i) => i.InstanceId === leg.instance?.instanceId),
          `${leg.target} reports the machine it launched`,
        );
        assert.equal(leg.phases.find((p) => p.name === 'cleanup')?.outcome, 'passed');
      }
    } finally {
      await worker.stop('SIGKILL');
    }
  });

  it('an instance EC2 does not show yet right after its launch (InvalidInstanceID.NotFound) is still terminated', async () => {
    const env = testEnvironment('not-found-yet');
    const worker = await startWorkerProcess(env.file, `${env.name}-worker`, proxyEnv);
    try {
      ec2Proxy.addRule({ action: 'TerminateInstances', error: 'InvalidInstanceID.NotFound', times: 2 });
      const result = await (await startRun(env, { candidate: await candidate('not-found-yet') })).result();
      assert.equal(result.verdict, 'passed');
      await runInstancesTerminated(result.workflowId, 2, 30_000);
    } finally {
      await worker.stop('SIGKILL');
    }
  });

  it('cleanup terminates every machine tagged with the leg, not only the one it knows', async () => {
    const env = testEnvironment('second-machine');
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 4);
    const worker = await startWorker(env.invariants);
    try {
      const handle = await startRun(env, { candidate: await candidate('second-machine') });
      await legReachesPhase(handle.workflowId, 'nvidia-a10g', 'gpu_detect', 60_000);
      // What a retried launch whose tag lookup lagged leaves: a second machine tagged with the leg.
      const leg = legWorkflowId(handle.workflowId, 'nvidia-a10g');
      const tags = [
        { Key: TAG.purpose, Value: PURPOSE },
        { Key: TAG.environment, Value: env.name },
        { Key: TAG.runId, Value: handle.workflowId },
        { Key: TAG.leg, Value: leg },
        { Key: TAG.target, Value: 'nvidia-a10g' },
      ];
      const out = await aws.ec2(REGION).send(
        new RunInstancesCommand({
          ImageId: 'ami-0c2b8ca305e393e06',
          InstanceType: 'g5.2xlarge',
          MinCount: 1,
          MaxCount: 1,
          TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
        }),
      );
      const second = out.Instances![0]!.InstanceId!;
      const result = await handle.result();
      assert.equal(result.verdict, 'passed');
      const ofLeg = await eventually(
        'both machines of the leg terminated',
        async () => {
          const found = await instancesTagged(TAG.leg, leg);
          return found.length === 2 && found.every(gone) ? found : undefined;
        },
        30_000,
      ).catch(async (err: Error) => {
        const states = (await aws.ec2(REGION).send(new DescribeInstancesCommand({ InstanceIds: [second] })))
          .Reservations?.[0]?.Instances?.[0]?.State?.Name;
        throw new Error(`${err.message}; the second machine ${second} is ${states}`);
      });
      assert.ok(ofLeg.some((i) => i.InstanceId === second));
    } finally {
      await worker.stop();
    }
  });

  it('tags radix:expires-at from the leg start (workflow time), not from whenever a provisioning attempt runs', async () => {
    const env = testEnvironment('expires-at');
    const worker = await startWorkerProcess(env.file, `${env.name}-worker`, proxyEnv);
    try {
      // Each leg's first look for its machine is slow: an attempt that starts late must still tag the leg's own expiry.
      ec2Proxy.addRule({
        action: 'DescribeInstances',
        match: hasLegTagFilter,
        holdMs: 6_000,
        holdWhere: 'before',
        times: 2,
      });
      const result = await (await startRun(env, { candidate: await candidate('expires-at') })).result();
      assert.equal(result.verdict, 'passed');
      const client = await temporalClient();
      const ttlMs = env.invariants.environments[env.name]!.cleanupTtl;
      for (const instance of await instancesTagged(TAG.runId, result.workflowId)) {
        const leg = await client.workflow.getHandle(tag(instance, TAG.leg)!).describe();
        const expiresAt = Date.parse(tag(instance, TAG.expiresAt)!);
        const offBy = expiresAt - (leg.startTime.getTime() + ttlMs);
        console.log(
          `      ${tag(instance, TAG.target)}: radix:expires-at ${tag(instance, TAG.expiresAt)}, leg start + cleanupTtl ${offBy >= 0 ? '+' : ''}${offBy} ms`,
        );
        assert.ok(
          Math.abs(offBy) < 2_000,
          `radix:expires-at is ${offBy} ms off the leg's start + cleanupTtl`,
        );
      }
    } finally {
      await worker.stop('SIGKILL');
    }
  });
});
