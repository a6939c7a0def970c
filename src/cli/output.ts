/**
 * Human output goes to stdout (or stderr when --json keeps stdout for the one
 * machine-readable result).
 */
import { formatDuration } from '../domain/duration';
import type { LegOutcome, MatrixRunResult, RunCost } from '../domain/run';

const OUTCOME_LABEL: Record<LegOutcome, string> = {
  passed: 'PASS',
  failed: 'FAIL',
  cancelled: 'CANC',
  inconclusive: 'INCO',
};

export interface Printer {
  readonly jsonMode: boolean;
  /** A line for people. */
  info(line: string): void;
  /** The one machine-readable result (printed only with --json). */
  json(value: unknown): void;
}

export function createPrinter(jsonMode: boolean): Printer {
  return {
    jsonMode,
    info: (line) => (jsonMode ? process.stderr : process.stdout).write(`${line}\n`),
    json: (value) => {
      if (jsonMode) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

export function printResult(printer: Printer, result: MatrixRunResult, url?: string): void {
  const seconds = (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000;
  printer.info('');
  printer.info(
    `verdict: ${result.verdict.toUpperCase()}${result.dryRun ? ' (dry run)' : ''}${result.simulated ? ' [SIMULATED]' : ''} in ${formatDuration(seconds * 1000)}`,
  );
  for (const leg of result.legs) {
    const failure = leg.failure ? `  ${leg.failure.code}: ${leg.failure.detail ?? leg.failure.summary}` : '';
    printer.info(
      `  ${OUTCOME_LABEL[leg.outcome] ?? leg.outcome}  ${leg.target.padEnd(16)} ${leg.instanceId ?? ''}${failure}`,
    );
    if (leg.attempts)
      printer.info(
        `        ${leg.attempts} attempts: the earlier ones ended for an infrastructure reason, each on its own machine`,
      );
    if (leg.outcome === 'inconclusive')
      printer.info(
        '        inconclusive: the infrastructure never gave the candidate a fair trial here; the candidate is not blamed',
      );
    if (leg.failure) printer.info(`        remediation: ${leg.failure.remediation}`);
  }
  for (const check of result.preflight ?? []) {
    printer.info(
      `  ${check.outcome === 'passed' ? 'ok  ' : 'FAIL'}  preflight ${check.name.replace('_', ' ')}: ${check.detail}`,
    );
  }
  if (result.janitor) {
    const j = result.janitor;
    printer.info(
      j.failure
        ? `  janitor: did not complete (${j.failure.code}: ${j.failure.detail ?? j.failure.summary}); the run went on`
        : `  janitor: ${result.dryRun ? `${j.wouldTerminate} would be terminated` : `${j.terminated} terminated`}, ${j.spared} spared (${j.workflowId})`,
    );
  }
  if (result.failure) {
    printer.info(`  ${result.failure.code}: ${result.failure.detail ?? result.failure.summary}`);
    printer.info(`  remediation: ${result.failure.remediation}`);
  }
  if (result.cost) printer.info(costLine(result.cost));
  if (result.cleanupIncomplete?.length) {
    printer.info(
      `CLEANUP INCOMPLETE: ${result.cleanupIncomplete.length} resource(s) may be left running; terminate or delete them (or run \`sentinel janitor\`):`,
    );
    for (const left of result.cleanupIncomplete)
      printer.info(`  LEFT  ${left.target.padEnd(16)} ${left.kind} ${left.id}: ${left.detail}`);
  }
  printer.info(
    `promotion: ${result.promotion.status}${result.promotion.detail ? ` (${result.promotion.detail})` : ''}`,
  );
  printer.info(`approved before: ${result.approvedBefore?.reference ?? '(none)'}`);
  printer.info(`approved after:  ${result.approvedAfter?.reference ?? '(none)'}`);
  if (result.evidence)
    printer.info(`evidence: ${result.evidence.json}\n          ${result.evidence.markdown}`);
  printer.json({ ...result, ...(url ? { url } : {}) });
}

/** `cost: $0.0123 for 95.2 instance-seconds (2.1 leaked), on-demand prices read 2026-07-20` */
export function costLine(cost: RunCost): string {
  const usd = cost.usd === null ? 'unpriced' : `$${cost.usd.toFixed(4)}`;
  const unpriced =
    cost.usd !== null && cost.unpricedInstances > 0
      ? `, ${cost.unpricedInstances} machine(s) without a price`
      : '';
  const read = cost.pricesReadAt ? `, on-demand prices read ${cost.pricesReadAt}` : '';
  return `cost: ${usd} for ${cost.instanceSeconds.toFixed(1)} instance-seconds (${cost.leakedInstanceSeconds.toFixed(1)} leaked after the legs ended)${unpriced}${read}`;
}
