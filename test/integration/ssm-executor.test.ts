import { strict as assert } from 'node:assert';
import { ListCommandsCommand } from '@aws-sdk/client-ssm';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { buildCheckScript, buildSetupScript } from '../../src/checks/scripts';
import { SsmExecutor } from '../../src/executors/ssm';
import type { WaitContext } from '../../src/executors/types';
import { aws, REGION } from '../support/aws';
import { sharedStack } from '../support/stack';

/** A wait context outside an activity: real sleeps, heartbeats collected. */
function waitContext(heartbeats: unknown[]): WaitContext {
  return { sleep: (ms) => new Promise((r) => setTimeout(r, ms)), heartbeat: (d) => heartbeats.push(d), signal: new AbortController().signal };
}

describe('SSM Run Command executor against moto', () => {
  before(async () => {
    await sharedStack();
  });

  it('sends the check plan\'s exact script with AWS-RunShellScript and follows the invocation to its end', async () => {
    const run = await aws.ec2(REGION).send(new RunInstancesCommand({ ImageId: 'ami-0c2b8ca305e393e06', InstanceType: 'g5.xlarge', MinCount: 1, MaxCount: 1 }));
    const instanceId = run.Instances![0]!.InstanceId!;
    const executor = new SsmExecutor(aws);
    const script = buildCheckScript('container-runtime', { RADIX_GPU_VENDOR: 'nvidia' });
    const heartbeats: unknown[] = [];
    let started: string | undefined;
    const result = await executor.runScript({ instanceId, target: 'nvidia-a10g', region: REGION }, script, {
      name: 'container-runtime',
      timeoutMs: 120_000,
      wait: waitContext(heartbeats),
      polling: { initialMs: 50, maxMs: 200 },
      onStarted: (id) => (started = id),
    });
    assert.equal(result.status, 'success');
    assert.equal(result.commandId, started);
    assert.ok(heartbeats.length >= 1, 'the poll loop heartbeats');

    const listed = await aws.ssm(REGION).send(new ListCommandsCommand({ CommandId: result.commandId }));
    const command = listed.Commands![0]!;
    assert.equal(command.DocumentName, 'AWS-RunShellScript');
    // Sent to this instance (moto also lists every other instance of the account in InstanceIds when a command has no Targets).
    assert.ok(command.InstanceIds?.includes(instanceId));
    assert.deepEqual(command.Parameters?.commands, [script], 'the same bytes the local executor runs');
    assert.deepEqual(command.Parameters?.executionTimeout, ['120']);
    assert.equal(command.Comment, 'sentinel container-runtime');
  });

  it('sends a setup script the same way: its exact bytes, named after the script, with the host setup budget', async () => {
    const run = await aws.ec2(REGION).send(new RunInstancesCommand({ ImageId: 'ami-0875d33dff2aae0d5', InstanceType: 'g4ad.xlarge', MinCount: 1, MaxCount: 1 }));
    const instanceId = run.Instances![0]!.InstanceId!;
    const script = buildSetupScript('amdgpu-driver');
    const result = await new SsmExecutor(aws).runScript({ instanceId, target: 'amd-v520', region: REGION }, script, {
      name: 'setup-amdgpu-driver',
      timeoutMs: 30 * 60_000,
      wait: waitContext([]),
      polling: { initialMs: 50, maxMs: 200 },
    });
    const command = (await aws.ssm(REGION).send(new ListCommandsCommand({ CommandId: result.commandId }))).Commands![0]!;
    assert.equal(command.DocumentName, 'AWS-RunShellScript');
    assert.deepEqual(command.Parameters?.commands, [script]);
    assert.deepEqual(command.Parameters?.executionTimeout, ['1800']);
    assert.equal(command.Comment, 'sentinel setup-amdgpu-driver');
    assert.match(script, /^export RADIX_SETUP_SCRIPT='amdgpu-driver'$/m);
    assert.match(script, /amdgpu-install -y --usecase=dkms/);
  });

  it('follows a command an earlier attempt started instead of sending it again', async () => {
    const run = await aws.ec2(REGION).send(new RunInstancesCommand({ ImageId: 'ami-0c2b8ca305e393e06', InstanceType: 'g5.xlarge', MinCount: 1, MaxCount: 1 }));
    const host = { instanceId: run.Instances![0]!.InstanceId!, target: 'nvidia-a10g', region: REGION };
    const executor = new SsmExecutor(aws);
    const options = { name: 'gpu-detect', timeoutMs: 60_000, wait: waitContext([]), polling: { initialMs: 50, maxMs: 200 } };
    const first = await executor.runScript(host, buildCheckScript('gpu-detect'), options);
    const before = aws.callCounts()['SSM.SendCommand'] ?? 0;
    const resumed = await executor.runScript(host, buildCheckScript('gpu-detect'), { ...options, resumeCommandId: first.commandId });
    assert.equal(resumed.commandId, first.commandId);
    assert.equal(aws.callCounts()['SSM.SendCommand'] ?? 0, before, 'no second SendCommand');
  });
});
