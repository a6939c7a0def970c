/**
 * `sentinel bootstrap --env <env> [--apply] [--initial-digest <ref>]`: what
 * the AWS account still lacks for an environment (src/bootstrap/bootstrap.ts)
 * and, with --apply, creating it. Exit 0 when nothing is missing, 8 when
 * something is (or AWS refused), 2 when the input is refused (before any call).
 */
import { Command } from 'commander';
import { AwsClients } from '../../aws/clients';
import { awsErrorMessage, isCredentialError } from '../../aws/errors';
import { bootstrapEnvironment, type BootstrapReport } from '../../bootstrap/bootstrap';
import { ImageRefError, parsePinnedImage } from '../../domain/image-ref';
import { environmentFrom, loadConfig, type GlobalOptions } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import type { Printer } from '../output';

export interface BootstrapCliOptions extends GlobalOptions {
  env: string;
  apply?: boolean;
  initialDigest?: string;
}

export function bootstrapCommand(printer: Printer): Command {
  return new Command('bootstrap')
    .description(
      'report what the AWS account lacks for an environment (instance profile, approved-digest parameter, AMIs, evidence store); --apply creates it',
    )
    .requiredOption('--env <env>', 'environment of ops/invariants.yaml')
    .option('--apply', 'create what is missing, idempotently; an existing value is never overwritten')
    .option(
      '--initial-digest <image>',
      'with --apply: the approved digest to create the parameter with, if it does not exist (<repository>@sha256:<64 hex>)',
    )
    .action(async (options: BootstrapCliOptions, command: Command) => {
      process.exitCode = await runBootstrap(
        { ...command.optsWithGlobals<BootstrapCliOptions>(), ...options },
        printer,
      );
    });
}

export async function runBootstrap(options: BootstrapCliOptions, printer: Printer): Promise<ExitCode> {
  const invariants = loadConfig(options);
  const env = environmentFrom(invariants, options.env);
  if (options.initialDigest !== undefined) {
    try {
      parsePinnedImage(options.initialDigest, env.image.repository);
    } catch (err) {
      if (err instanceof ImageRefError)
        throw new CliError(EXIT.REFUSED, `--initial-digest refused: ${err.message}`);
      throw err;
    }
    if (!options.apply) printer.info('note: --initial-digest is only used with --apply');
  }
  const aws = new AwsClients();
  let report: BootstrapReport;
  try {
    report = await bootstrapEnvironment(aws, options.env, env, {
      apply: Boolean(options.apply),
      ...(options.initialDigest ? { initialDigest: options.initialDigest } : {}),
    });
  } catch (err) {
    if (err instanceof CliError) throw err;
    const hint = isCredentialError(err)
      ? '; check the AWS credentials and that they carry the operator policy (infra/sentinel-iam.yaml)'
      : '';
    throw new CliError(EXIT.AWS_ERROR, `bootstrap of ${options.env} stopped: ${awsErrorMessage(err)}${hint}`);
  } finally {
    aws.destroy();
  }
  printReport(printer, report, env.awsRegion);
  return report.complete ? EXIT.PASSED : EXIT.AWS_ERROR;
}

function printReport(printer: Printer, report: BootstrapReport, region: string): void {
  printer.info(
    `bootstrap ${report.environment} (${region})${report.applied ? ', applied' : ', report only'}:`,
  );
  for (const item of report.items) {
    printer.info(`  ${item.status.toUpperCase().padEnd(8)} ${item.item.padEnd(17)} ${item.detail}`);
    if (item.remediation && item.status !== 'present' && item.status !== 'created')
      printer.info(`  ${''.padEnd(8)} ${''.padEnd(17)} fix: ${item.remediation}`);
  }
  printer.info(
    report.complete
      ? 'complete: nothing is missing'
      : `incomplete: ${report.items
          .filter((i) => i.status === 'missing' || i.status === 'invalid')
          .map((i) => i.item)
          .join(', ')}`,
  );
  printer.json(report);
}
