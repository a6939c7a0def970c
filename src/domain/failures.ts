/**
 * The failure catalogue: every way a run or a leg can fail, with a stable
 * code (what dashboards and CI pages key on) and the remediation an operator
 * needs. Pure data, shared by activities, workflows, CLI and evidence.
 *
 * `retryable: false` codes are errors that trying again cannot fix; activities
 * raise them as non-retryable failures so Temporal gives up at once.
 */
export type PhaseName =
  | 'provision'
  | 'host_ready'
  | 'host_setup'
  | 'gpu_detect'
  | 'container_runtime'
  | 'installer'
  | 'onboarding'
  | 'smoke_job'
  | 'cleanup';

export const LEG_PHASES: readonly PhaseName[] = [
  'provision',
  'host_ready',
  'host_setup',
  'gpu_detect',
  'container_runtime',
  'installer',
  'onboarding',
  'smoke_job',
  'cleanup',
];

export interface FailureInfo {
  summary: string;
  remediation: string;
  retryable: boolean;
}

const catalogue = {
  // Input and configuration: refused before anything starts.
  INPUT_REFUSED: {
    summary: 'The candidate or the run input was refused',
    remediation:
      "Pass the candidate as <repository>@sha256:<64 lower-case hex> of the environment's configured repository (ops/invariants.yaml image.repository).",
    retryable: false,
  },
  CONFIG_INVALID: {
    summary: 'ops/invariants.yaml is invalid or names an unknown environment',
    remediation: 'Run `sentinel config check` and fix each problem it lists at its path in the file.',
    retryable: false,
  },
  // The environment's lane.
  LANE_BUSY: {
    summary: 'Another run of this environment holds the lane',
    remediation:
      'Wait for the running run to finish (see `temporal workflow list`), or start without --no-queue to wait your turn.',
    retryable: false,
  },
  LANE_WAIT_TIMEOUT: {
    summary: "The run waited longer than timeouts.laneWait for the environment's lane",
    remediation:
      'Inspect the lane holder with `temporal workflow describe --workflow-id sentinel-lane-<env>`; cancel it if it is stuck.',
    retryable: false,
  },
  RUN_TIMEOUT: {
    summary: 'The matrix did not finish within timeouts.run; unfinished legs were cancelled and cleaned up',
    remediation:
      "Look at the slowest leg's phases in the evidence; raise timeouts.run in ops/invariants.yaml only if the hardware is legitimately slower.",
    retryable: false,
  },
  // Preflight.
  APPROVED_DIGEST_UNREADABLE: {
    summary: 'The approved-digest SSM parameter could not be read',
    remediation:
      "Check the worker's IAM permissions for ssm:GetParameter on the approvedDigestParameter path and that the region is right.",
    retryable: true,
  },
  APPROVED_DIGEST_INVALID: {
    summary:
      'The approved-digest SSM parameter holds a value that is not a pinned reference of the configured repository',
    remediation:
      'Restore a valid value with `sentinel promote --rollback --env <env>` or put <repository>@sha256:<digest> into the parameter.',
    retryable: false,
  },
  MANIFEST_NOT_FOUND: {
    summary: 'The candidate digest has no manifest in the registry',
    remediation:
      'Push the image first and pass the digest the push reported (docker buildx --metadata-file, or `crane digest <ref>`).',
    retryable: false,
  },
  REGISTRY_UNREACHABLE: {
    summary: 'The image registry could not be reached or refused the manifest check',
    remediation:
      'Check the registry URL and network path from the worker; for private repositories provide pull credentials.',
    retryable: true,
  },
  REGISTRY_AUTH_REFUSED: {
    summary: 'The registry refused anonymous pull access to the repository',
    remediation:
      'Sentinel checks manifests anonymously, as a host pulling a public image does: make the package public (GHCR: package settings, visibility), or point SENTINEL_REGISTRY_URL at a registry that serves it.',
    retryable: false,
  },
  CANDIDATE_TAG_NOT_FOUND: {
    summary: 'The tag the nightly run tests has no manifest in the registry',
    remediation:
      'Push the tag, or fix schedules.nightly.candidate.tag of the environment in ops/invariants.yaml (then `sentinel schedule apply`).',
    retryable: false,
  },
  AMI_NOT_FOUND: {
    summary: 'The pinned AMI does not exist or is not visible in the region',
    remediation:
      "Check the target's ami and the environment's awsRegion in ops/invariants.yaml; AMI ids are per region.",
    retryable: false,
  },
  NETWORK_NOT_FOUND: {
    summary: 'A configured subnet or security group does not exist, or they are not in one VPC',
    remediation:
      'Fix network.subnets / network.securityGroupIds of the environment in ops/invariants.yaml (ids, or name:<Name tag>), or create them; `sentinel bootstrap --env <env>` lists what the account has.',
    retryable: false,
  },
  PLACEMENT_UNAVAILABLE: {
    summary: "None of the configured zones offers any of a target's instance types",
    remediation:
      'Add a subnet in a zone that offers the type (`aws ec2 describe-instance-type-offerings --location-type availability-zone --filters Name=instance-type,Values=<type>`), or add an instance type offered in the configured zones to the target.',
    retryable: false,
  },
  // Provisioning.
  AWS_CREDENTIALS_REFUSED: {
    summary: "AWS refused the worker's credentials or permissions",
    remediation:
      "Check the worker's AWS credentials (standard chain) and that its role carries the policy in infra/.",
    retryable: false,
  },
  INSTANCE_PROFILE_INVALID: {
    summary: 'The IAM instance profile does not exist or cannot be passed',
    remediation:
      'Create it with `sentinel bootstrap --env <env> --apply`, or allow iam:PassRole for its role to the worker.',
    retryable: false,
  },
  INSTANCE_CAPACITY_UNAVAILABLE: {
    summary: "No capacity for any of the target's instance types in the region",
    remediation:
      "Retry later, or add another instance type (same GPU) to the target's instanceTypes in ops/invariants.yaml.",
    retryable: true,
  },
  PROVISION_FAILED: {
    summary: 'EC2 RunInstances failed',
    remediation:
      'Read the detail; check service quotas for the instance family (Running On-Demand G instances).',
    retryable: true,
  },
  PROVISION_TIMEOUT: {
    summary: 'Provisioning did not finish within timeouts.provision',
    remediation:
      'Check EC2 service health in the region; raise timeouts.provision if RunInstances is slow there.',
    retryable: false,
  },
  // Host readiness.
  INSTANCE_NOT_RUNNING: {
    summary: 'The instance stopped or terminated before it was ready',
    remediation:
      "Look at the instance's state reason (EC2 console or describe-instances); a spot interruption or a boot failure are the usual causes.",
    retryable: false,
  },
  HOST_READY_TIMEOUT: {
    summary: 'The host did not come online in SSM within timeouts.hostReady',
    remediation:
      'Check that the AMI runs the SSM agent, that the instance profile carries AmazonSSMManagedInstanceCore, and that the subnet reaches the SSM endpoints.',
    retryable: false,
  },
  // Host preparation (the target's setup scripts, ops/setup/).
  HOST_SETUP_FAILED: {
    summary: 'A setup script of the target failed on the host, or the AMI lacks what it promises',
    remediation:
      "Read the script's detail in the evidence; run ops/setup/<script>.sh by hand on an instance of the pinned AMI; fix the script or re-pin the AMI.",
    retryable: false,
  },
  HOST_SETUP_MIRROR_UNREACHABLE: {
    summary: 'A setup script could not reach a package mirror (Ubuntu archive, repo.radeon.com)',
    remediation:
      "Infrastructure, not the candidate: check the subnet's route to the internet (NAT gateway or public IP) and DNS, or the mirror's status; then run again.",
    retryable: true,
  },
  // Host commands.
  HOST_COMMAND_FAILED: {
    summary: 'A check could not be run on the host',
    remediation:
      'Read the command output in the evidence; for SSM check the instance is Online and the document AWS-RunShellScript is allowed.',
    retryable: true,
  },
  HOST_COMMAND_TIMEOUT: {
    summary: 'A check on the host did not finish within its timeout',
    remediation: 'Read the partial output in the evidence; the host may be overloaded or the step hung.',
    retryable: false,
  },
  CHECK_OUTPUT_INVALID: {
    summary: 'A check script did not print the JSON result line Sentinel expects',
    remediation:
      'Run the script from ops/checks/ by hand on the host and look at its last line; a shell or tool error usually precedes it.',
    retryable: false,
  },
  // GPU detection.
  GPU_TOOL_MISSING: {
    summary: 'Neither nvidia-smi nor rocm-smi is installed on the host, and its PCI bus could not be read',
    remediation:
      "The AMI lacks the GPU driver stack and sysfs/lspci: pin an AMI with the vendor driver, or add the target's setup scripts (ops/setup/).",
    retryable: false,
  },
  GPU_DRIVER_MISSING: {
    summary: "A GPU is on the host's PCI bus, but its driver or GPU tool is not installed or not loaded",
    remediation:
      'The host is not prepared, the GPU is fine: give the target the setup scripts that install its driver stack (ops/setup/, e.g. amd-v520 on stock Ubuntu), or pin an AMI with the driver baked in.',
    retryable: false,
  },
  GPU_DRIVER_ERROR: {
    summary: 'The GPU tool is installed but cannot talk to the driver',
    remediation:
      'The kernel module is not loaded (driver/kernel mismatch after an update is typical): check `dmesg` on the host and re-pin a working AMI.',
    retryable: false,
  },
  GPU_NOT_DETECTED: {
    summary: 'No GPU: the GPU tool found none, or none is on the PCI bus',
    remediation:
      'Check that the instance type has a GPU and that the driver sees it (`lspci | grep -i -e nvidia -e amd`).',
    retryable: false,
  },
  GPU_VENDOR_MISMATCH: {
    summary: "The host's GPU vendor is not the one the target expects",
    remediation:
      "The instance type or AMI in ops/invariants.yaml does not match the target's vendor; fix the target.",
    retryable: false,
  },
  GPU_COUNT_TOO_LOW: {
    summary: 'Fewer GPUs than the target requires',
    remediation:
      'Pick an instance type with enough GPUs or lower gpu.minCount for the target; a partly failed GPU also shows this way.',
    retryable: false,
  },
  GPU_MODEL_MISMATCH: {
    summary: "The GPU model does not match the target's gpu.modelPattern",
    remediation:
      'Check the instance type against the expected model; update gpu.modelPattern if the hardware changed on purpose.',
    retryable: false,
  },
  // Container runtime.
  CONTAINER_RUNTIME_MISSING: {
    summary: 'No container runtime (docker) on the host',
    remediation:
      'Pin an AMI that ships Docker (the Deep Learning AMI does) or install docker in the AMI build.',
    retryable: false,
  },
  CONTAINER_RUNTIME_UNAVAILABLE: {
    summary: 'The container runtime is installed but its daemon does not answer',
    remediation: 'Check `systemctl status docker` on the host; the daemon may have failed to start.',
    retryable: false,
  },
  GPU_RUNTIME_MISSING: {
    summary: 'Containers cannot reach the GPU',
    remediation:
      'NVIDIA: install nvidia-container-toolkit and register the nvidia runtime; AMD: /dev/kfd and /dev/dri must exist (amdgpu + ROCm).',
    retryable: false,
  },
  // Installer, onboarding and smoke job (control plane).
  CONTROL_PLANE_AUTH_FAILED: {
    summary: "The control plane refused Sentinel's service credentials",
    remediation:
      'Fix RADIX_TEST_USERNAME / RADIX_TEST_PASSWORD (or RADIX_JWT_TOKEN) and the Cognito settings of the environment.',
    retryable: false,
  },
  CONTROL_PLANE_UNAVAILABLE: {
    summary: 'The control plane API could not be reached or failed',
    remediation: "Check the control plane's health and the controlPlane.baseUrl of the environment.",
    retryable: true,
  },
  CLUSTER_CREATE_FAILED: {
    summary: 'The control plane did not create the test cluster',
    remediation: "Read the detail; check the service user's permissions to create clusters.",
    retryable: false,
  },
  INSTALLER_DOWNLOAD_FAILED: {
    summary: 'The host could not download the installer script',
    remediation:
      "Check that the host reaches the control plane's installer URL (security group egress, DNS).",
    retryable: false,
  },
  INSTALLER_APPROVED_DIGEST_MISSING: {
    summary: 'The installer endpoint has no approved digest to install (installer exit 20)',
    remediation:
      'Bootstrap the approved-digest parameter: `sentinel bootstrap --env <env> --apply --initial-digest <repository>@sha256:<digest>`.',
    retryable: false,
  },
  INSTALLER_APPROVED_DIGEST_INVALID: {
    summary: 'The approved-digest parameter holds an invalid value (installer exit 21)',
    remediation: 'Restore a valid value with `sentinel promote --rollback --env <env>`.',
    retryable: false,
  },
  INSTALLER_SOURCE_UNAVAILABLE: {
    summary: 'The installer endpoint could not read the approved digest from SSM (installer exit 22)',
    remediation: "Check the installer endpoint's SSM access (throttling, IAM) and retry.",
    retryable: true,
  },
  INSTALLER_FAILED: {
    summary: 'The installer script failed on the host',
    remediation:
      'Read the installer output in the evidence (image pull and agent start are the usual failures).',
    retryable: false,
  },
  IMAGE_PULL_FAILED: {
    summary: 'The host could not pull the candidate image by digest',
    remediation:
      'Check that the digest exists in the registry and the host can reach and authenticate to it.',
    retryable: false,
  },
  INSTALLED_DIGEST_MISMATCH: {
    summary: 'The agent on the host runs a different image than the candidate under test',
    remediation:
      'The installer did not install the candidate: check that the control plane honours the candidate of release-gate clusters (the service user must be in the release-gate group).',
    retryable: false,
  },
  ONBOARDING_TIMEOUT: {
    summary: 'The cluster did not turn active within timeouts.timeToActive',
    remediation:
      "Check the agent's logs on the host (`docker logs radix-cluster-agent`): token exchange or control-plane reachability usually fail here.",
    retryable: false,
  },
  CLUSTER_FAILED: {
    summary: 'The control plane marked the cluster as failed during onboarding',
    remediation: "Read the cluster's status message in the evidence and the agent's logs.",
    retryable: false,
  },
  SMOKE_JOB_FAILED: {
    summary: 'The GPU smoke job did not succeed',
    remediation:
      "Read the job's message in the evidence; a job that cannot see the GPU points at the container runtime setup.",
    retryable: false,
  },
  SMOKE_JOB_TIMEOUT: {
    summary: 'The GPU smoke job did not finish within timeouts.smokeJob',
    remediation: 'Check that the agent picks up jobs (its logs) and that the GPU is not busy.',
    retryable: false,
  },
  // Cleanup.
  CLEANUP_FAILED: {
    summary: "The leg's instance or cluster could not be cleaned up",
    remediation:
      'The janitor terminates it after cleanupTtl; to act now, terminate the instance named in the evidence.',
    retryable: true,
  },
  CLEANUP_INCOMPLETE: {
    summary:
      "A leg's cleanup failed: a machine or test cluster may still be running, so the run did not promote",
    remediation:
      'Terminate the instances and delete the clusters listed under cleanupIncomplete in the evidence (or run `sentinel janitor --env <env>`), then run again.',
    retryable: false,
  },
  // The janitor.
  JANITOR_SCAN_FAILED: {
    summary: "The janitor could not list the environment's instances",
    remediation:
      "Check the worker's ec2:DescribeInstances permission in the environment's region; nothing was terminated.",
    retryable: true,
  },
  RUN_STATUS_UNKNOWN: {
    summary: 'The janitor could not ask Temporal whether a run is still open; nothing was terminated',
    remediation: "Check the worker's connection to Temporal; the next janitor run tries again.",
    retryable: true,
  },
  // Leg- and run-level.
  LEG_CANCELLED: {
    summary: 'The leg was cancelled before it finished; its instance was cleaned up',
    remediation: 'None needed if the cancellation was intended; start a new run.',
    retryable: false,
  },
  LEG_CRASHED: {
    summary: 'The leg workflow ended without a result (terminated or timed out)',
    remediation:
      'Inspect the leg with `temporal workflow show --workflow-id <leg id>`; its instances were terminated by the parent run.',
    retryable: false,
  },
  PROMOTION_CONFLICT: {
    summary: 'The approved digest changed while the run was going on; nothing was overwritten',
    remediation:
      "Someone else promoted meanwhile: check the parameter's history, then start a new run against the new approved digest.",
    retryable: false,
  },
  PROMOTION_STALE: {
    summary:
      'The candidate image was built before the image the approved digest holds; the pointer only moves forward, so nothing was written',
    remediation:
      'Run the matrix on a newer build. To go back to an older image on purpose, use `sentinel promote --rollback --env <env>`.',
    retryable: false,
  },
  PROMOTION_ORDER_UNKNOWN: {
    summary:
      'Sentinel could not tell whether the candidate is newer than the approved image (no manifest or no `created` time in its image config); nothing was written',
    remediation:
      'Push images whose OCI config carries `created` (docker build and buildx set it); if the approved image was deleted from the registry, push it back or roll back to one that exists.',
    retryable: false,
  },
  PROMOTION_OVERWRITTEN: {
    summary:
      "Another writer changed the approved digest between Sentinel's last read and its write: the candidate is approved now and the other value was overwritten",
    remediation:
      'The evidence names the overwritten value and who wrote it: decide which image the fleet should run, then restore it with `sentinel promote --rollback --env <env>` or a new run.',
    retryable: false,
  },
  ATTESTATION_FAILED: {
    summary:
      "The run's attestations could not be signed, stored or attached to the image; nothing was promoted",
    remediation:
      "Check the worker's kms:Sign permission on attestation.kmsKeyId, the evidence location, and push access to the image's registry (SENTINEL_REGISTRY_USERNAME / SENTINEL_REGISTRY_PASSWORD).",
    retryable: true,
  },
  ATTESTATION_KEY_UNAVAILABLE: {
    summary: "The environment's attestation key is missing or disabled; nothing was promoted",
    remediation:
      'Create or enable the KMS key named by attestation.kmsKeyId (ECC_NIST_P256, SIGN_VERIFY); `sentinel bootstrap --env <env>` reports it.',
    retryable: false,
  },
  PROMOTION_FAILED: {
    summary: 'The approved digest could not be written',
    remediation: "Check the worker's ssm:PutParameter permission on the approvedDigestParameter path.",
    retryable: true,
  },
  EVIDENCE_WRITE_FAILED: {
    summary: 'The evidence pack could not be stored',
    remediation: 'Check the evidence location (directory permissions or s3:PutObject on the bucket).',
    retryable: true,
  },
  SANDBOX_NOT_EMULATED: {
    summary:
      'A sandbox (simulated) run refused to start: an AWS service it uses is not pointed at an emulator',
    remediation:
      'Point every AWS service the run uses at the emulator: AWS_ENDPOINT_URL, or AWS_ENDPOINT_URL_<SERVICE> for each one named (npm run demo sets them).',
    retryable: false,
  },
  INTERNAL_ERROR: {
    summary: 'An unexpected error inside Sentinel',
    remediation:
      "Read the detail and the worker log; replay the run's history to reproduce (docs/replay.md).",
    retryable: false,
  },
} as const satisfies Record<string, FailureInfo>;

export type FailureCode = keyof typeof catalogue;

export const FAILURE_CODES = Object.keys(catalogue) as FailureCode[];

export function isFailureCode(value: unknown): value is FailureCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(catalogue, value);
}

export function failureInfo(code: FailureCode): FailureInfo {
  return catalogue[code];
}

/** Codes an activity raises as non-retryable: retrying cannot fix them. */
export const NON_RETRYABLE_CODES: FailureCode[] = FAILURE_CODES.filter((code) => !catalogue[code].retryable);

/** The failure as recorded in results and evidence. */
export interface FailureRecord {
  code: FailureCode;
  summary: string;
  remediation: string;
  /** What happened this time (an AWS error message, the check's own words). Never a secret. */
  detail?: string;
}

export function failureRecord(code: FailureCode, detail?: string): FailureRecord {
  const info = catalogue[code];
  return detail === undefined
    ? { code, summary: info.summary, remediation: info.remediation }
    : { code, summary: info.summary, remediation: info.remediation, detail: truncate(detail, 2000) };
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Whose failure a code is, which decides what a leg that ends with it means:
 * - `infra`: the infrastructure did not give the candidate a fair trial (no
 *   capacity anywhere, a host that never became ready, an SSM agent never
 *   online, an unreachable mirror or control plane, an API throttled past its
 *   budget, Sentinel itself). A leg that ends with it is tried again on a fresh
 *   machine (`infraRetries`); when no attempt gets through, the leg and the run
 *   are `inconclusive`: nothing is promoted, and the candidate is not blamed.
 * - `candidate`: the trial took place and this is its finding: the candidate,
 *   on the pinned target as configured, did not pass. The run failed.
 */
export type FailureKind = 'infra' | 'candidate';

/** Every code is marked: a code added to the catalogue without a kind does not compile. */
const FAILURE_KINDS = {
  INPUT_REFUSED: 'candidate',
  CONFIG_INVALID: 'candidate',
  LANE_BUSY: 'infra',
  LANE_WAIT_TIMEOUT: 'infra',
  RUN_TIMEOUT: 'infra',
  APPROVED_DIGEST_UNREADABLE: 'infra',
  APPROVED_DIGEST_INVALID: 'candidate',
  MANIFEST_NOT_FOUND: 'candidate',
  REGISTRY_UNREACHABLE: 'infra',
  REGISTRY_AUTH_REFUSED: 'candidate',
  CANDIDATE_TAG_NOT_FOUND: 'candidate',
  AMI_NOT_FOUND: 'candidate',
  AWS_CREDENTIALS_REFUSED: 'infra',
  INSTANCE_PROFILE_INVALID: 'infra',
  INSTANCE_CAPACITY_UNAVAILABLE: 'infra',
  PROVISION_FAILED: 'infra',
  PROVISION_TIMEOUT: 'infra',
  INSTANCE_NOT_RUNNING: 'infra',
  HOST_READY_TIMEOUT: 'infra',
  HOST_COMMAND_FAILED: 'infra',
  HOST_COMMAND_TIMEOUT: 'candidate',
  CHECK_OUTPUT_INVALID: 'candidate',
  HOST_SETUP_FAILED: 'candidate',
  HOST_SETUP_MIRROR_UNREACHABLE: 'infra',
  GPU_DRIVER_MISSING: 'candidate',
  GPU_TOOL_MISSING: 'candidate',
  GPU_DRIVER_ERROR: 'candidate',
  GPU_NOT_DETECTED: 'candidate',
  GPU_VENDOR_MISMATCH: 'candidate',
  GPU_COUNT_TOO_LOW: 'candidate',
  GPU_MODEL_MISMATCH: 'candidate',
  CONTAINER_RUNTIME_MISSING: 'candidate',
  CONTAINER_RUNTIME_UNAVAILABLE: 'candidate',
  GPU_RUNTIME_MISSING: 'candidate',
  CONTROL_PLANE_AUTH_FAILED: 'infra',
  CONTROL_PLANE_UNAVAILABLE: 'infra',
  CLUSTER_CREATE_FAILED: 'infra',
  INSTALLER_DOWNLOAD_FAILED: 'infra',
  INSTALLER_APPROVED_DIGEST_MISSING: 'candidate',
  INSTALLER_APPROVED_DIGEST_INVALID: 'candidate',
  INSTALLER_SOURCE_UNAVAILABLE: 'infra',
  INSTALLER_FAILED: 'candidate',
  IMAGE_PULL_FAILED: 'candidate',
  INSTALLED_DIGEST_MISMATCH: 'candidate',
  ONBOARDING_TIMEOUT: 'candidate',
  CLUSTER_FAILED: 'candidate',
  SMOKE_JOB_FAILED: 'candidate',
  SMOKE_JOB_TIMEOUT: 'candidate',
  CLEANUP_FAILED: 'infra',
  CLEANUP_INCOMPLETE: 'infra',
  JANITOR_SCAN_FAILED: 'infra',
  RUN_STATUS_UNKNOWN: 'infra',
  LEG_CANCELLED: 'infra',
  LEG_CRASHED: 'infra',
  PROMOTION_CONFLICT: 'infra',
  // The candidate's build time is older than the approved image's: a finding about the candidate.
  PROMOTION_STALE: 'candidate',
  PROMOTION_ORDER_UNKNOWN: 'infra',
  PROMOTION_OVERWRITTEN: 'infra',
  PROMOTION_FAILED: 'infra',
  NETWORK_NOT_FOUND: 'infra',
  PLACEMENT_UNAVAILABLE: 'infra',
  ATTESTATION_FAILED: 'infra',
  ATTESTATION_KEY_UNAVAILABLE: 'infra',
  SANDBOX_NOT_EMULATED: 'infra',
  EVIDENCE_WRITE_FAILED: 'infra',
  INTERNAL_ERROR: 'infra',
} as const satisfies Record<FailureCode, FailureKind>;

export function failureKind(code: FailureCode): FailureKind {
  return FAILURE_KINDS[code];
}

/** The infrastructure codes, for the docs and tests: a leg that ends with one of them is tried again. */
export const INFRA_CODES: FailureCode[] = FAILURE_CODES.filter((code) => FAILURE_KINDS[code] === 'infra');
