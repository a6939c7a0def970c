/**
 * The shapes that travel between the client, the workflows and the
 * activities. Pure types: no Node APIs, so the workflow bundle can use them.
 */
import type { EnvironmentConfig, TargetConfig, Vendor } from '../config/schema';
import type { FailureRecord, PhaseName } from './failures';
import type { PinnedImage } from './image-ref';

export type QueueMode = 'wait' | 'refuse';
export type Trigger = 'cli' | 'ci' | 'schedule';

export interface MatrixRunInput {
  environment: string;
  /** `<repository>@sha256:<hex>` of the environment's repository. */
  candidate: string;
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

export type PreflightCheckName = 'approved_digest' | 'manifest' | 'amis';

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

export type LegOutcome = 'passed' | 'failed' | 'cancelled';

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

export type Verdict = 'passed' | 'failed' | 'cancelled' | 'lane_busy' | 'promotion_conflict';

export type PromotionStatus =
  | 'promoted'
  | 'already_promoted'
  | 'not_promoted_dry_run'
  | 'not_promoted_failed'
  | 'conflict'
  | 'error';

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
  promotion: { status: PromotionStatus; detail?: string };
  legs: LegSummary[];
  evidence?: EvidenceLocation;
  /** The checks made before any instance (absent in runs that predate them). */
  preflight?: PreflightCheck[];
  /** The janitor pre-step, in numbers (its full report is in the evidence). */
  janitor?: JanitorSummary;
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
