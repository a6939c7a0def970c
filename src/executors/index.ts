import type { AwsClients } from '../aws/clients';
import type { ExecutorConfig } from '../config/schema';
import { LocalExecutor } from './local';
import { SsmExecutor } from './ssm';
import type { HostExecutor } from './types';

/** One executor per kind (and per simulated-hosts directory), shared by a worker's activities. */
export class Executors {
  private readonly local = new Map<string, LocalExecutor>();
  private ssm?: SsmExecutor;

  constructor(
    private readonly aws: AwsClients,
    private readonly localWorkRoot?: string,
  ) {}

  for(config: ExecutorConfig): HostExecutor {
    if (config.kind === 'ssm') {
      this.ssm ??= new SsmExecutor(this.aws);
      return this.ssm;
    }
    let executor = this.local.get(config.hostsDir);
    if (!executor) {
      executor = new LocalExecutor(config.hostsDir, this.localWorkRoot);
      this.local.set(config.hostsDir, executor);
    }
    return executor;
  }
}

export type { HostExecutor } from './types';
