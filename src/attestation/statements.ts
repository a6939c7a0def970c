/**
 * What Sentinel attests, as in-toto Statement v1 documents: one test result
 * per hardware leg, and one verification summary (SLSA VSA v1) per run.
 *
 * Pure data, no I/O: the activity that signs them and the verifier that
 * checks them share these types. docs/attestations.md shows an example of
 * each kind.
 */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const TEST_RESULT_PREDICATE = 'https://in-toto.io/attestation/test-result/v0.1';
export const VERIFICATION_SUMMARY_PREDICATE = 'https://slsa.dev/verification_summary/v1';
export const VERIFIER_ID = 'urn:radix:sentinel:gpu-matrix';
/** The DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface DigestSet {
  sha256: string;
}

export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: DigestSet;
  annotations?: Record<string, string>;
}

export interface Subject {
  name: string;
  digest: DigestSet;
}

export interface Statement<P> {
  _type: typeof STATEMENT_TYPE;
  subject: Subject[];
  predicateType: string;
  predicate: P;
}

export type AttestedResult = 'PASSED' | 'FAILED';

export interface TestResultPredicate {
  result: AttestedResult;
  configuration: ResourceDescriptor[];
  url: string;
  passedTests: string[];
  warnedTests: string[];
  failedTests: string[];
  /** Sentinel's own fields (in-toto consumers ignore what they do not know). */
  sentinel: { environment: string; target: string; simulated: boolean; runWorkflowId: string };
}

export interface VerificationSummaryPredicate {
  verifier: { id: string; version: Record<string, string> };
  timeVerified: string;
  resourceUri: string;
  policy: { uri: string; digest: DigestSet };
  inputAttestations: ResourceDescriptor[];
  verificationResult: AttestedResult;
  verifiedLevels: string[];
  slsaVersion: '1.0';
  sentinel: {
    environment: string;
    simulated: boolean;
    runWorkflowId: string;
    runId: string;
    targets: string[];
  };
}

/** The subject of every Sentinel attestation: the candidate image, by its sha256 digest (hex only, lower case). */
export function imageSubject(repository: string, digest: string): Subject {
  return { name: repository, digest: { sha256: digest.replace(/^sha256:/, '') } };
}

/** The custom "level" a PASSED summary vouches for: this environment's whole GPU matrix. */
export function matrixLevel(environment: string): string {
  return `SENTINEL_GPU_MATRIX_PASSED_${environment.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export interface LegAttestationInput {
  repository: string;
  digest: string;
  environment: string;
  runWorkflowId: string;
  simulated: boolean;
  target: { name: string; ami: string; instanceType: string; configSha256: string };
  /** Script name → sha256 hex of the exact bytes sent to the host. */
  scripts: Record<string, string>;
  url: string;
  passed: boolean;
  passedPhases: string[];
  failedPhases: string[];
}

export function legTestResult(input: LegAttestationInput): Statement<TestResultPredicate> {
  const { target } = input;
  return {
    _type: STATEMENT_TYPE,
    subject: [imageSubject(input.repository, input.digest)],
    predicateType: TEST_RESULT_PREDICATE,
    predicate: {
      result: input.passed ? 'PASSED' : 'FAILED',
      configuration: [
        { name: `target:${target.name}`, digest: { sha256: target.configSha256 } },
        { name: 'ami', uri: `ec2:ami/${target.ami}` },
        { name: 'instanceType', uri: `ec2:instance-type/${target.instanceType}` },
        ...Object.entries(input.scripts)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, sha256]) => ({ name, digest: { sha256 } })),
      ],
      url: input.url,
      passedTests: input.passedPhases,
      warnedTests: [],
      failedTests: input.failedPhases,
      sentinel: {
        environment: input.environment,
        target: target.name,
        simulated: input.simulated,
        runWorkflowId: input.runWorkflowId,
      },
    },
  };
}

export interface RunSummaryInput {
  repository: string;
  digest: string;
  environment: string;
  simulated: boolean;
  runWorkflowId: string;
  runId: string;
  sentinelVersion: string;
  configFile: string;
  configSha256: string;
  timeVerified: string;
  passed: boolean;
  targets: string[];
  /** The legs' signed envelopes, by name and the sha256 of their bytes. */
  legAttestations: ResourceDescriptor[];
}

export function runVerificationSummary(input: RunSummaryInput): Statement<VerificationSummaryPredicate> {
  return {
    _type: STATEMENT_TYPE,
    subject: [imageSubject(input.repository, input.digest)],
    predicateType: VERIFICATION_SUMMARY_PREDICATE,
    predicate: {
      verifier: { id: VERIFIER_ID, version: { sentinel: input.sentinelVersion } },
      timeVerified: input.timeVerified,
      resourceUri: `oci://${input.repository}@${input.digest}`,
      policy: { uri: input.configFile, digest: { sha256: input.configSha256 } },
      inputAttestations: input.legAttestations,
      verificationResult: input.passed ? 'PASSED' : 'FAILED',
      verifiedLevels: input.passed ? [matrixLevel(input.environment)] : [],
      slsaVersion: '1.0',
      sentinel: {
        environment: input.environment,
        simulated: input.simulated,
        runWorkflowId: input.runWorkflowId,
        runId: input.runId,
        targets: input.targets,
      },
    },
  };
}
