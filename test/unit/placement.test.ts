import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import {
  DEFAULT_INVARIANTS_PATH,
  InvariantsError,
  loadInvariants,
  parseInvariants,
} from '../../src/config/load';
import { legPlacement, sweepOrder, type ResolvedSubnet } from '../../src/domain/placement';
import { clientToken } from '../../src/activities/instances';

type Json = Record<string, any>;

function problemsOf(edit: (file: Json) => void): string[] {
  const file = parse(readFileSync(DEFAULT_INVARIANTS_PATH, 'utf8'), { merge: true }) as Json;
  delete file['x-gpu-targets'];
  edit(file);
  try {
    parseInvariants(stringify(file), DEFAULT_INVARIANTS_PATH, {});
  } catch (err) {
    assert.ok(err instanceof InvariantsError, `expected InvariantsError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be refused');
}

describe('placement configuration (network)', () => {
  it('ships the placement of dev and of the sandbox, by name', () => {
    const inv = loadInvariants(undefined, {});
    assert.deepEqual(inv.environments.dev!.network, {
      subnets: [
        'name:sentinel-dev-us-west-2a',
        'name:sentinel-dev-us-west-2b',
        'name:sentinel-dev-us-west-2c',
      ],
      securityGroupIds: ['name:sentinel-gpu-hosts'],
      associatePublicIp: false,
    });
    assert.deepEqual(inv.environments.local!.network?.subnets, [
      'name:sentinel-sandbox-us-west-2a',
      'name:sentinel-sandbox-us-west-2b',
    ]);
  });

  it('accepts ids of 8 and 17 hex digits', () => {
    const file = parse(readFileSync(DEFAULT_INVARIANTS_PATH, 'utf8'), { merge: true }) as Json;
    delete file['x-gpu-targets'];
    file.environments.dev.network = {
      subnets: ['subnet-0123abcd', 'subnet-0123456789abcdef0'],
      securityGroupIds: ['sg-0123abcd', 'sg-0123456789abcdef0'],
      associatePublicIp: true,
    };
    const inv = parseInvariants(stringify(file), DEFAULT_INVARIANTS_PATH, {});
    assert.equal(inv.environments.dev!.network!.subnets.length, 2);
  });

  it('names each malformed id, duplicate and missing field by its path', () => {
    const problems = problemsOf((f) => {
      f.environments.dev.network = {
        subnets: ['subnet-XYZ', 'subnet-0123abcd', 'subnet-0123abcd', 'subnet-0123abc'],
        securityGroupIds: ['sg-12'],
        associatePublicIp: 'yes',
      };
    });
    const expected = [
      "environments.dev.network.subnets[0]: expected subnet-<8 or 17 lower-case hex>, or name:<the subnet's Name tag>",
      "environments.dev.network.subnets[3]: expected subnet-<8 or 17 lower-case hex>, or name:<the subnet's Name tag>",
      'environments.dev.network.subnets[2]: duplicate subnet subnet-0123abcd',
      "environments.dev.network.securityGroupIds[0]: expected sg-<8 or 17 lower-case hex>, or name:<the security group's name>",
      'environments.dev.network.associatePublicIp: expected boolean',
    ];
    for (const e of expected) assert.ok(problems.includes(e), `missing "${e}" in:\n${problems.join('\n')}`);
  });

  it('requires placement in a live environment, not in a sandbox', () => {
    const problems = problemsOf((f) => {
      delete f.environments.dev.network;
      delete f.environments.local.network;
    });
    assert.deepEqual(
      problems.filter((p) => p.includes('network')),
      [
        'environments.dev.network: required for a live environment: subnets, securityGroupIds and associatePublicIp (an account without a default VPC cannot launch otherwise)',
      ],
    );
  });
});

describe('the capacity sweep order', () => {
  const subnets: ResolvedSubnet[] = [
    { ref: 'name:a', subnetId: 'subnet-aaaaaaaa', vpcId: 'vpc-1', availabilityZone: 'us-west-2a' },
    { ref: 'name:b', subnetId: 'subnet-bbbbbbbb', vpcId: 'vpc-1', availabilityZone: 'us-west-2b' },
    { ref: 'name:d', subnetId: 'subnet-dddddddd', vpcId: 'vpc-1', availabilityZone: 'us-west-2d' },
  ];
  const offers: Record<string, string[]> = {
    'g5.xlarge': ['us-west-2a', 'us-west-2b'],
    'g6.xlarge': ['us-west-2a', 'us-west-2d'],
  };

  it('goes type by type in preference order, subnet by subnet within each, leaving out zones that do not offer the type', () => {
    const plan = sweepOrder(
      'nvidia-a10g',
      ['g5.xlarge', 'g6.xlarge'],
      subnets,
      (t, z) => offers[t]?.includes(z) ?? false,
    );
    assert.deepEqual(
      plan.options.map((o) => `${o.instanceType}@${o.availabilityZone}`),
      ['g5.xlarge@us-west-2a', 'g5.xlarge@us-west-2b', 'g6.xlarge@us-west-2a', 'g6.xlarge@us-west-2d'],
    );
    assert.deepEqual(
      plan.skipped.map((o) => `${o.instanceType}@${o.availabilityZone}`),
      ['g5.xlarge@us-west-2d', 'g6.xlarge@us-west-2b'],
    );
    const leg = legPlacement(
      {
        region: 'us-west-2',
        subnets,
        securityGroupIds: ['sg-11111111'],
        associatePublicIp: false,
        targets: [plan],
      },
      'nvidia-a10g',
    );
    assert.deepEqual(leg?.securityGroupIds, ['sg-11111111']);
    assert.equal(
      legPlacement(undefined, 'nvidia-a10g'),
      undefined,
      'a run without placement launches as before',
    );
  });

  it('keeps one ClientToken per (leg, type, subnet), and the one of launches without a subnet unchanged', () => {
    const leg = 'sentinel-run-dev-1--nvidia-a10g';
    assert.equal(
      clientToken(leg, 'g5.xlarge', 'subnet-aaaaaaaa'),
      clientToken(leg, 'g5.xlarge', 'subnet-aaaaaaaa'),
    );
    assert.notEqual(
      clientToken(leg, 'g5.xlarge', 'subnet-aaaaaaaa'),
      clientToken(leg, 'g5.xlarge', 'subnet-bbbbbbbb'),
    );
    assert.notEqual(
      clientToken(leg, 'g5.xlarge', 'subnet-aaaaaaaa'),
      clientToken(leg, 'g6.xlarge', 'subnet-aaaaaaaa'),
    );
    // sha256 of "<leg>\n<type>", as before placement existed: a launch in flight across a deploy keeps its token.
    assert.equal(
      clientToken(leg, 'g5.xlarge'),
      '9c1da7863165cf81498f5245510b7201c7200add252880a5f27e2b6aa885d3f7',
    );
    assert.ok(clientToken(leg, 'g5.xlarge', 'subnet-aaaaaaaa').length <= 64);
  });
});
