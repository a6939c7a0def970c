/**
 * The schema of ops/invariants.yaml. Every value Sentinel acts on is declared
 * here once; nothing else in the code base carries a default for it.
 */
import { z } from 'zod';
import { parseDuration } from '../domain/duration';
import { isValidRepository } from '../domain/image-ref';

/** A duration string (`30s`, `5m`, `4h`) turned into milliseconds. */
const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration such as 30s, 5m or 4h, got ${JSON.stringify(text)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const name = (what: string) =>
  z
    .string()
    .regex(
      /^[a-z][a-z0-9-]{0,39}$/,
      `expected a ${what} of lower-case letters, digits and dashes (at most 40), starting with a letter`,
    );

const vendor = z.enum(['nvidia', 'amd'], { message: 'expected nvidia or amd' });

const regexSource = z.string().refine(
  (source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a valid regular expression' },
);

const target = z
  .strictObject({
    name: name('target name'),
    vendor,
    provider: z.literal('aws-ec2', { message: 'expected aws-ec2 (the only provider so far)' }),
    ami: z
      .string()
      .regex(
        /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/,
        'expected ami-<8 or 17 lower-case hex>, the pinned AMI id',
      ),
    amiName: z.string().min(1).optional(),
    instanceTypes: z
      .array(
        z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'expected an EC2 instance type such as g5.xlarge'),
      )
      .min(1, 'expected at least one instance type'),
    gpu: z.strictObject({
      vendor,
      minCount: z.number().int().min(1, 'expected at least 1 GPU'),
      modelPattern: regexSource.optional(),
    }),
    /**
     * Host preparation: scripts under ops/setup/ (`<name>.sh`), run in order on
     * the host before GPU detection (phase host_setup). `[]` means a baked AMI.
     */
    setup: z.array(
      z
        .string()
        .regex(
          /^[a-z0-9][a-z0-9.-]{0,63}$/,
          'expected a setup script name such as amdgpu-driver (ops/setup/<name>.sh)',
        ),
      { message: 'expected a list of setup script names (ops/setup/<name>.sh), [] for a baked AMI' },
    ),
  })
  .superRefine((t, ctx) => {
    if (t.gpu.vendor !== t.vendor) {
      ctx.addIssue({
        code: 'custom',
        path: ['gpu', 'vendor'],
        message: `expected ${t.vendor}, the target's vendor`,
      });
    }
  });

const executor = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('ssm') }),
    z.strictObject({
      kind: z.literal('local'),
      /** Directory holding one simulated host per target (`<hostsDir>/<target name>/`), relative to this file. */
      hostsDir: z.string().min(1),
    }),
  ],
  { message: 'expected executor.kind ssm or local' },
);

/**
 * Where a leg's machine is launched. A subnet or security group is named by
 * its id, or by `name:<value>` (a subnet's Name tag, a security group's
 * group name), resolved by preflight in the environment's account; the
 * sandbox refers to the emulator's network by name because its ids are new
 * on every start (README, "Placement").
 */
const subnetRef = z
  .string()
  .regex(
    /^(?:subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})|name:[\w .:/=+@-]{1,255})$/,
    "expected subnet-<8 or 17 lower-case hex>, or name:<the subnet's Name tag>",
  );
const securityGroupRef = z
  .string()
  .regex(
    /^(?:sg-(?:[0-9a-f]{8}|[0-9a-f]{17})|name:[\w .:/=+@#,-]{1,255})$/,
    "expected sg-<8 or 17 lower-case hex>, or name:<the security group's name>",
  );
const unique = <T extends z.ZodType<string>>(item: T, what: string) =>
  z.array(item).superRefine((list, ctx) => {
    list.forEach((value, i) => {
      if (list.indexOf(value) !== i)
        ctx.addIssue({ code: 'custom', path: [i], message: `duplicate ${what} ${value}` });
    });
  });

const network = z.strictObject({
  /** Subnets in order of preference, normally one per Availability Zone; the capacity sweep tries them in this order. */
  subnets: unique(subnetRef, 'subnet').min(1, 'expected at least one subnet'),
  /** Security groups every leg's machine gets (in the subnets' VPC). */
  securityGroupIds: unique(securityGroupRef, 'security group')
    .min(1, 'expected at least one security group')
    .max(5, 'expected at most 5 security groups (the EC2 default limit per network interface)'),
  /** Whether the machine gets a public IPv4 address (a subnet without a NAT route to SSM, the registry and the control plane needs one). */
  associatePublicIp: z.boolean(),
});

const retry = z.strictObject({
  initialInterval: duration,
  backoffCoefficient: z.number().min(1, 'expected a coefficient of at least 1'),
  maximumInterval: duration,
  maximumAttempts: z.number().int().min(1, 'expected at least 1 attempt'),
});

const timeouts = z.strictObject({
  /** Whole matrix run, queueing for the lane excluded. */
  run: duration,
  /** Time a run may wait for the environment's lane before it gives up. */
  laneWait: duration,
  /** How often the lane checks that its holder is still running (a terminated holder is skipped). */
  laneHolderCheck: duration,
  provision: duration,
  hostReady: duration,
  /** All of a target's setup scripts together, all attempts included. */
  hostSetup: duration,
  gpuDetect: duration,
  containerRuntime: duration,
  installer: duration,
  timeToActive: duration,
  smokeJob: duration,
  cleanup: duration,
  evidence: duration,
  promotion: duration,
  /** Each preflight check of a run (registry manifest, pinned AMIs), all attempts included. */
  preflight: duration,
  /** Maximum gap between heartbeats of the long-waiting activities. */
  heartbeat: duration,
});

const evidence = z.strictObject({
  /** `s3://bucket/prefix/` or a directory (relative to this file). */
  location: z.string().min(1),
  retentionDays: z.number().int().min(1),
});

const awsRegion = z
  .string()
  .regex(/^[a-z]{2}(?:-gov)?-[a-z]+-\d$/, 'expected an AWS region such as us-west-2');
const instanceType = z
  .string()
  .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'expected an EC2 instance type such as g5.xlarge');

/** On-demand prices the legs' cost is computed from: USD per instance-hour, per region and instance type. */
const prices = z.strictObject({
  /** The day the figures were read (YYYY-MM-DD): prices change, the evidence says how old they were. */
  readAt: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected the date the prices were read, YYYY-MM-DD'),
  /** Where they were read. */
  source: z.string().min(1),
  onDemandUsdPerHour: z.record(
    awsRegion,
    z.record(instanceType, z.number().positive('expected a price in USD per hour, more than 0')),
  ),
});

// ---- schedules (sentinel schedule apply) --------------------------------
const timeZone = z.string().refine(
  (zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return zone.includes('/') || zone === 'UTC';
    } catch {
      return false;
    }
  },
  { message: 'expected an IANA time zone such as America/Los_Angeles or UTC' },
);

const schedules = z.strictObject({
  /** The nightly matrix run: once a day at `at` (24-hour, in `timezone`), on the digest `candidate.tag` points to at that moment. */
  nightly: z
    .strictObject({
      at: z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, 'expected a 24-hour time of day such as 02:00'),
      timezone: timeZone,
      candidate: z.strictObject({
        /** Image tag of the environment's repository, resolved to its digest when the run starts. */
        tag: z
          .string()
          .regex(
            /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/,
            'expected an image tag such as latest or main (letters, digits, _ . -; at most 128)',
          ),
      }),
    })
    .optional(),
  /** The janitor between runs (it also runs before every matrix run). */
  janitor: z
    .strictObject({
      every: duration.refine((ms) => ms >= 60_000, 'expected at least 1m'),
    })
    .optional(),
});

const environment = z
  .strictObject({
    /** `live` environments guard a real approved pointer; `sandbox` ones may run simulated hosts. */
    kind: z.enum(['live', 'sandbox'], { message: 'expected live or sandbox' }),
    awsRegion: z.string().regex(/^[a-z]{2}(?:-gov)?-[a-z]+-\d$/, 'expected an AWS region such as us-west-2'),
    approvedDigestParameter: z.string(),
    image: z.strictObject({
      repository: z
        .string()
        .refine(
          isValidRepository,
          'expected an image repository such as ghcr.io/org/name (no tag, no digest)',
        ),
    }),
    instanceProfile: z.string().regex(/^[\w+=,.@-]{1,128}$/, 'expected an IAM instance profile name'),
    /** Where legs launch (subnets, security groups, public IP); without it, RunInstances uses the account's default VPC. */
    network: network.optional(),
    executor,
    evidence,
    cleanupTtl: duration,
    timeouts,
    retry,
    polling: z.strictObject({ initialInterval: duration, maximumInterval: duration }),
    /** The control plane the legs onboard through, and its installer endpoint. */
    controlPlane: z.strictObject({
      /** Public API base URL (the installer hands it to the agent). RADIX_API_URL overrides it. */
      baseUrl: z.string().url('expected an http(s) URL'),
      installer: z.strictObject({
        /** How long the installer endpoint serves the approved digest from memory before asking SSM again. */
        cacheTtl: duration,
        /** How long the installer endpoint waits for one SSM read before answering APPROVED_DIGEST_UNAVAILABLE. */
        ssmTimeout: duration,
      }),
      /** The Cognito user pool Sentinel's service user signs in to (USER_PASSWORD_AUTH). */
      cognito: z.strictObject({
        region: z.string().regex(/^[a-z]{2}(?:-gov)?-[a-z]+-\d$/, 'expected an AWS region such as us-west-2'),
        userPoolId: z
          .string()
          .regex(
            /^[a-z]{2}(?:-gov)?-[a-z]+-\d_[0-9A-Za-z]+$/,
            'expected a user pool id such as us-west-2_AbC123xyZ',
          ),
        clientId: z.string().regex(/^[0-9A-Za-z]{1,128}$/, 'expected an app client id (letters and digits)'),
        /** A cached IdToken is replaced this long before it expires. */
        refreshBefore: duration,
      }),
    }),
    /** Signed proof of each run (docs/attestations.md): the KMS key that signs, and whether the installer insists on it. */
    attestation: z.strictObject({
      /** An asymmetric ECC_NIST_P256 SIGN_VERIFY key: alias/<name>, a key id, or a key ARN. */
      kmsKeyId: z
        .string()
        .regex(
          /^(?:alias\/[A-Za-z0-9/_-]{1,250}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:(?:key|alias)\/[A-Za-z0-9/_-]+)$/,
          'expected alias/<name>, a key id (uuid) or a KMS key ARN',
        ),
      /** The installer endpoint serves the approved digest only with a PASSED summary signed by this key. */
      requireAttestation: z.boolean(),
    }),
    targets: z.array(target).min(1, 'expected at least one hardware target'),
    /**
     * How many times a leg that ended for an infrastructure reason (failure kind `infra`) is tried
     * again on a fresh machine before it is inconclusive.
     */
    infraRetries: z.number().int().min(0, 'expected 0 or more retries').default(1),
    /** On-demand prices for the legs' cost; without them a leg records its instance-seconds only. */
    prices: prices.optional(),
    /** Temporal Schedules of the environment (`sentinel schedule apply`); an environment without them is only run on demand. */
    schedules: schedules.optional(),
  })
  .superRefine((env, ctx) => {
    const seen = new Set<string>();
    env.targets.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'name'],
          message: `duplicate target name ${t.name}`,
        });
      seen.add(t.name);
    });
    if (env.kind === 'live' && env.executor.kind === 'local') {
      ctx.addIssue({
        code: 'custom',
        path: ['executor', 'kind'],
        message:
          'a live environment guards a real approved digest and refuses the local (simulated) executor; use ssm',
      });
    }
    if (env.kind === 'live' && !env.network) {
      ctx.addIssue({
        code: 'custom',
        path: ['network'],
        message:
          'required for a live environment: subnets, securityGroupIds and associatePublicIp (an account without a default VPC cannot launch otherwise)',
      });
    }
    const usedTypes = new Set(env.targets.flatMap((t) => t.instanceTypes));
    for (const [region, table] of Object.entries(env.prices?.onDemandUsdPerHour ?? {})) {
      for (const type of Object.keys(table)) {
        if (!usedTypes.has(type)) {
          ctx.addIssue({
            code: 'custom',
            path: ['prices', 'onDemandUsdPerHour', region, type],
            message: `no target of this environment uses ${type} (targets use ${[...usedTypes].join(', ')}); remove the price or fix its instance type`,
          });
        }
      }
    }
    if (env.polling.initialInterval > env.polling.maximumInterval) {
      ctx.addIssue({
        code: 'custom',
        path: ['polling', 'initialInterval'],
        message: 'expected at most polling.maximumInterval',
      });
    }
    if (env.timeouts.heartbeat <= env.polling.maximumInterval) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeouts', 'heartbeat'],
        message: 'expected more than polling.maximumInterval, or a poll loop would miss its heartbeat',
      });
    }
  });

export const invariantsSchema = z
  .strictObject({
    schemaVersion: z.literal(1, { message: 'expected 1' }),
    temporal: z.strictObject({
      taskQueue: z.string().min(1),
      /** Web UI base for links printed by the CLI; TEMPORAL_UI_URL overrides it. */
      uiUrl: z.string().url().optional(),
    }),
    environments: z.record(name('environment name'), environment),
  })
  .superRefine((file, ctx) => {
    if (!file.environments.dev) {
      ctx.addIssue({
        code: 'custom',
        path: ['environments', 'dev'],
        message: 'the dev environment is required',
      });
    }
    const parameterOwners = new Map<string, string>();
    for (const [envName, env] of Object.entries(file.environments)) {
      const expected = `/radix/${envName}/agent_digest_approved`;
      if (env.approvedDigestParameter !== expected) {
        ctx.addIssue({
          code: 'custom',
          path: ['environments', envName, 'approvedDigestParameter'],
          message: `expected ${expected}`,
        });
      }
      const owner = parameterOwners.get(env.approvedDigestParameter);
      if (owner) {
        ctx.addIssue({
          code: 'custom',
          path: ['environments', envName, 'approvedDigestParameter'],
          message: `already used by environment ${owner}`,
        });
      }
      parameterOwners.set(env.approvedDigestParameter, envName);
    }
  });

export type Invariants = z.infer<typeof invariantsSchema>;
export type EnvironmentConfig = z.infer<typeof environment>;
export type TargetConfig = z.infer<typeof target>;
export type RetryConfig = z.infer<typeof retry>;
export type Timeouts = z.infer<typeof timeouts>;
export type ExecutorConfig = z.infer<typeof executor>;
export type Vendor = z.infer<typeof vendor>;
export type SchedulesConfig = z.infer<typeof schedules>;
export type AttestationConfig = z.infer<typeof environment>['attestation'];
export type NetworkConfig = z.infer<typeof network>;
export type PricesConfig = z.infer<typeof prices>;
