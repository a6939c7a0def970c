/**
 * Production executor: SSM Run Command (`AWS-RunShellScript`) on the instance.
 *
 * A check's secrets never go into the command: SSM keeps every command's
 * parameters in its history, readable with ssm:ListCommands for 30 days. They
 * go into a SecureString parameter of their own (KMS-encrypted, one per host
 * and check, src/executors/secrets.ts), which the host reads with its
 * instance role (AmazonSSMManagedInstanceCore allows ssm:GetParameter) and
 * which is deleted as soon as the command has ended, and at the host's
 * cleanup. The command carries only the parameter's name.
 */
import {
  CancelCommandCommand,
  DeleteParameterCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParametersByPathCommand,
  PutParameterCommand,
  SendCommandCommand,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import type { AwsClients } from '../aws/clients';
import { awsErrorName } from '../aws/errors';
import { HOST_SECRETS_PATH, hostSecretsParameter, secretAssignments, withSecretSource } from './secrets';
import {
  pollWithBackoff,
  type HostExecutor,
  type HostRef,
  type Readiness,
  type RunScriptOptions,
  type ScriptResult,
} from './types';

const TERMINAL = new Set([
  'Success',
  'Failed',
  'Cancelled',
  'TimedOut',
  'Undeliverable',
  'Terminated',
  'InvalidPlatform',
  'AccessDenied',
  'DeliveryTimedOut',
  'ExecutionTimedOut',
]);

export class SsmExecutor implements HostExecutor {
  readonly kind = 'ssm' as const;

  constructor(private readonly aws: AwsClients) {}

  async probeReady(host: HostRef): Promise<Readiness> {
    const out = await this.aws.ssm(host.region).send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'InstanceIds', Values: [host.instanceId] }],
      }),
    );
    const info = out.InstanceInformationList?.[0];
    if (!info) return { ready: false, detail: 'instance not yet registered with SSM' };
    if (info.PingStatus !== 'Online')
      return { ready: false, detail: `SSM ping status ${info.PingStatus ?? 'unknown'}` };
    return { ready: true, detail: `SSM agent ${info.AgentVersion ?? ''} online`.trim() };
  }

  async runScript(host: HostRef, script: string, options: RunScriptOptions): Promise<ScriptResult> {
    const ssm = this.aws.ssm(host.region);
    const started = Date.now();
    // An earlier attempt's command is followed only while it still runs: once it has ended, this
    // attempt is a retry of its result (a failed check, an unreachable installer) and runs anew.
    let commandId = options.resumeCommandId;
    if (commandId && (await this.hasEnded(host, commandId))) commandId = undefined;
    const secretsParameter = options.secrets
      ? hostSecretsParameter(host.instanceId, options.name)
      : undefined;
    if (!commandId) {
      const executionSeconds = Math.max(30, Math.ceil(options.timeoutMs / 1000));
      let command = script;
      if (secretsParameter) {
        await ssm.send(
          new PutParameterCommand({
            Name: secretsParameter,
            Type: 'SecureString',
            Value: secretAssignments(options.secrets!),
            Overwrite: true,
            Description: `sentinel ${options.name} secrets for ${host.instanceId}; deleted once its command has ended`,
          }),
        );
        command = withSecretSource(script, {
          RADIX_SECRETS_PARAMETER: secretsParameter,
          RADIX_SECRETS_REGION: host.region,
        });
      }
      const sent = await ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: [host.instanceId],
          Comment: `sentinel ${options.name}`.slice(0, 100),
          TimeoutSeconds: 600,
          Parameters: { commands: [command], executionTimeout: [String(executionSeconds)] },
        }),
      );
      commandId = sent.Command?.CommandId;
      if (!commandId) throw new Error('SSM SendCommand returned no command id');
      options.onStarted?.(commandId);
    }
    const id = commandId;
    const onAbort = () => {
      void ssm
        .send(new CancelCommandCommand({ CommandId: id, InstanceIds: [host.instanceId] }))
        .catch(() => undefined);
      if (secretsParameter) void this.deleteSecrets(host, secretsParameter).catch(() => undefined);
    };
    options.wait.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const invocation = await pollWithBackoff(options.wait, options.polling, async (attempt) => {
        options.wait.heartbeat({ commandId: id, attempt });
        let out: GetCommandInvocationCommandOutput;
        try {
          out = await ssm.send(
            new GetCommandInvocationCommand({ CommandId: id, InstanceId: host.instanceId }),
          );
        } catch (err) {
          // Right after SendCommand the invocation may not exist yet.
          if (awsErrorName(err) === 'InvocationDoesNotExist') return undefined;
          throw err;
        }
        return out.Status && TERMINAL.has(out.Status) ? out : undefined;
      });
      // The command has ended: its secrets have been read, or never will be.
      if (secretsParameter) await this.deleteSecrets(host, secretsParameter);
      const status =
        invocation.Status === 'Success'
          ? 'success'
          : /TimedOut/.test(invocation.Status ?? '')
            ? 'timed_out'
            : 'failed';
      return {
        status,
        exitCode: invocation.ResponseCode ?? null,
        stdout: invocation.StandardOutputContent ?? '',
        stderr: invocation.StandardErrorContent || invocation.StatusDetails || '',
        durationMs: Date.now() - started,
        commandId: id,
      };
    } finally {
      options.wait.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Has the command reached a terminal status on the host? (Not yet visible counts as still running.) */
  private async hasEnded(host: HostRef, commandId: string): Promise<boolean> {
    try {
      const out = await this.aws
        .ssm(host.region)
        .send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: host.instanceId }));
      return out.Status !== undefined && TERMINAL.has(out.Status);
    } catch (err) {
      if (awsErrorName(err) === 'InvocationDoesNotExist') return false;
      throw err;
    }
  }

  private async deleteSecrets(host: HostRef, name: string): Promise<void> {
    try {
      await this.aws.ssm(host.region).send(new DeleteParameterCommand({ Name: name }));
    } catch (err) {
      if (awsErrorName(err) !== 'ParameterNotFound') throw err;
    }
  }

  /** Terminating the instance ends every command on it; what is left is any secret a command never got to. */
  async release(host: HostRef): Promise<void> {
    const ssm = this.aws.ssm(host.region);
    let next: string | undefined;
    do {
      const page = await ssm.send(
        new GetParametersByPathCommand({
          Path: `${HOST_SECRETS_PATH}/${host.instanceId}`,
          Recursive: true,
          NextToken: next,
        }),
      );
      for (const parameter of page.Parameters ?? [])
        if (parameter.Name) await this.deleteSecrets(host, parameter.Name);
      next = page.NextToken;
    } while (next);
  }
}
