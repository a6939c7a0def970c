/**
 * Production executor: SSM Run Command (`AWS-RunShellScript`) on the instance.
 */
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import type { AwsClients } from '../aws/clients';
import { awsErrorName } from '../aws/errors';
import { pollWithBackoff, type HostExecutor, type HostRef, type Readiness, type RunScriptOptions, type ScriptResult } from './types';

const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut', 'Undeliverable', 'Terminated', 'InvalidPlatform', 'AccessDenied', 'DeliveryTimedOut', 'ExecutionTimedOut']);

export class SsmExecutor implements HostExecutor {
  readonly kind = 'ssm' as const;

  constructor(private readonly aws: AwsClients) {}

  async probeReady(host: HostRef): Promise<Readiness> {
    const out = await this.aws.ssm(host.region).send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [host.instanceId] }] }),
    );
    const info = out.InstanceInformationList?.[0];
    if (!info) return { ready: false, detail: 'instance not yet registered with SSM' };
    if (info.PingStatus !== 'Online') return { ready: false, detail: `SSM ping status ${info.PingStatus ?? 'unknown'}` };
    return { ready: true, detail: `SSM agent ${info.AgentVersion ?? ''} online`.trim() };
  }

  async runScript(host: HostRef, script: string, options: RunScriptOptions): Promise<ScriptResult> {
    const ssm = this.aws.ssm(host.region);
    const started = Date.now();
    // An earlier attempt's command is followed only while it still runs: once it has ended, this
    // attempt is a retry of its result (a failed check, an unreachable installer) and runs anew.
    let commandId = options.resumeCommandId;
    if (commandId && (await this.hasEnded(host, commandId))) commandId = undefined;
    if (!commandId) {
      const executionSeconds = Math.max(30, Math.ceil(options.timeoutMs / 1000));
      const sent = await ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: [host.instanceId],
          Comment: `sentinel ${options.name}`.slice(0, 100),
          TimeoutSeconds: 600,
          Parameters: { commands: [script], executionTimeout: [String(executionSeconds)] },
        }),
      );
      commandId = sent.Command?.CommandId;
      if (!commandId) throw new Error('SSM SendCommand returned no command id');
      options.onStarted?.(commandId);
    }
    const id = commandId;
    const onAbort = () => {
      void ssm.send(new CancelCommandCommand({ CommandId: id, InstanceIds: [host.instanceId] })).catch(() => undefined);
    };
    options.wait.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const invocation = await pollWithBackoff(options.wait, options.polling, async (attempt) => {
        options.wait.heartbeat({ commandId: id, attempt });
        let out: GetCommandInvocationCommandOutput;
        try {
          out = await ssm.send(new GetCommandInvocationCommand({ CommandId: id, InstanceId: host.instanceId }));
        } catch (err) {
          // Right after SendCommand the invocation may not exist yet.
          if (awsErrorName(err) === 'InvocationDoesNotExist') return undefined;
          throw err;
        }
        return out.Status && TERMINAL.has(out.Status) ? out : undefined;
      });
      const status = invocation.Status === 'Success' ? 'success' : /TimedOut/.test(invocation.Status ?? '') ? 'timed_out' : 'failed';
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
      const out = await this.aws.ssm(host.region).send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: host.instanceId }));
      return out.Status !== undefined && TERMINAL.has(out.Status);
    } catch (err) {
      if (awsErrorName(err) === 'InvocationDoesNotExist') return false;
      throw err;
    }
  }

  async release(): Promise<void> {
    // Nothing held: terminating the instance ends every command on it.
  }
}
