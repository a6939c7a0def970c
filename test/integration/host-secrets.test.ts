import { strict as assert } from 'node:assert';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DeleteParameterCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  ListCommandsCommand,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { controlPlaneActivities } from '../../src/activities/control-plane';
import { AwsClients } from '../../src/aws/clients';
import { ControlPlanes } from '../../src/control-plane/clients';
import { Executors } from '../../src/executors';
import { HOST_SECRETS_PATH } from '../../src/executors/secrets';
import { SsmExecutor } from '../../src/executors/ssm';
import { aws, candidate, REGION, unknownCandidate } from '../support/aws';
import { testEnvironment } from '../support/invariants';
import { startRun } from '../support/runs';
import { ssmInvocationProxy } from '../support/ssm-invocation-proxy';
import { sharedStack, suiteDir } from '../support/stack';
import { eventually } from '../support/wait';
import { startWorker } from '../support/worker';

/** What an onboarding token, an agent token or a JWT (a candidate grant) looks like, and a grant in a URL. */
const SECRET_SHAPES = [/\br[oa]t_[A-Za-z0-9_-]{16,}/, /eyJ[A-Za-z0-9_-]{10,}\.eyJ/, /[?&]grant=/];

function assertNoSecret(text: string, where: string): void {
  for (const shape of SECRET_SHAPES) {
    const found = shape.exec(text);
    assert.equal(
      found,
      null,
      `${where} shows a secret (${shape}): …${found ? text.slice(Math.max(0, found.index - 80), found.index + 60) : ''}…`,
    );
  }
}

describe('secrets on their way to the host stay out of command history and process arguments', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('through SSM Run Command: neither ListCommands nor GetCommandInvocation shows the token or the grant; the SecureString is gone once the command ends', async () => {
    const stack = await sharedStack();
    const proxy = await ssmInvocationProxy(stack.moto.endpoint);
    const viaProxy = new AwsClients({
      endpoint: proxy.url,
      credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' },
    });
    const controlPlanes = new ControlPlanes();
    try {
      const run = await aws.ec2(REGION).send(
        new RunInstancesCommand({
          ImageId: 'ami-0c2b8ca305e393e06',
          InstanceType: 'g5.xlarge',
          MinCount: 1,
          MaxCount: 1,
        }),
      );
      const instanceId = run.Instances![0]!.InstanceId!;
      // The host is busy installing until the test has looked at everything SSM keeps.
      proxy.plan({ Status: 'InProgress' });
      const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR', () => undefined) });
      const activities = controlPlaneActivities({ controlPlanes, executors: new Executors(viaProxy) });
      const install = env.run(activities.installAgent, {
        host: { instanceId, target: 'nvidia-a10g', region: REGION },
        executor: { kind: 'ssm' as const },
        timeoutMs: 120_000,
        polling: { initialMs: 20, maxMs: 100 },
        controlPlane: {
          baseUrl: stack.controlPlane.url,
          cognito: {
            region: stack.serviceUser.region,
            userPoolId: stack.serviceUser.userPoolId,
            clientId: stack.serviceUser.clientId,
            refreshBefore: 60_000,
          },
        },
        clusterName: `host-secrets-ssm-${Date.now()}`,
        candidate: unknownCandidate('host-secrets-ssm'),
        labels: {},
      });
      const finished = install.then(
        () => 'done',
        (err: Error) => `failed: ${err.message}`,
      );
      await eventually(
        'the install command to be sent',
        async () => (proxy.sent.length === 1 ? true : undefined),
        30_000,
      );
      const commandId = proxy.sent[0]!;

      const listed = await aws.ssm(REGION).send(new ListCommandsCommand({ CommandId: commandId }));
      assert.equal(listed.Commands?.length, 1);
      assertNoSecret(JSON.stringify(listed.Commands), 'ssm:ListCommands');
      const invocation = await aws
        .ssm(REGION)
        .send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
      assertNoSecret(JSON.stringify(invocation), 'ssm:GetCommandInvocation (moto)');
      const command = listed.Commands[0]!.Parameters!.commands![0]!;
      const parameterName = /RADIX_SECRETS_PARAMETER='([^']+)'/.exec(command)?.[1];
      assert.equal(
        parameterName,
        `${HOST_SECRETS_PATH}/${instanceId}/install-agent`,
        'the command names where the host finds its secrets',
      );

      // While the command runs, the secrets wait in their own SecureString, encrypted at rest.
      const stored = (
        await aws.ssm(REGION).send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }))
      ).Parameter!;
      assert.equal(stored.Type, 'SecureString');
      const token = /RADIX_ONBOARDING_TOKEN='([^']+)'/.exec(stored.Value!)?.[1];
      const grant = /grant=([^&']+)/.exec(stored.Value!)?.[1];
      assert.ok(
        token && grant,
        `the token and the grant are in the parameter: ${stored.Value?.replace(/rot_\S+/, 'rot_…')}`,
      );
      for (const request of proxy.requests.filter((r) => r.operation !== 'PutParameter')) {
        assert.ok(
          !request.body.includes(token) && !request.body.includes(decodeURIComponent(grant)),
          `${request.operation} carried a secret`,
        );
      }

      proxy.set(commandId, {
        Status: 'Failed',
        ResponseCode: 1,
        StandardErrorContent: 'installer interrupted',
      });
      assert.match(await finished, /failed: install-agent exited 1/);
      await assert.rejects(
        aws.ssm(REGION).send(new GetParameterCommand({ Name: parameterName })),
        { name: 'ParameterNotFound' },
        'deleted once the command ended',
      );
    } finally {
      controlPlanes.destroy();
      viaProxy.destroy();
      await proxy.close();
    }
  });

  it('through SSM Run Command: cleaning up a host deletes any secret a command never got to', async () => {
    const run = await aws.ec2(REGION).send(
      new RunInstancesCommand({
        ImageId: 'ami-0c2b8ca305e393e06',
        InstanceType: 'g5.xlarge',
        MinCount: 1,
        MaxCount: 1,
      }),
    );
    const host = { instanceId: run.Instances![0]!.InstanceId!, target: 'nvidia-a10g', region: REGION };
    // As left by a worker that died between storing the secrets and sending the command.
    const left = `${HOST_SECRETS_PATH}/${host.instanceId}/install-agent`;
    await aws.ssm(REGION).send(
      new PutParameterCommand({
        Name: left,
        Type: 'SecureString',
        Value: "RADIX_ONBOARDING_TOKEN='rot_left-behind-by-a-dead-worker'",
      }),
    );
    const other = `${HOST_SECRETS_PATH}/i-00000000000000000/install-agent`;
    await aws.ssm(REGION).send(
      new PutParameterCommand({
        Name: other,
        Type: 'SecureString',
        Value: "RADIX_ONBOARDING_TOKEN='rot_another-hosts-secret-stays'",
        Overwrite: true,
      }),
    );
    await new SsmExecutor(aws).release(host);
    await assert.rejects(aws.ssm(REGION).send(new GetParameterCommand({ Name: left })), {
      name: 'ParameterNotFound',
    });
    assert.ok(
      (await aws.ssm(REGION).send(new GetParameterCommand({ Name: other }))).Parameter,
      "another host's secret is not touched",
    );
    await new SsmExecutor(aws).release(host); // idempotent
    await aws.ssm(REGION).send(new DeleteParameterCommand({ Name: other }));
  });

  it('on the host: no process shows the token or the grant in its arguments during a whole leg (sampled from /proc/*/cmdline)', async () => {
    const env = testEnvironment('host-secrets-ps');
    // Each simulated host's curl is the real one, started two seconds later, so that every call lives long enough to be sampled.
    const realCurl = execFileSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim();
    for (const host of ['nvidia-a10g', 'amd-v520']) {
      const wrapper = path.join(env.hostsDir, host, 'bin', 'curl');
      writeFileSync(
        wrapper,
        `#!/bin/sh\n# A slow curl for the argument sampler: the real one, two seconds later.\nsleep 2\nexec ${realCurl} "$@"\n`,
      );
      chmodSync(wrapper, 0o755);
    }
    const hostsWork = path.join(suiteDir, 'hosts-work');
    const samples = new Map<string, string>(); // cmdline -> pid
    let sampling = true;
    let sweeps = 0;
    const sampler = (async () => {
      while (sampling) {
        const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
        await Promise.all(
          pids.map(async (pid) => {
            try {
              // Only this suite's simulated hosts (other processes on the machine are none of this test's business).
              if (!(await readlink(`/proc/${pid}/cwd`)).startsWith(hostsWork)) return;
              const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
              if (cmdline) samples.set(cmdline, pid);
            } catch {
              // gone meanwhile
            }
          }),
        );
        sweeps += 1;
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const worker = await startWorker(env.invariants);
    try {
      const result = await (await startRun(env, { candidate: await candidate('host-secrets-ps') })).result();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.legs.map((l) => l.failure)));
    } finally {
      sampling = false;
      await sampler;
      await worker.stop();
    }
    const lines = [...samples.keys()];
    assert.ok(sweeps > 20, `the sampler swept /proc ${sweeps} times`);
    assert.ok(
      lines.some((l) => /curl .*install\.sh/.test(l)),
      `the sampler saw the installer download:\n${lines.join('\n')}`,
    );
    assert.ok(
      lines.some((l) => /radix-agent-sim/.test(l)),
      'the sampler saw the agent',
    );
    for (const line of lines) assertNoSecret(line, `a host process's arguments (${line.slice(0, 60)})`);
  });
});
