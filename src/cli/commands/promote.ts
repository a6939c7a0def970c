/**
 * `sentinel promote --rollback --env <env>`: restores the previous approved
 * digest from the parameter's history (src/promotion/rollback.ts), with an
 * evidence record. Promotion itself only ever happens through `sentinel run`.
 */
import os from 'node:os';
import { Command } from 'commander';
import { AwsClients } from '../../aws/clients';
import { awsErrorMessage } from '../../aws/errors';
import { checkDigest, digestCheckRequest } from '../../attestation/check-digest';
import { REASON_TEXT } from '../../attestation/verify';
import { parsePinnedImage } from '../../domain/image-ref';
import { PromotionConflictError } from '../../promotion/errors';
import { promotionFailureOf } from '../../promotion/failures';
import { applyRollback, planRollback, RollbackError } from '../../promotion/rollback';
import { environmentFrom, loadConfig, type GlobalOptions } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import type { Printer } from '../output';

export interface PromoteOptions extends GlobalOptions {
  env: string;
  rollback?: boolean;
  dryRun?: boolean;
  reason?: string;
}

export function promoteCommand(printer: Printer): Command {
  return new Command('promote')
    .description(
      'change the approved digest by hand: --rollback restores the previous one (promotion itself goes through `sentinel run`)',
    )
    .requiredOption('--env <env>', 'environment of ops/invariants.yaml')
    .option('--rollback', 'restore the newest earlier valid value of the approved-digest parameter')
    .option('--reason <text>', 'why, recorded in the evidence')
    .option('--dry-run', 'show what would be restored; write nothing')
    .action(async (options: PromoteOptions, command: Command) => {
      process.exitCode = await runPromote(
        { ...command.optsWithGlobals<PromoteOptions>(), ...options },
        printer,
      );
    });
}

function actor(): string {
  return process.env.GITHUB_ACTOR
    ? `${process.env.GITHUB_ACTOR} (GitHub Actions)`
    : `${os.userInfo().username}@${os.hostname()}`;
}

export async function runPromote(options: PromoteOptions, printer: Printer): Promise<ExitCode> {
  if (!options.rollback) {
    throw new CliError(
      EXIT.REFUSED,
      'only --rollback is supported: a digest is promoted by passing the GPU matrix (sentinel run)',
    );
  }
  const invariants = loadConfig(options);
  const env = environmentFrom(invariants, options.env);
  const aws = new AwsClients();
  try {
    const plan = await planRollback(aws, options.env, env);
    printer.info(`${plan.parameter} (${plan.region})`);
    printer.info(`  current:  ${plan.current.reference} (version ${plan.current.version})`);
    printer.info(
      `  restores: ${plan.restore.reference} (version ${plan.restore.version}${plan.restore.lastModified ? `, ${plan.restore.lastModified}` : ''})`,
    );
    // Only a digest with a PASSED, signed summary for this environment may reach customers again.
    const restore = parsePinnedImage(plan.restore.reference, env.image.repository);
    const proof = await checkDigest(aws.kms(env.awsRegion), digestCheckRequest(options.env, env, restore));
    if (!proof.ok) {
      const text = REASON_TEXT[proof.reason!];
      throw new CliError(
        EXIT.UNATTESTED,
        `refusing to restore ${plan.restore.reference}: ${proof.reason}: ${text.summary}${proof.detail ? ` (${proof.detail})` : ''}`,
        [text.remediation],
      );
    }
    printer.info(
      `  attested: PASSED summary of ${proof.summary!.sentinel.runWorkflowId}, signed by ${env.attestation.kmsKeyId}`,
    );
    if (options.dryRun) {
      printer.info('dry run: nothing written');
      printer.json({ status: 'dry_run', plan });
      return EXIT.PASSED;
    }
    const { record, evidence } = await applyRollback(aws, plan, {
      actor: actor(),
      ...(options.reason ? { reason: options.reason } : {}),
      evidenceLocation: env.evidence.location,
      configFile: invariants.file,
      configSha256: invariants.sha256,
    });
    printer.info(
      `rolled back: ${record.after.reference} is approved again (version ${record.after.version})`,
    );
    for (const o of record.overwritten ?? []) {
      printer.info(
        `warning: PROMOTION_OVERWRITTEN: another write landed just before the rollback's and was overwritten: ${o.reference} (version ${o.version}${o.description ? `, ${o.description}` : ''})`,
      );
    }
    printer.info(`evidence: ${evidence.json}\n          ${evidence.markdown}`);
    printer.json({ status: 'rolled_back', record, evidence });
    return record.overwritten ? EXIT.PROMOTION_OVERWRITTEN : EXIT.PASSED;
  } catch (err) {
    if (err instanceof RollbackError) {
      throw new CliError(err.reason === 'parameter_absent' ? EXIT.AWS_ERROR : EXIT.FAILED, err.message);
    }
    if (err instanceof PromotionConflictError) {
      throw new CliError(EXIT.PROMOTION_CONFLICT, `rollback not written: ${err.message}`);
    }
    const failure = promotionFailureOf(err);
    if (failure) throw new CliError(EXIT.AWS_ERROR, `rollback failed (${failure.code}): ${failure.message}`);
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT.AWS_ERROR, `rollback failed: ${awsErrorMessage(err)}`);
  } finally {
    aws.destroy();
  }
}
