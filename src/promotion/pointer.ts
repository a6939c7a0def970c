/**
 * The approved pointer: one SSM parameter per environment, holding
 * `<repository>@sha256:<digest>`. Read at the start and end of every run and
 * by the installer endpoint (this file); written compare-and-set by the
 * promotion and by `sentinel promote --rollback` (./compare-and-set.ts), and
 * nowhere else. The write and the history live in files of their own so that
 * what only reads (the installer endpoint) does not load them: the IAM test
 * derives each role's AWS calls from what its entry point loads
 * (test/infra/iam.test.ts), and the installer's role may only read.
 *
 * Fails with the errors of ./errors.ts; what they mean in the failure
 * catalogue is ./failures.ts.
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { AwsClients } from '../aws/clients';
import { awsErrorMessage, awsErrorName } from '../aws/errors';
import type { ApprovedDigestState } from '../domain/run';
import { PointerAccessError } from './errors';

/** Where an environment's approved pointer lives. */
export interface ApprovedDigestRef {
  region: string;
  parameter: string;
}

/** Only the SSM clients: what the pointer needs of AwsClients. */
export type SsmClients = Pick<AwsClients, 'ssm'>;

/** The pointer's value and version; both null when the parameter does not exist. PointerAccessError when SSM cannot be read. */
export async function readApprovedDigest(
  aws: SsmClients,
  ref: ApprovedDigestRef,
  options: { signal?: AbortSignal } = {},
): Promise<ApprovedDigestState> {
  try {
    const out = await aws
      .ssm(ref.region)
      .send(
        new GetParameterCommand({ Name: ref.parameter }),
        options.signal ? { abortSignal: options.signal } : {},
      );
    return { reference: out.Parameter?.Value ?? null, version: out.Parameter?.Version ?? null };
  } catch (err) {
    if (awsErrorName(err) === 'ParameterNotFound') return { reference: null, version: null };
    throw new PointerAccessError('read', ref.parameter, `${ref.parameter}: ${awsErrorMessage(err)}`, err);
  }
}
