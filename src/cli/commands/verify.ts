/**
 * `sentinel verify --env <env> [--digest <ref>]`: checks the proof behind the
 * approved digest (or the one given), link by link: the pointer, the signed
 * verification summary, its signature by the environment's KMS key, and each
 * leg's signed test result. Prints the chain; exits 18 with a reason code
 * when a link is missing or bad. Reads only: SSM, KMS (public key) and the
 * image's registry.
 */
import { Command } from 'commander';
import { AwsClients } from '../../aws/clients';
import { awsErrorMessage } from '../../aws/errors';
import { checkDigest, digestCheckRequest } from '../../attestation/check-digest';
import { REASON_TEXT } from '../../attestation/verify';
import { approvedDigestOutcome } from '../../cloud-api/approved-digest';
import { ImageRefError, parsePinnedImage, type PinnedImage } from '../../domain/image-ref';
import { RegistryConfigError } from '../../registry/client';
import { environmentFrom, loadConfig, type GlobalOptions } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import type { Printer } from '../output';

export interface VerifyOptions extends GlobalOptions {
  env: string;
  digest?: string;
}

export function verifyCommand(printer: Printer): Command {
  return new Command('verify')
    .description(
      "check the signed proof that a digest passed this environment's GPU matrix (default: the approved digest)",
    )
    .requiredOption('--env <env>', 'environment of ops/invariants.yaml')
    .option('--digest <ref>', '<repository>@sha256:<digest> to check instead of the approved one')
    .action(async (options: VerifyOptions, command: Command) => {
      process.exitCode = await runVerify(
        { ...command.optsWithGlobals<VerifyOptions>(), ...options },
        printer,
      );
    });
}

export async function runVerify(options: VerifyOptions, printer: Printer): Promise<ExitCode> {
  const invariants = loadConfig(options);
  const env = environmentFrom(invariants, options.env);
  const aws = new AwsClients();
  try {
    let image: PinnedImage;
    let pointer: string;
    if (options.digest !== undefined) {
      try {
        image = parsePinnedImage(options.digest, env.image.repository);
      } catch (err) {
        if (err instanceof ImageRefError) throw new CliError(EXIT.REFUSED, `--digest: ${err.message}`);
        throw err;
      }
      pointer = `(not read: --digest given)`;
    } else {
      const read = await approvedDigestOutcome(
        aws,
        { region: env.awsRegion, parameter: env.approvedDigestParameter },
        env.image.repository,
        10_000,
      );
      if (read.kind === 'unavailable')
        throw new CliError(EXIT.AWS_ERROR, `cannot read ${env.approvedDigestParameter}: ${read.detail}`);
      if (read.kind !== 'approved') {
        return refuse(
          printer,
          options.env,
          undefined,
          'POINTER_UNSET',
          read.kind === 'invalid'
            ? `${env.approvedDigestParameter} holds an invalid value (${read.problem})`
            : `${env.approvedDigestParameter} does not exist`,
        );
      }
      image = read.image;
      pointer = `${env.approvedDigestParameter} = ${image.reference} (version ${read.version ?? '?'})`;
    }

    const check = await checkDigest(aws.kms(env.awsRegion), digestCheckRequest(options.env, env, image));

    printer.info(`environment: ${options.env} (${env.kind})`);
    printer.info(`  pointer    ${pointer}`);
    printer.info(
      `  key        ${env.attestation.kmsKeyId}${check.reason === 'KEY_UNAVAILABLE' ? '  UNAVAILABLE' : ''}`,
    );
    printer.info(`  registry   ${check.attestations.length} attestation(s) attached to ${image.digest}`);
    if (check.summary) {
      const s = check.summary;
      printer.info(
        `  summary    ${s.verificationResult} at ${s.timeVerified} by ${s.verifier.id} ${Object.values(s.verifier.version).join(' ')}`,
      );
      printer.info(
        `             run ${s.sentinel.runWorkflowId}${s.sentinel.simulated ? ' [SIMULATED]' : ''}, policy ${s.policy.uri} (sha256 ${s.policy.digest.sha256.slice(0, 12)}…)`,
      );
    }
    for (const leg of check.legs) {
      printer.info(
        `  leg        ${leg.ok ? 'ok  ' : 'FAIL'} ${leg.name}${leg.result ? ` ${leg.result}` : ''}${leg.reason ? ` (${leg.reason})` : ''}`,
      );
    }
    if (!check.ok) return refuse(printer, options.env, image, check.reason!, check.detail, check.legs);
    printer.info(
      `verified: ${image.reference} passed every target of ${options.env}, signed by ${env.attestation.kmsKeyId}`,
    );
    printer.json({
      verified: true,
      environment: options.env,
      digest: image.reference,
      summary: check.summary,
      legs: check.legs,
    });
    return EXIT.PASSED;
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof RegistryConfigError) throw new CliError(EXIT.CONFIG_INVALID, err.message);
    throw new CliError(EXIT.AWS_ERROR, `verify failed: ${awsErrorMessage(err)}`);
  } finally {
    aws.destroy();
  }
}

function refuse(
  printer: Printer,
  environment: string,
  image: PinnedImage | undefined,
  reason: keyof typeof REASON_TEXT,
  detail?: string,
  legs: unknown[] = [],
): ExitCode {
  const text = REASON_TEXT[reason];
  printer.info(`NOT VERIFIED (${reason}): ${text.summary}${detail ? ` — ${detail}` : ''}`);
  printer.info(`  remediation: ${text.remediation}`);
  printer.json({
    verified: false,
    environment,
    ...(image ? { digest: image.reference } : {}),
    reason,
    summary: text.summary,
    remediation: text.remediation,
    ...(detail ? { detail } : {}),
    legs,
  });
  return EXIT.UNATTESTED;
}
