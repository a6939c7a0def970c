/**
 * The evidence pack every run leaves behind, whatever its outcome.
 * Schema `sentinel.evidence/v1` (docs/evidence.md, docs/evidence-v1.schema.json).
 * Additive changes keep v1; anything else bumps the version.
 */
import type { FailureRecord } from './failures';
import type { JanitorOutcome } from './janitor';
import type {
  ApprovedDigestState,
  CandidateSource,
  CleanupIncomplete,
  LegResult,
  PreflightCheck,
  PromotionRecord,
  RunCost,
  Trigger,
  Verdict,
} from './run';

export const EVIDENCE_SCHEMA = 'sentinel.evidence/v1';

export interface EvidenceRecord {
  schema: typeof EVIDENCE_SCHEMA;
  /** True when the hosts were simulated (local executor): such a run proves nothing about real hardware. */
  simulated: boolean;
  verdict: Verdict;
  failure?: FailureRecord;
  run: {
    workflowId: string;
    runId: string;
    environment: string;
    trigger: Trigger;
    dryRun: boolean;
    gitSha: string;
    ciRunId: string;
    startedAt: string;
    finishedAt: string;
    durationSeconds: number;
    executor: string;
    configFile: string;
    configSha256: string;
    /** How the candidate was chosen when a schedule started the run (the tag and what it resolved to). */
    candidateSource?: CandidateSource;
  };
  candidate: { reference: string; repository: string; digest: string };
  approvedDigest: {
    parameter: string;
    before: ApprovedDigestState | null;
    after: ApprovedDigestState | null;
  };
  promotion: PromotionRecord;
  legs: LegResult[];
  /** Checks made before any instance: approved digest, registry manifest, pinned AMIs. */
  preflight?: PreflightCheck[];
  /** The janitor pre-step: what it terminated (or would have, in a dry run) and spared. */
  janitor?: JanitorOutcome;
  /** Who asked the run to cancel and why (`sentinel runs cancel --reason`); absent when nobody said. */
  cancellation?: { reason: string; requestedBy: string };
  /** Machines and clusters a failed cleanup may have left running (absent when every cleanup completed). */
  cleanupIncomplete?: CleanupIncomplete;
  /** What the run's machines cost: instance-seconds, leaked instance-seconds and USD at the configured prices. */
  cost?: RunCost;
  /** The run's signed attestations (docs/attestations.md): where they are stored and attached. */
  attestation?: AttestationRecord;
}

export interface AttestationRecord {
  result: 'PASSED' | 'FAILED';
  kmsKeyId: string;
  summary: { file: string; registryManifest: string; statementSha256: string };
  legs: Array<{ target: string; file: string; registryManifest: string; statementSha256: string }>;
  publicKey: string;
}
