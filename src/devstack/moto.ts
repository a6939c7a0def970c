/**
 * moto_server, the AWS API emulator, on a free loopback port. The pinned AMIs
 * of every target in the configuration are registered with it (as public
 * Amazon images), so RunInstances behaves as in the real region: the pinned
 * AMIs launch, any other AMI id is InvalidAMIID.NotFound.
 */
import { writeFileSync } from 'node:fs';
import type { Invariants } from '../config/schema';
import { freePort, startProcess, waitUntil, type ManagedProcess } from './process';
import { motoBinary } from './tools';

export interface MotoServer {
  endpoint: string;
  process: ManagedProcess;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export function amisOf(invariants: Invariants): Array<Record<string, unknown>> {
  const seen = new Map<string, Record<string, unknown>>();
  for (const env of Object.values(invariants.environments)) {
    for (const t of env.targets) {
      seen.set(t.ami, {
        ami_id: t.ami,
        name: t.amiName ?? t.name,
        description: t.amiName ?? t.name,
        owner_id: '898082745236',
        public: true,
        virtualization_type: 'hvm',
        architecture: 'x86_64',
        state: 'available',
        root_device_type: 'ebs',
        root_device_name: '/dev/sda1',
        sriov: 'simple',
        hypervisor: 'xen',
        platform: 'Linux/UNIX',
        creation_date: '2023-11-01T00:00:00.000Z',
      });
    }
  }
  return [...seen.values()];
}

export async function startMoto(options: { logFile: string; amisFile: string; invariants: Invariants }): Promise<MotoServer> {
  writeFileSync(options.amisFile, JSON.stringify(amisOf(options.invariants), null, 2));
  const port = await freePort();
  const proc = startProcess(motoBinary(), ['-H', '127.0.0.1', '-p', String(port)], options.logFile, {
    ...process.env,
    MOTO_AMIS_PATH: options.amisFile,
    // AWS managed policies (AmazonSSMManagedInstanceCore) exist in a real account; moto loads them on request.
    MOTO_IAM_LOAD_MANAGED_POLICIES: 'true',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntil('moto_server', async () => (await fetch(`${endpoint}/moto-api/`)).ok, 60_000, proc);
  return {
    endpoint,
    process: proc,
    reset: async () => {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
    },
    stop: () => proc.stop(),
  };
}
