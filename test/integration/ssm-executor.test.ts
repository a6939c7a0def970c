import { strict as assert } from 'node:assert';
import { ListCommandsCommand } from '@aws-sdk/client-ssm';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { hostCheckActivities } from '../../src/activities/host-checks';
import { AwsClients } from '../../src/aws/clients';
import { buildCheckScript, buildSetupScript } from '../../src/checks/scripts';
import type { GpuFacts } from '../../src/domain/run';
import { Executors } from '../../src/executors';
import { SsmExecutor } from '../../src/executors/ssm';
import type { HostRef, WaitContext } from '../../src/executors/types';
import { aws, REGION } from '../support/aws';
import { ssmInvocationProxy, type SsmInvocationProxy } from '../support/ssm-invocation-proxy';
import { sharedStack } from '../support/stack';
import { eventually } from '../support/wait';

/** A wait context outside an activity: real sleeps, heartbeats collected. */
function waitContext(heartbeats: unknown[]): WaitContext {
  return {
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    heartbeat: (d) => heartbeats.push(d),
    signal: new AbortController().signal,
  };
}

describe('SSM Run Command executor against moto', () => {
  before(async () => {
    await sharedStack();
  });

  describe("a retried host check (through a proxy that plays the host's side of Run Command)", () => {
    const GPU_LINE =
      '{"check":"gpu_detect","ok":true,"vendor":"nvidia","model":"NVIDIA A10G","count":1,"driverVersion":"535.104.05","memoryMiB":23028}\n';
    let proxy: SsmInvocationProxy;
    let viaProxy: AwsClients;

    beforeEach(async () => {
      const stack = await sharedStack();
      proxy = await ssmInvocationProxy(stack.moto.endpoint);
      viaProxy = new AwsClients({
        endpoint: proxy.url,
        credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' },
      });
    });
    afterEach(async () => {
      viaProxy.destroy();
      await proxy.close();
    });

    async function gpuHost() {
      const run = await aws.ec2(REGION).send(
        new RunInstancesCommand({
          ImageId: 'ami-0c2b8ca305e393e06',
          InstanceType: 'g5.xlarge',
          MinCount: 1,
          MaxCount: 1,
        }),
      );
      return { instanceId: run.Instances![0]!.InstanceId!, target: 'nvidia-a10g', region: REGION };
    }

    /** One attempt of the detectGpu activity; `heartbeatDetails` is what the previous attempt last heartbeated. */
    function detectGpuAttempt(
      host: HostRef,
      attempt: number,
      heartbeatDetails?: unknown,
    ): { result: Promise<GpuFacts>; lastHeartbeat: () => unknown; cancel: () => void } {
      const env = new MockActivityEnvironment(
        { attempt, ...(heartbeatDetails === undefined ? {} : { heartbeatDetails }) },
        { logger: new DefaultLogger('ERROR', () => undefined) },
      );
      let last: unknown;
      env.on('heartbeat', (d: unknown) => (last = d));
      const activities = hostCheckActivities({ executors: new Executors(viaProxy) });
      const request = {
        host,
        executor: { kind: 'ssm' as const },
        timeoutMs: 60_000,
        polling: { initialMs: 20, maxMs: 100 },
        target: {
          name: 'nvidia-a10g',
          gpu: { vendor: 'nvidia' as const, minCount: 1, modelPattern: 'A10G' },
        },
      };
      return {
        result: env.run(activities.detectGpu, request),
        lastHeartbeat: () => last,
        cancel: () => env.cancel(),
      };
    }

    it('follows the command an earlier attempt started while it still runs, instead of sending it again', async () => {
      const host = await gpuHost();
      proxy.plan({ Status: 'InProgress' });
      const first = detectGpuAttempt(host, 1);
      try {
        // Its heartbeat must name the command (other heartbeats carry no command id).
        await eventually(
          'the first attempt to start its command and heartbeat its id',
          async () =>
            proxy.sent.length === 1 &&
            (first.lastHeartbeat() as { commandId?: string } | undefined)?.commandId === proxy.sent[0]
              ? true
              : undefined,
          30_000,
        );
        // The first attempt's worker is gone (its poll loop is abandoned here); the retry picks up the same command.
        const heartbeated = first.lastHeartbeat() as { commandId: string };
        const second = detectGpuAttempt(host, 2, { commandId: heartbeated.commandId });
        // The retry heartbeats from its poll loop only once it has decided to follow the command. The command must still
        // run then: finished before the retry looked at it, it is sent anew by design (the next test).
        await eventually(
          'the retry to poll the running command',
          async () =>
            (second.lastHeartbeat() as { commandId?: string } | undefined)?.commandId ===
            heartbeated.commandId
              ? true
              : undefined,
          30_000,
        );
        proxy.set(proxy.sent[0]!, { Status: 'Success', ResponseCode: 0, StandardOutputContent: GPU_LINE });
        const facts = await second.result;
        assert.equal(facts.count, 1);
        assert.deepEqual(proxy.sent, [heartbeated.commandId], 'no second SendCommand');
      } finally {
        // The abandoned attempt ends with this test, not in the middle of the next one.
        first.cancel();
        await first.result.catch(() => undefined);
      }
    });

    it('sends a new command when the one the previous attempt heartbeated has already finished (HOST_COMMAND_FAILED is really retried)', async () => {
      const host = await gpuHost();
      proxy.plan(
        {
          Status: 'Failed',
          ResponseCode: 1,
          StandardErrorContent: 'nvidia-smi: transient failure talking to the driver',
        },
        { Status: 'Success', ResponseCode: 0, StandardOutputContent: GPU_LINE },
      );
      const first = detectGpuAttempt(host, 1);
      await assert.rejects(
        first.result,
        (err: unknown) => err instanceof ApplicationFailure && err.type === 'HOST_COMMAND_FAILED',
      );
      const heartbeated = first.lastHeartbeat() as { commandId: string };
      assert.equal(heartbeated.commandId, proxy.sent[0]);

      const second = detectGpuAttempt(host, 2, heartbeated);
      const facts = await second.result;
      assert.equal(proxy.sent.length, 2, 'the retry sent a command of its own');
      assert.notEqual(proxy.sent[1], proxy.sent[0]);
      assert.equal(facts.model, 'NVIDIA A10G');
    });
  });

  describe('a check plan script', () => {
    it("sends the check plan's exact script with AWS-RunShellScript and follows the invocation to its end", async () => {
      const run = await aws.ec2(REGION).send(
        new RunInstancesCommand({
          ImageId: 'ami-0c2b8ca305e393e06',
          InstanceType: 'g5.xlarge',
          MinCount: 1,
          MaxCount: 1,
        }),
      );
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
  });
  describe('setup scripts', () => {
    it('sends a setup script the same way: its exact bytes, named after the script, with the host setup budget', async () => {
      const run = await aws.ec2(REGION).send(
        new RunInstancesCommand({
          ImageId: 'ami-0875d33dff2aae0d5',
          InstanceType: 'g4ad.xlarge',
          MinCount: 1,
          MaxCount: 1,
        }),
      );
      const instanceId = run.Instances![0]!.InstanceId!;
      const script = buildSetupScript('amdgpu-driver');
      const result = await new SsmExecutor(aws).runScript(
        { instanceId, target: 'amd-v520', region: REGION },
        script,
        {
          name: 'setup-amdgpu-driver',
          timeoutMs: 30 * 60_000,
          wait: waitContext([]),
          polling: { initialMs: 50, maxMs: 200 },
        },
      );
      const command = (await aws.ssm(REGION).send(new ListCommandsCommand({ CommandId: result.commandId })))
        .Commands![0]!;
      assert.equal(command.DocumentName, 'AWS-RunShellScript');
      assert.deepEqual(command.Parameters?.commands, [script]);
      assert.deepEqual(command.Parameters?.executionTimeout, ['1800']);
      assert.equal(command.Comment, 'sentinel setup-amdgpu-driver');
      assert.match(script, /^export RADIX_SETUP_SCRIPT='amdgpu-driver'$/m);
      assert.match(script, /amdgpu-install -y --usecase=dkms/);
    });
  });
});
