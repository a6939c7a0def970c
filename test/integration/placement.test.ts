import { strict as assert } from 'node:assert';
import {
  CreateSubnetCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { TAG } from '../../src/machines/tags';
import { EXIT } from '../../src/cli/exit-codes';
import type { ManagedProcess } from '../../dev/stack/process';
import { legWorkflowId, runWorkflowId } from '../../src/temporal/definitions';
import { aws, candidate, instancesTagged, REGION } from '../support/aws';
import { sentinel } from '../support/cli';
import {
  EMPTY_DESCRIBE_INSTANCES,
  instanceTypeOf,
  startEc2FaultProxy,
  subnetOf,
  type Ec2Call,
  type Ec2FaultProxy,
} from '../support/ec2-fault-proxy';
import { testEnvironment, type TestEnvironment } from '../support/invariants';
import { readEvidence, startRun } from '../support/runs';
import { sharedStack, suiteDir } from '../support/stack';
import { eventually } from '../support/wait';
import { startWorker, startWorkerProcess } from '../support/worker';

const ZONE_D_SUBNET = 'sentinel-test-us-west-2d';

/** A subnet in us-west-2d of the sandbox VPC: a zone the emulator offers g6.xlarge in, but neither g5.xlarge nor g4ad.xlarge. */
async function zoneDSubnet(): Promise<string> {
  const stack = await sharedStack();
  const ec2 = aws.ec2(REGION);
  const found = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: [ZONE_D_SUBNET] }] }),
  );
  if (found.Subnets?.[0]?.SubnetId) return found.Subnets[0].SubnetId;
  const made = await ec2.send(
    new CreateSubnetCommand({
      VpcId: stack.network.vpcId,
      CidrBlock: '10.80.4.0/24',
      AvailabilityZone: `${REGION}d`,
      TagSpecifications: [{ ResourceType: 'subnet', Tags: [{ Key: 'Name', Value: ZONE_D_SUBNET }] }],
    }),
  );
  return made.Subnet!.SubnetId!;
}

/** The RunInstances calls one leg made through the proxy (its leg tag is among the launch's parameters). */
function launchesOf(proxy: Ec2FaultProxy, legId: string): Ec2Call[] {
  return proxy.callsOf('RunInstances').filter((c) => [...c.params.values()].includes(legId));
}

const pairOf = (c: Ec2Call) => `${instanceTypeOf(c.params)}@${subnetOf(c.params)}`;

/**
 * Polls moto (directly, not through the proxy) while a run goes on, and keeps
 * the largest number of live instances any one leg had at once.
 */
function watchLiveInstancesPerLeg(runId: string): { stop(): Promise<Map<string, number>> } {
  const peak = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const out = await aws.ec2(REGION).send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${TAG.runId}`, Values: [runId] },
            { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
          ],
        }),
      );
      const perLeg = new Map<string, number>();
      for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        const leg = i.Tags?.find((t) => t.Key === TAG.leg)?.Value ?? '?';
        perLeg.set(leg, (perLeg.get(leg) ?? 0) + 1);
      }
      for (const [leg, n] of perLeg) peak.set(leg, Math.max(peak.get(leg) ?? 0, n));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

function legInstances(all: Instance[], legId: string): Instance[] {
  return all.filter((i) => i.Tags?.some((t) => t.Key === TAG.leg && t.Value === legId));
}

describe('placement and the capacity sweep, through the EC2 fault proxy', function () {
  let proxy: Ec2FaultProxy;
  let subnetA: string;
  let subnetB: string;
  let subnetD: string;

  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    proxy = await startEc2FaultProxy({ upstream: stack.moto.endpoint });
    [subnetA, subnetB] = stack.network.subnets.map((s) => s.subnetId) as [string, string];
    subnetD = await zoneDSubnet();
  });
  after(async () => {
    await proxy?.stop();
  });
  afterEach(() => proxy.clearRules());

  /** The worker as its own process, its EC2 calls going through the proxy. */
  const proxiedWorker = (env: TestEnvironment, log: string): Promise<ManagedProcess> =>
    startWorkerProcess(env.file, log, { AWS_ENDPOINT_URL_EC2: proxy.url });

  it('sweeps (type, subnet) pairs in configured order, skips zones that do not offer a type, and records every attempt', async () => {
    const env = testEnvironment('sweep-order', (e) => {
      e.network.subnets = [
        'name:sentinel-sandbox-us-west-2a',
        'name:sentinel-sandbox-us-west-2b',
        `name:${ZONE_D_SUBNET}`,
      ];
      e.targets[0].instanceTypes = ['g5.xlarge', 'g6.xlarge'];
    });
    // nvidia: no luck until the last pair; (g5.xlarge, us-west-2d) is never tried: the zone does not offer it.
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => instanceTypeOf(p) === 'g5.xlarge' && subnetOf(p) === subnetA,
      error: 'InsufficientInstanceCapacity',
      zone: `${REGION}a`,
    });
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => instanceTypeOf(p) === 'g5.xlarge' && subnetOf(p) === subnetB,
      error: 'Unsupported',
      zone: `${REGION}b`,
    });
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => instanceTypeOf(p) === 'g6.xlarge' && subnetOf(p) === subnetA,
      error: 'InstanceLimitExceeded',
    });
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => instanceTypeOf(p) === 'g6.xlarge' && subnetOf(p) === subnetB,
      error: 'InsufficientInstanceCapacity',
      zone: `${REGION}b`,
    });
    // amd: the answer to its first launch is lost (the machine exists, the worker never learns): the retry finds it by its tag.
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => instanceTypeOf(p) === 'g4ad.xlarge',
      dropAnswer: true,
      times: 1,
    });

    const worker = await proxiedWorker(env, 'worker-sweep-order');
    try {
      const id = runWorkflowId(env.name, 'r1');
      const watch = watchLiveInstancesPerLeg(id);
      const handle = await startRun(env, { candidate: await candidate('sweep-order'), ciRunId: 'r1' });
      const result = await handle.result();
      const peak = await watch.stop();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.legs));

      const nvidia = legWorkflowId(id, 'nvidia-a10g');
      const amd = legWorkflowId(id, 'amd-v520');
      assert.deepEqual(launchesOf(proxy, nvidia).map(pairOf), [
        `g5.xlarge@${subnetA}`,
        `g5.xlarge@${subnetB}`,
        `g6.xlarge@${subnetA}`,
        `g6.xlarge@${subnetB}`,
        `g6.xlarge@${subnetD}`,
      ]);
      assert.deepEqual(
        launchesOf(proxy, amd).map(pairOf),
        [`g4ad.xlarge@${subnetA}`],
        'the lost answer is not followed by a second launch',
      );

      const evidence = readEvidence(result);
      const nvidiaLeg = evidence.legs.find((l) => l.target === 'nvidia-a10g')!;
      assert.deepEqual(
        nvidiaLeg.provisionAttempts!.map((a) => [a.instanceType, a.availabilityZone, a.subnetId, a.result]),
        [
          ['g5.xlarge', `${REGION}a`, subnetA, 'InsufficientInstanceCapacity'],
          ['g5.xlarge', `${REGION}b`, subnetB, 'Unsupported'],
          ['g6.xlarge', `${REGION}a`, subnetA, 'InstanceLimitExceeded'],
          ['g6.xlarge', `${REGION}b`, subnetB, 'InsufficientInstanceCapacity'],
          ['g6.xlarge', `${REGION}d`, subnetD, 'launched'],
        ],
      );
      for (const a of nvidiaLeg.provisionAttempts!)
        assert.ok(!Number.isNaN(Date.parse(a.at)), 'each attempt has its time');
      assert.equal(nvidiaLeg.instance?.availabilityZone, `${REGION}d`);
      assert.equal(nvidiaLeg.instance?.subnetId, subnetD);
      const amdLeg = evidence.legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amdLeg.provisionAttempts!.at(-1)!.result, 'found_by_leg_tag');
      const placement = evidence.preflight!.find((c) => c.name === 'placement')!;
      assert.match(placement.detail, /not offered: g5\.xlarge in us-west-2d/);
      assert.match(readFileSync(result.evidence!.markdown, 'utf8'), /Capacity sweep/);

      // What moto holds: one machine per leg ever, in the pair that launched, with the security group.
      const all = await instancesTagged(TAG.runId, id);
      const [n] = legInstances(all, nvidia);
      assert.equal(legInstances(all, nvidia).length, 1);
      assert.equal(legInstances(all, amd).length, 1);
      assert.equal(n!.SubnetId, subnetD);
      // RunInstances sent the placement as one network interface: the pair's subnet, the security group, no public IP.
      const launched = launchesOf(proxy, nvidia).at(-1)!.params;
      assert.equal(launched.get('NetworkInterface.1.SubnetId'), subnetD);
      assert.equal(
        launched.get('NetworkInterface.1.SecurityGroupId.1'),
        (await sharedStack()).network.securityGroupId,
      );
      assert.equal(launched.get('NetworkInterface.1.AssociatePublicIpAddress'), 'false');
      for (const leg of [nvidia, amd])
        assert.ok((peak.get(leg) ?? 0) <= 1, `${leg} had ${peak.get(leg)} live instances at once`);
      assert.ok((peak.get(nvidia) ?? 0) === 1, 'the watch saw the machines (it can fail)');
    } finally {
      await worker.stop('SIGKILL');
    }
  });

  it('backs off on RequestLimitExceeded and tries the same pair again, never the next one', async () => {
    const env = testEnvironment('sweep-throttle');
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => instanceTypeOf(p) === 'g4ad.xlarge' && subnetOf(p) === subnetA,
      error: 'RequestLimitExceeded',
      times: 3,
    });
    const worker = await proxiedWorker(env, 'worker-sweep-throttle');
    try {
      const id = runWorkflowId(env.name, 'r1');
      const result = await (
        await startRun(env, { candidate: await candidate('sweep-throttle'), ciRunId: 'r1' })
      ).result();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.legs));
      const calls = launchesOf(proxy, legWorkflowId(id, 'amd-v520'));
      assert.deepEqual(
        calls.map(pairOf),
        Array(4).fill(`g4ad.xlarge@${subnetA}`),
        'throttled: the same pair again, never subnet B',
      );
      assert.deepEqual(
        calls.map((c) => c.injected ?? c.status),
        ['RequestLimitExceeded', 'RequestLimitExceeded', 'RequestLimitExceeded', 200],
      );
      // polling.initialInterval 200ms, doubling: the gaps grow.
      const gaps = calls.slice(1).map((c, i) => c.at - calls[i]!.at);
      assert.ok(gaps[0]! >= 180, `first backoff ${gaps[0]}ms`);
      assert.ok(gaps[1]! >= 360 && gaps[2]! >= 720, `backoff doubles: ${gaps.join(', ')}ms`);
      const amdLeg = readEvidence(result).legs.find((l) => l.target === 'amd-v520')!;
      assert.deepEqual(
        amdLeg.provisionAttempts!.map((a) => a.result),
        ['RequestLimitExceeded', 'RequestLimitExceeded', 'RequestLimitExceeded', 'launched'],
      );
    } finally {
      await worker.stop('SIGKILL');
    }
  });

  it('a worker killed with SIGKILL in the middle of a capacity sweep leaves exactly one instance per leg', async () => {
    const env = testEnvironment('sweep-kill');
    // Zone a has no capacity; zone b launches at once but its answer is held, and the worker dies meanwhile.
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => subnetOf(p) === subnetA,
      error: 'InsufficientInstanceCapacity',
      zone: `${REGION}a`,
    });
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => subnetOf(p) === subnetB,
      holdMs: 30_000,
      times: 2,
    });
    const first = await proxiedWorker(env, 'worker-sweep-kill-1');
    let second: ManagedProcess | undefined;
    try {
      const id = runWorkflowId(env.name, 'r1');
      const watch = watchLiveInstancesPerLeg(id);
      const handle = await startRun(env, { candidate: await candidate('sweep-kill'), ciRunId: 'r1' });
      const legs = [legWorkflowId(id, 'nvidia-a10g'), legWorkflowId(id, 'amd-v520')];
      await eventually(
        'both legs to launch in zone b',
        async () =>
          legs.every((leg) => launchesOf(proxy, leg).some((c) => subnetOf(c.params) === subnetB))
            ? true
            : undefined,
        60_000,
      );
      await first.stop('SIGKILL');
      second = await proxiedWorker(env, 'worker-sweep-kill-2');
      const result = await handle.result();
      const peak = await watch.stop();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.legs));
      const all = await instancesTagged(TAG.runId, id);
      for (const leg of legs) {
        const mine = legInstances(all, leg);
        assert.equal(
          mine.length,
          1,
          `${leg}: ${mine.map((i) => `${i.InstanceId} ${i.SubnetId}`).join(', ')}`,
        );
        assert.equal(mine[0]!.SubnetId, subnetB);
        assert.equal(mine[0]!.State?.Name, 'terminated', 'and the leg cleaned it up');
        assert.ok((peak.get(leg) ?? 0) <= 1, `${leg} had ${peak.get(leg)} live instances at once`);
      }
    } finally {
      await first.stop('SIGKILL');
      await second?.stop('SIGKILL');
    }
  });

  it('a retried sweep resumes at the pair in flight: its ClientToken, not a second machine, even when the tag lookup misses the first', async () => {
    const env = testEnvironment('sweep-resume');
    const g5 = (p: URLSearchParams) => instanceTypeOf(p) === 'g5.xlarge';
    // Zone a has no capacity; zone b launches at once, but its answer is held while the worker dies.
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => g5(p) && subnetOf(p) === subnetA,
      error: 'InsufficientInstanceCapacity',
      zone: `${REGION}a`,
    });
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => g5(p) && subnetOf(p) === subnetB,
      holdMs: 60_000,
      times: 1,
    });
    const first = await proxiedWorker(env, 'worker-sweep-resume-1');
    let second: ManagedProcess | undefined;
    try {
      const id = runWorkflowId(env.name, 'r1');
      const leg = legWorkflowId(id, 'nvidia-a10g');
      const handle = await startRun(env, { candidate: await candidate('sweep-resume'), ciRunId: 'r1' });
      const inB = await eventually(
        'the launch in zone b',
        async () => launchesOf(proxy, leg).find((c) => subnetOf(c.params) === subnetB),
        60_000,
      );
      // Heartbeats are throttled to 0.8 x timeouts.heartbeat (8 s): wait until the one naming the pair in flight has gone out.
      await eventually(
        'the heartbeat to go out',
        async () => (Date.now() - inB.at > 9_000 ? true : undefined),
        20_000,
      );
      await first.stop('SIGKILL');
      // Meanwhile zone a has capacity again, and the retry's tag lookup does not see the machine yet.
      proxy.clearRules();
      proxy.addRule({
        action: 'DescribeInstances',
        match: (p) => [...p.values()].includes(leg),
        answer: EMPTY_DESCRIBE_INSTANCES,
        times: 1,
      });
      second = await proxiedWorker(env, 'worker-sweep-resume-2');
      const result = await handle.result();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.legs));
      assert.equal(
        proxy.callsOf('DescribeInstances').filter((c) => c.injected === 'answer').length,
        1,
        "the retry's tag lookup missed the machine",
      );
      const launches = launchesOf(proxy, leg);
      assert.deepEqual(
        launches.map(pairOf),
        [`g5.xlarge@${subnetA}`, `g5.xlarge@${subnetB}`, `g5.xlarge@${subnetB}`],
        'the retry went to the pair in flight, not back to zone a',
      );
      assert.equal(
        launches.at(-1)!.replayedClientToken,
        true,
        'EC2 answered the repeated token with the machine it had launched',
      );
      const mine = legInstances(await instancesTagged(TAG.runId, id), leg);
      assert.equal(mine.length, 1, mine.map((i) => `${i.InstanceId} ${i.SubnetId}`).join(', '));
      assert.equal(mine[0]!.SubnetId, subnetB);
    } finally {
      await first.stop('SIGKILL');
      await second?.stop('SIGKILL');
    }
  });
});

describe('bad placement configuration: refused with its path and its own exit code, nothing launched', function () {
  before(async () => {
    await sharedStack();
  });

  it('a subnet id of the wrong form: exit 3, CONFIG_INVALID at its path', async () => {
    const env = testEnvironment('bad-subnet');
    const file = parse(readFileSync(env.file, 'utf8'));
    file.environments[env.name].network.subnets = ['subnet-XYZ', 'name:sentinel-sandbox-us-west-2b'];
    const broken = path.join(suiteDir, 'bad-subnet-invariants.yaml');
    writeFileSync(broken, stringify(file));
    const run = await sentinel(['run', '--env', env.name, '--digest', await candidate('bad-subnet')], broken);
    assert.equal(run.code, EXIT.CONFIG_INVALID, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `environments\\.${env.name}\\.network\\.subnets\\[0\\]: expected subnet-<8 or 17 lower-case hex>, or name:<the subnet's Name tag>`,
      ),
    );
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    const check = await sentinel(['config', 'check'], broken);
    assert.equal(check.code, EXIT.CONFIG_INVALID);
    assert.equal((await instancesTagged(TAG.environment, env.name)).length, 0);
  });

  it("zones that offer none of a target's types: preflight says so before any launch, exit 17", async () => {
    await zoneDSubnet();
    const env = testEnvironment('no-offering', (e) => {
      e.network.subnets = [`name:${ZONE_D_SUBNET}`];
    });
    const worker = await startWorker(env.invariants);
    try {
      const run = await sentinel(
        ['run', '--env', env.name, '--run-id', 'r1', '--digest', await candidate('no-offering')],
        env.file,
      );
      assert.equal(run.code, EXIT.PLACEMENT_UNAVAILABLE, run.stdout + run.stderr);
      const out = run.stdout + run.stderr;
      assert.match(out, /PLACEMENT_UNAVAILABLE/);
      assert.match(out, /nvidia-a10g: none of g5\.xlarge is offered in us-west-2d/);
      assert.match(out, /amd-v520: none of g4ad\.xlarge is offered in us-west-2d/);
      assert.equal(
        worker.sentinel.aws.callCounts()['EC2.RunInstances'],
        undefined,
        'no launch was attempted',
      );
      assert.equal((await instancesTagged(TAG.runId, runWorkflowId(env.name, 'r1'))).length, 0);
    } finally {
      await worker.stop();
    }
  });

  it('a subnet that does not exist: the run fails in preflight with NETWORK_NOT_FOUND at its path', async () => {
    const env = testEnvironment('no-subnet', (e) => {
      e.network.subnets = ['subnet-0123456789abcdef0'];
    });
    const worker = await startWorker(env.invariants);
    try {
      const run = await sentinel(
        ['run', '--env', env.name, '--run-id', 'r1', '--dry-run', '--digest', await candidate('no-subnet')],
        env.file,
      );
      assert.equal(run.code, EXIT.FAILED, run.stdout + run.stderr);
      assert.match(run.stdout + run.stderr, /NETWORK_NOT_FOUND/);
      assert.match(run.stdout + run.stderr, /network\.subnets\[0\]: subnet-0123456789abcdef0 does not exist/);
      assert.equal(worker.sentinel.aws.callCounts()['EC2.RunInstances'], undefined);
    } finally {
      await worker.stop();
    }
  });
});
