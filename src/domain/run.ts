/**
 * The shapes that travel between the client, the workflows and the
 * activities. Pure types: no Node APIs, so the workflow bundle can use them.
 */
import type { EnvironmentConfig, TargetConfig, Vendor } from '../config/schema';
import type { FailureRecord, PhaseName } from './failures';
import type { PinnedImage } from './image-ref';
import type { LegPlacement, PlacementAttempt } from './placement';

export type QueueMode = 'wait' | 'refuse';
export type Trigger = 'cli' | 'ci' | 'schedule';

export interface MatrixRunInput {
  environment: string;
  /** `<repository>@sha256:<hex>` of the environment's repository. */
  candidate: string;
  /**
   * The same candidate, as parsed where the run was started (the CLI, the
   * nightly run). Absent in runs started before it was carried, and from
   * starters that give the reference only: then the reference is parsed.
   */
  candidateImage?: PinnedImage;
  gitSha: string;
  ciRunId: string;
  dryRun: boolean;
  /** What to do when another run holds the environment's lane. */
  queue: QueueMode;
  trigger: Trigger;
  /** How the candidate was chosen, when not given directly (a scheduled run resolves a tag). */
  candidateSource?: CandidateSource;
}

/** A candidate chosen by tag: the digest the tag pointed to when the run started. */
export interface CandidateSource {
  kind: 'tag';
  tag: string;
  /** `<repository>:<tag>` */
  reference: string;
  digest: string;
  resolvedAt: string;
  /** The schedule that started the run, when one did. */
  scheduleId?: string;
}

export type PreflightCheckName = 'approved_digest' | 'manifest' | 'amis' | 'placement';

/** One check a run makes before any instance (every run, dry or not). */
export interface PreflightCheck {
  name: PreflightCheckName;
  outcome: 'passed' | 'failed';
  detail: string;
  failure?: FailureRecord;
}

/** Environment settings a leg needs: the environment without its list of targets. */
export type LegSettings = Omit<EnvironmentConfig, 'targets'>;

/** What `prepareRun` captures at the start of a run: one configuration snapshot for the whole run. */
export interface RunPlan {
  environment: string;
  settings: LegSettings;
  targets: TargetConfig[];
  candidate: PinnedImage;
  /** True when hosts are simulated on the worker's machine (local executor). */
  simulated: boolean;
  configFile: string;
  configSha256: string;
}

export interface LegInput {
  runWorkflowId: string;
  environment: string;
  candidate: PinnedImage;
  target: TargetConfig;
  settings: LegSettings;
  simulated: boolean;
  /** The (instance type, subnet) pairs to sweep, from preflight (absent: instance types only, as before placement). */
  placement?: LegPlacement;
}

export type PhaseOutcome = 'passed' | 'failed' | 'cancelled' | 'skipped';

export interface PhaseRecord {
  name: PhaseName;
  outcome: PhaseOutcome;
  startedAt?: string;
  durationSeconds?: number;
  failure?: FailureRecord;
}

export interface InstanceFacts {
  instanceId: string;
  instanceType: string;
  ami: string;
  region: string;
  launchedAt?: string;
  subnetId?: string;
  availabilityZone?: string;
}

/** What a setup script did with one component: put it there, found it there, or loaded it (a kernel module). */
export type SetupAction = 'installed' | 'present' | 'loaded';

export interface SetupComponent {
  name: string;
  version: string;
  action: SetupAction;
}

/** One setup script's run on the host (ops/setup/<script>.sh). */
export interface SetupScriptRun {
  script: string;
  durationSeconds: number;
  components: SetupComponent[];
}

/** What the host was made into before the checks: the setup scripts that ran, in order ([] for a baked AMI). */
export interface HostFacts {
  setup: SetupScriptRun[];
}

export interface GpuFacts {
  vendor: Vendor;
  model: string;
  count: number;
  driverVersion: string;
  memoryMiB?: number;
}

export interface RuntimeFacts {
  engine: string;
  version: string;
  gpuRuntime: string;
}

export interface OnboardingFacts {
  clusterId: string;
  installedDigest: string;
  onboardingDurationSeconds: number;
  timeToActiveSeconds: number;
}

export interface SmokeJobFacts {
  jobId: string;
  status: string;
  durationSeconds: number;
  message?: string;
}

/** `inconclusive`: every attempt ended for an infrastructure reason (failure kind `infra`); the candidate is not blamed. */
export type LegOutcome = 'passed' | 'failed' | 'cancelled' | 'inconclusive';

/**
 * What one machine of a leg cost: instance-seconds from its launch until it
 * was seen `terminated` (EC2 bills until then), and the leaked part of them,
 * from the leg's end (its cleanup starting) until termination.
 */
export interface LegCost {
  instanceId: string;
  instanceType: string;
  launchedAt: string;
  /** When the instance was seen terminated; absent when it was not within the bounded wait (instance-seconds then run to the end of the wait). */
  terminatedAt?: string;
  terminationObserved: boolean;
  instanceSeconds: number;
  leakedSeconds: number;
  /** The configured on-demand price; absent when the environment has none for this region and type. */
  usdPerHour?: number;
  usd?: number;
}

/** A run's machines in total, every attempt of every leg included. */
export interface RunCost {
  instanceSeconds: number;
  leakedInstanceSeconds: number;
  /** Sum of the priced machines; null when no machine had a price. */
  usd: number | null;
  /** Machines without a configured price (their seconds are counted, their cost is not). */
  unpricedInstances: number;
  /** The date the configured prices were read, and where. */
  pricesReadAt?: string;
  priceSource?: string;
}

export interface LegResult {
  target: string;
  vendor: Vendor;
  provider: string;
  workflowId: string;
  outcome: LegOutcome;
  simulated: boolean;
  executor: string;
  region: string;
  ami: string;
  instance?: InstanceFacts;
  /** Host preparation (phase host_setup); absent in runs that predate it. */
  host?: HostFacts;
  /** Every RunInstances attempt of the capacity sweep, in order (absent in runs that predate it). */
  provisionAttempts?: PlacementAttempt[];
  gpu?: GpuFacts;
  runtime?: RuntimeFacts;
  onboarding?: OnboardingFacts;
  smokeJob?: SmokeJobFacts;
  phases: PhaseRecord[];
  /** The failure that decided the outcome (the first failed phase). */
  failure?: FailureRecord;
  /** Set when cleanup itself failed: the janitor will reap what is left. */
  cleanupFailure?: FailureRecord;
  /** Set when cleanup failed: what may still be running (the CLI exits 14, the alert metric counts it). */
  leftBehind?: LeftBehind[];
  /** Which attempt this is (1 when absent): an attempt after an infrastructure failure runs as its own leg workflow, on its own machine. */
  attempt?: number;
  /** Attempts before this one that ended for an infrastructure reason, oldest first. */
  earlierAttempts?: LegResult[];
  /** What this attempt's machine cost (absent when no machine was launched, or in runs that predate cost). */
  cost?: LegCost;
}

/** A machine or test cluster that a failed cleanup may have left behind. */
export interface LeftBehind {
  kind: 'instance' | 'cluster';
  /** The instance id, `radix:leg=<leg id>` when the leg never learnt its instance's id, or the cluster's name. */
  id: string;
  detail: string;
}

/** What a run's legs may have left behind, by target. */
export type CleanupIncomplete = Array<LeftBehind & { target: string }>;

/** `inconclusive`: no leg failed on the candidate, but at least one never got a fair trial (infrastructure): nothing promoted. */
export type Verdict =
  | 'passed'
  | 'failed'
  | 'cancelled'
  | 'lane_busy'
  | 'promotion_conflict'
  | 'promotion_stale'
  | 'promotion_overwritten'
  | 'inconclusive';

export type PromotionStatus =
  | 'promoted'
  | 'already_promoted'
  | 'not_promoted_dry_run'
  | 'not_promoted_failed'
  | 'conflict'
  | 'stale'
  | 'overwritten'
  | 'error';

/** The build times that ordered a promotion: the image configs' `created`. */
export interface PromotionOrder {
  candidateCreated: string;
  /** The image the pointer held when the order was checked. */
  approvedReference: string;
  approvedCreated: string;
}

/** A value of the pointer that another writer put there and Sentinel's write replaced. */
export interface OverwrittenValue {
  reference: string;
  version: number;
  lastModified?: string;
  /** The description the other write left (who wrote it). */
  description?: string;
}

/** What happened to the approved pointer in a run. */
export interface PromotionRecord {
  status: PromotionStatus;
  detail?: string;
  /** Why the candidate was (or was not) newer than the approved image. */
  order?: PromotionOrder;
  /** PROMOTION_OVERWRITTEN: the values of other writers that this run's write replaced. */
  overwritten?: OverwrittenValue[];
}

export interface ApprovedDigestState {
  /** The parameter's value, or null when the parameter does not exist. */
  reference: string | null;
  version: number | null;
}

export interface MatrixRunResult {
  schema: 'sentinel.run-result/v1';
  workflowId: string;
  runId: string;
  environment: string;
  simulated: boolean;
  executor: string;
  dryRun: boolean;
  trigger: Trigger;
  candidate: string;
  gitSha: string;
  ciRunId: string;
  startedAt: string;
  finishedAt: string;
  verdict: Verdict;
  failure?: FailureRecord;
  approvedBefore: ApprovedDigestState | null;
  approvedAfter: ApprovedDigestState | null;
  promotion: PromotionRecord;
  legs: LegSummary[];
  evidence?: EvidenceLocation;
  /** The checks made before any instance (absent in runs that predate them). */
  preflight?: PreflightCheck[];
  /** The janitor pre-step, in numbers (its full report is in the evidence). */
  janitor?: JanitorSummary;
  /** The run's signed verification summary: its result and its manifest in the image's registry. */
  attestation?: { result: 'PASSED' | 'FAILED'; summary: string };
  /** What the run's machines cost (absent in runs that predate cost, and in runs that launched none). */
  cost?: RunCost;
  /** Machines and clusters a failed cleanup may have left: `sentinel run` exits 14 (CLEANUP_INCOMPLETE). */
  cleanupIncomplete?: CleanupIncomplete;
}

export interface JanitorSummary {
  workflowId: string;
  terminated: number;
  wouldTerminate: number;
  spared: number;
  failure?: FailureRecord;
}

export interface LegSummary {
  target: string;
  vendor: Vendor;
  workflowId: string;
  outcome: LegOutcome;
  instanceId?: string;
  failure?: FailureRecord;
  /** Attempts the leg took (absent: one). */
  attempts?: number;
  /** USD this leg's machines cost, every attempt included (absent when unpriced). */
  costUsd?: number;
}

export interface EvidenceLocation {
  json: string;
  markdown: string;
}

/** Live status of a leg, answered by its `progress` query. */
export interface LegProgress {
  target: string;
  phase: PhaseName | 'done';
  instanceId?: string;
  phases: PhaseRecord[];
  outcome?: LegOutcome;
}

export type RunStage =
  | 'preparing'
  | 'waiting_for_lane'
  | 'preflight'
  | 'running_legs'
  | 'attesting'
  | 'promoting'
  | 'writing_evidence'
  | 'done';

/** Live status of a matrix run, answered by its `progress` query. */
export interface RunProgress {
  stage: RunStage;
  environment: string;
  candidate: string;
  simulated: boolean;
  lane?: { position?: number; holder?: string };
  legs: Array<{ target: string; workflowId: string; outcome?: LegOutcome }>;
  verdict?: Verdict;
}
