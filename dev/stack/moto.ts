/**
 * moto_server, the AWS API emulator, on a free loopback port. The pinned AMIs
 * of every target in the configuration are registered with it (as public
 * Amazon images), so RunInstances behaves as in the real region: the pinned
 * AMIs launch, any other AMI id is InvalidAMIID.NotFound. The zones offering
 * the pinned instance types are pinned too (EMULATED_OFFERINGS), so the
 * placement check does not depend on which moto release is installed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';
import type { Invariants } from '../../src/config/schema';
import { freePort, startProcess, waitUntil, type ManagedProcess } from './process';
import { motoBinary } from './tools';

export interface MotoServer {
  endpoint: string;
  process: ManagedProcess;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Which Availability Zones offer each pinned instance type, per region, in
 * the emulator: us-west-2's as moto 5.2.1 recorded them from AWS (zones a, b
 * and c; us-west-2d offers neither). A type not listed keeps moto's own table.
 */
export const EMULATED_OFFERINGS: Record<string, Record<string, string[]>> = {
  'us-west-2': {
    'g5.xlarge': ['us-west-2a', 'us-west-2b', 'us-west-2c'],
    'g4ad.xlarge': ['us-west-2a', 'us-west-2b', 'us-west-2c'],
  },
};

/**
 * How to start moto with the pinned offerings: moto_server's own Python runs
 * moto-launcher.py (same arguments). A moto_server that is not a Python
 * script (a pyenv shim) runs under python3 from PATH.
 */
function motoCommand(): { command: string; prefix: string[] } {
  const binary = motoBinary();
  const firstLine = readFileSync(binary, 'utf8').split('\n', 1)[0] ?? '';
  const python = /^#!\s*(\S*python[0-9.]*)\s*$/.exec(firstLine)?.[1] ?? 'python3';
  return { command: python, prefix: [path.join(PROJECT_ROOT, 'dev', 'stack', 'moto-launcher.py')] };
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

export async function startMoto(options: {
  logFile: string;
  amisFile: string;
  invariants: Invariants;
}): Promise<MotoServer> {
  writeFileSync(options.amisFile, JSON.stringify(amisOf(options.invariants), null, 2));
  const offeringsFile = path.join(path.dirname(options.amisFile), 'moto-offerings.json');
  writeFileSync(offeringsFile, JSON.stringify(EMULATED_OFFERINGS, null, 2));
  const port = await freePort();
  const { command, prefix } = motoCommand();
  const proc = startProcess(command, [...prefix, '-H', '127.0.0.1', '-p', String(port)], options.logFile, {
    ...process.env,
    MOTO_AMIS_PATH: options.amisFile,
    SENTINEL_MOTO_OFFERINGS: offeringsFile,
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
