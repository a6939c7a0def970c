import { strict as assert } from 'node:assert';
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { randomUUID } from 'node:crypto';
import { REGION } from '../support/aws';
import { startEc2FaultProxy, subnetOf, type Ec2FaultProxy } from '../support/ec2-fault-proxy';
import { sharedStack } from '../support/stack';

// The fault proxy is test equipment that other tests lean on: it must answer as EC2 does.
describe('the EC2 fault proxy in front of moto', function () {
  let proxy: Ec2FaultProxy;
  let ec2: EC2Client;
  let subnetId: string;
  const launch = (token: string, subnet?: string) =>
    ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0c2b8ca305e393e06',
        InstanceType: 'g5.xlarge',
        MinCount: 1,
        MaxCount: 1,
        ClientToken: token,
        ...(subnet ? { SubnetId: subnet } : {}),
      }),
    );

  before(async function () {
    const stack = await sharedStack();
    proxy = await startEc2FaultProxy({ upstream: stack.moto.endpoint });
    // One attempt per call, so the test sees each answer as the proxy gave it.
    ec2 = new EC2Client({ region: REGION, endpoint: proxy.url, maxAttempts: 1 });
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }));
    const subnet = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc!.VpcId!,
        CidrBlock: '10.42.1.0/24',
        AvailabilityZone: `${REGION}a`,
      }),
    );
    subnetId = subnet.Subnet!.SubnetId!;
  });
  after(async () => {
    ec2?.destroy();
    await proxy?.stop();
  });
  afterEach(() => proxy.clearRules());

  it('answers a chosen launch with InsufficientInstanceCapacity, as EC2 words it, and passes the rest through', async function () {
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => subnetOf(p) === subnetId,
      error: 'InsufficientInstanceCapacity',
      zone: `${REGION}a`,
    });
    await assert.rejects(
      launch(randomUUID(), subnetId),
      (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(err.name, 'InsufficientInstanceCapacity');
        assert.match(
          err.message,
          /We currently do not have sufficient g5\.xlarge capacity in the Availability Zone you requested \(us-west-2a\)/,
        );
        assert.equal(err.$metadata?.httpStatusCode, 500);
        return true;
      },
    );
    const passed = await launch(randomUUID());
    assert.ok(passed.Instances?.[0]?.InstanceId, 'a launch the rule does not match reaches moto');
    const runs = proxy.callsOf('RunInstances');
    assert.deepEqual(
      runs.slice(-2).map((c) => c.injected ?? c.status),
      ['InsufficientInstanceCapacity', 200],
    );
  });

  it('throttles with RequestLimitExceeded (HTTP 503) only as many times as asked', async function () {
    proxy.addRule({ action: 'RunInstances', error: 'RequestLimitExceeded', times: 1 });
    await assert.rejects(launch(randomUUID()), { name: 'RequestLimitExceeded' });
    const second = await launch(randomUUID());
    assert.ok(second.Instances?.[0]?.InstanceId);
  });

  it('answers a repeated ClientToken with the original launch, even after that instance was terminated', async function () {
    const token = randomUUID();
    const first = (await launch(token)).Instances![0]!.InstanceId!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [first] }));
    const again = await launch(token);
    assert.equal(again.Instances![0]!.InstanceId, first, 'EC2 returns the original instance, not a new one');
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [first] }));
    assert.equal(described.Reservations![0]!.Instances![0]!.State!.Name, 'terminated');
    assert.equal(proxy.callsOf('RunInstances').at(-1)!.replayedClientToken, true);
    await assert.rejects(launch(token, subnetId), { name: 'IdempotentParameterMismatch' });
  });

  it('holds an answer after the launch happened, so a caller can give up while the machine exists', async function () {
    proxy.addRule({ action: 'RunInstances', holdMs: 1_500, times: 1 });
    const token = randomUUID();
    const started = Date.now();
    const out = await launch(token);
    assert.ok(Date.now() - started >= 1_400, 'the answer was held');
    const call = proxy.callsOf('RunInstances').at(-1)!;
    assert.ok(out.Instances?.[0]?.InstanceId);
    assert.equal(call.params.get('ClientToken'), token);
  });

  it('answers a chosen TerminateInstances with InvalidInstanceID.NotFound, as EC2 does for an instance it does not show yet', async function () {
    const id = (await launch(randomUUID())).Instances![0]!.InstanceId!;
    proxy.addRule({ action: 'TerminateInstances', error: 'InvalidInstanceID.NotFound', times: 1 });
    await assert.rejects(ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })), (err: Error) => {
      assert.equal(err.name, 'InvalidInstanceID.NotFound');
      assert.equal(err.message, `The instance ID '${id}' does not exist`);
      return true;
    });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    assert.equal(described.Reservations![0]!.Instances![0]!.State!.Name, 'terminated');
  });
});
