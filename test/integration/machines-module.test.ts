/**
 * The machines module (src/machines/) against moto behind the EC2 fault
 * proxy: listing by tag over several DescribeInstances pages with the SDK's
 * paginator, and termination that tolerates instances already gone.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { TerminationFailed } from '../../src/machines/errors';
import { describeInstance, findEnvironmentMachines, findLegMachines } from '../../src/machines/find';
import { legMachineTags } from '../../src/machines/tags';
import { terminateInstances, terminateLegMachines } from '../../src/machines/terminate';
import { REGION } from '../support/aws';
import { startEc2FaultProxy, type Ec2FaultProxy } from '../support/ec2-fault-proxy';
import { sharedStack } from '../support/stack';

const noWait = {
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  heartbeat: () => undefined,
  signal: new AbortController().signal,
};

describe('machines module: find by tag over pages, terminate what is there', function () {
  this.timeout(120_000);
  let proxy: Ec2FaultProxy;
  let ec2: EC2Client;

  /** One machine (one reservation, as Sentinel launches them) tagged as a leg of `environment`. */
  async function launchTagged(environment: string, leg: string): Promise<string> {
    const tags = legMachineTags({
      environment,
      runWorkflowId: `sentinel-run-${environment}-1`,
      legWorkflowId: leg,
      target: 'nvidia-a10g',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const out = await ec2.send(
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

  before(async function () {
    const stack = await sharedStack();
    proxy = await startEc2FaultProxy({ upstream: stack.moto.endpoint });
    ec2 = new EC2Client({ region: REGION, endpoint: proxy.url, maxAttempts: 1 });
  });
  after(async () => {
    ec2?.destroy();
    await proxy?.stop();
  });
  afterEach(() => proxy.clearRules());

  it("lists an environment's machines over several DescribeInstances pages, following NextToken until EC2 stops giving one", async () => {
    const environment = `machines-${randomUUID().slice(0, 8)}`;
    const launched = await Promise.all(
      Array.from({ length: 12 }, (_, i) => launchTagged(environment, `leg-${environment}-${i}`)),
    );
    const before = proxy.callsOf('DescribeInstances').length;
    const pages: number[] = [];
    const found = await findEnvironmentMachines(ec2, environment, {
      pageSize: 5,
      onPage: (page) => pages.push(page),
    });

    assert.deepEqual(found.map((i) => i.instanceId).sort(), [...launched].sort(), 'every machine, each once');
    assert.ok(found.every((i) => i.state === 'running' || i.state === 'pending'));
    assert.ok(
      found.every(
        (i) => i.runId === `sentinel-run-${environment}-1` && i.target === 'nvidia-a10g' && i.expiresAt,
      ),
      'tags read back',
    );
    const calls = proxy.callsOf('DescribeInstances').slice(before);
    assert.deepEqual(pages, [1, 2, 3], 'three pages of at most 5');
    assert.equal(calls.length, 3);
    assert.ok(
      calls.every((c) => c.params.get('MaxResults') === '5'),
      'the page size is sent with every call',
    );
    assert.equal(calls[0]!.params.get('NextToken'), null, 'the first call has no token');
    assert.ok(
      calls[1]!.params.get('NextToken') && calls[2]!.params.get('NextToken'),
      'later calls carry the token of the page before',
    );
  });

  it('terminates a batch where one instance is already unknown to EC2: the others one by one, the unknown one not reported', async () => {
    const environment = `machines-${randomUUID().slice(0, 8)}`;
    const ids = await Promise.all(
      Array.from({ length: 3 }, (_, i) => launchTagged(environment, `leg-${environment}-${i}`)),
    );
    const unknown = 'i-0123456789abcdef0';
    proxy.addRule({
      action: 'TerminateInstances',
      match: (p) => [...p.values()].includes(unknown),
      error: 'InvalidInstanceID.NotFound',
    });
    const terminated = await terminateInstances(ec2, [...ids, unknown]);
    assert.deepEqual([...terminated].sort(), [...ids].sort());
    for (const id of ids)
      assert.match((await describeInstance(ec2, id))?.State?.Name ?? '', /shutting-down|terminated/);
    assert.deepEqual(
      await findEnvironmentMachines(ec2, environment),
      [],
      'nothing of the environment is live',
    );
  });

  it('counts an instance terminated behind its back as terminated, and fails with a domain error when EC2 refuses for another reason', async () => {
    const environment = `machines-${randomUUID().slice(0, 8)}`;
    const leg = `leg-${environment}`;
    const id = await launchTagged(environment, leg);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    assert.deepEqual(await findLegMachines(ec2, leg), [], 'a terminated machine is not live');
    assert.deepEqual(
      await terminateLegMachines(
        ec2,
        { legWorkflowId: leg, knownInstanceIds: [id], launchUncertain: false },
        noWait,
      ),
      [id],
    );

    const live = await launchTagged(environment, `${leg}-2`);
    proxy.addRule({ action: 'TerminateInstances', error: 'RequestLimitExceeded' });
    await assert.rejects(terminateInstances(ec2, [live]), (err: unknown) => {
      assert.ok(err instanceof TerminationFailed);
      assert.deepEqual(err.instanceIds, [live]);
      assert.equal(err.credentialsRefused, false);
      return true;
    });
    proxy.clearRules();
    assert.deepEqual(await terminateInstances(ec2, [live]), [live]);
  });
});
