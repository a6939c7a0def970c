/**
 * `sentinel report --env <env> --out <dir> [--since 30d] [--evidence <dir|s3://…>] [--run <id>]`:
 * a static HTML site from the evidence store (the environment's
 * evidence.location unless --evidence names another): index.html with the
 * runs and per-target charts over time, and one page per run. Nothing in it
 * is fetched at view time.
 */
import { Command } from 'commander';
import path from 'node:path';
import { AwsClients } from '../../aws/clients';
import { parseDuration } from '../../domain/duration';
import { parseS3Location } from '../../evidence/store';
import { ReportOutputError, writeReport } from '../../report/build';
import { EvidenceUnreadableError, loadEvidence } from '../../report/load';
import { loadTemporalConfig } from '../../temporal/connection';
import { environmentFrom, loadConfig, type GlobalOptions } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import type { Printer } from '../output';

export interface ReportOptions extends GlobalOptions {
  env: string;
  out: string;
  since?: string;
  evidence?: string;
  run?: string;
}

export function reportCommand(printer: Printer): Command {
  return new Command('report')
    .description(
      'build a static HTML report (runs table, charts over time, a page per run) from the evidence store',
    )
    .requiredOption('--env <env>', 'environment of ops/invariants.yaml')
    .requiredOption('--out <dir>', 'directory to write index.html and runs/*.html into')
    .option(
      '--since <age>',
      'only the runs started within this age: 12h, 30d (default: all the evidence in the store)',
    )
    .option(
      '--evidence <location>',
      "a directory or s3://bucket/prefix/ to read instead of the environment's evidence.location",
    )
    .option('--run <id>', "write only this run's page (its workflow id, run id or CI run id)")
    .action(async (options: ReportOptions, command: Command) => {
      process.exitCode = await runReport(
        { ...command.optsWithGlobals<ReportOptions>(), ...options },
        printer,
      );
    });
}

export async function runReport(options: ReportOptions, printer: Printer): Promise<ExitCode> {
  let sinceMs: number | undefined;
  if (options.since !== undefined) {
    sinceMs = parseDuration(options.since);
    if (!sinceMs) {
      throw new CliError(
        EXIT.REPORT_SINCE_INVALID,
        `--since ${JSON.stringify(options.since)} is not an age: give a number and a unit (m, h or d), e.g. --since 12h or --since 30d`,
      );
    }
  }
  const invariants = loadConfig(options);
  const env = environmentFrom(invariants, options.env);
  const location =
    options.evidence === undefined || parseS3Location(options.evidence)
      ? (options.evidence ?? env.evidence.location)
      : path.resolve(options.evidence);

  const aws = new AwsClients();
  let loaded;
  try {
    loaded = await loadEvidence(location, env.awsRegion, aws);
  } catch (err) {
    if (err instanceof EvidenceUnreadableError)
      throw new CliError(EXIT.REPORT_EVIDENCE_UNREADABLE, err.message);
    throw err;
  } finally {
    aws.destroy();
  }
  for (const warning of loaded.warnings) process.stderr.write(`sentinel: warning: ${warning}\n`);

  const cutoff = sinceMs !== undefined ? Date.now() - sinceMs : undefined;
  const otherEnvironments = loaded.runs.filter((r) => r.environment !== options.env).length;
  const runs = loaded.runs.filter(
    (r) => r.environment === options.env && (cutoff === undefined || r.startMs >= cutoff),
  );

  let only;
  if (options.run !== undefined) {
    only = loaded.runs.find(
      (r) => r.environment === options.env && [r.id, r.runId, r.ciRunId].includes(options.run!),
    );
    if (!only) {
      const known = loaded.runs
        .filter((r) => r.environment === options.env)
        .slice(0, 3)
        .map((r) => r.id);
      throw new CliError(
        EXIT.REPORT_RUN_UNKNOWN,
        `no evidence pack for run ${JSON.stringify(options.run)} of environment ${options.env} in ${location}: name it by its workflow id, run id or CI run id` +
          (known.length
            ? ` (newest there: ${known.join(', ')}); sentinel report without --run lists them all`
            : ' (the store has no evidence pack of this environment)'),
      );
    }
  }

  let ui: { url?: string; namespace: string };
  try {
    ui = { namespace: loadTemporalConfig().namespace };
  } catch {
    ui = { namespace: process.env.TEMPORAL_NAMESPACE || 'default' };
  }
  const uiUrl = process.env.TEMPORAL_UI_URL || invariants.temporal.uiUrl;
  if (uiUrl) ui.url = uiUrl;

  let written;
  try {
    // The location as the operator named it (a relative --evidence stays relative in the page).
    written = writeReport(
      options.out,
      runs,
      {
        environment: options.env,
        location: options.evidence ?? location,
        ...(options.since ? { since: options.since } : {}),
        generatedAt: new Date(),
        warnings: loaded.warnings,
      },
      ui,
      only,
    );
  } catch (err) {
    if (err instanceof ReportOutputError) throw new CliError(EXIT.REPORT_OUTPUT_UNWRITABLE, err.message);
    throw err;
  }

  if (written.index) {
    printer.info(
      `report: ${runs.length} run(s) of ${options.env} from ${location}${otherEnvironments ? ` (${otherEnvironments} of other environments left out)` : ''}`,
    );
    printer.info(`open ${written.index}`);
  } else {
    printer.info(`open ${written.pages[0]}`);
  }
  if (loaded.warnings.length)
    printer.info(
      `${loaded.warnings.length} evidence file(s) skipped (named above); the report shows the rest`,
    );
  printer.json({
    index: written.index ?? null,
    pages: written.pages,
    runs: only ? 1 : runs.length,
    warnings: loaded.warnings,
  });
  return loaded.warnings.length ? EXIT.REPORT_EVIDENCE_SKIPPED : EXIT.PASSED;
}
