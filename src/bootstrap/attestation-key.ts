/**
 * The environment's attestation signing key (attestation.kmsKeyId): an
 * asymmetric ECC_NIST_P256 SIGN_VERIFY key in KMS. Bootstrap creates it (and
 * its alias) only for sandbox environments; for a live one it reports it
 * missing, since who may sign a release is an administrator's decision.
 */
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import type { AwsClients } from '../aws/clients';
import { awsErrorMessage, awsErrorName } from '../aws/errors';
import type { EnvironmentConfig } from '../config/schema';
import type { BootstrapItem } from './items';

export async function attestationKey(
  aws: AwsClients,
  env: EnvironmentConfig,
  apply: boolean,
): Promise<BootstrapItem> {
  const keyId = env.attestation.kmsKeyId;
  const kms = aws.kms(env.awsRegion);
  try {
    const meta = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    const problems = [
      meta?.KeySpec !== 'ECC_NIST_P256' ? `key spec ${meta?.KeySpec ?? '?'} (expected ECC_NIST_P256)` : '',
      meta?.KeyUsage !== 'SIGN_VERIFY' ? `usage ${meta?.KeyUsage ?? '?'} (expected SIGN_VERIFY)` : '',
      meta?.KeyState !== 'Enabled' ? `state ${meta?.KeyState ?? '?'} (expected Enabled)` : '',
    ].filter(Boolean);
    if (problems.length === 0)
      return {
        item: 'attestation-key',
        status: 'present',
        detail: `${keyId} (${meta!.KeyId}, ECC_NIST_P256, SIGN_VERIFY)`,
      };
    return {
      item: 'attestation-key',
      status: 'invalid',
      detail: `${keyId}: ${problems.join(', ')}`,
      remediation: 'point attestation.kmsKeyId at an enabled ECC_NIST_P256 SIGN_VERIFY key',
    };
  } catch (err) {
    if (awsErrorName(err) !== 'NotFoundException') throw err;
  }
  const create = `aws kms create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY${keyId.startsWith('alias/') ? `, then aws kms create-alias --alias-name ${keyId} --target-key-id <key id>` : ''}`;
  if (env.kind === 'live') {
    return {
      item: 'attestation-key',
      status: 'missing',
      detail: `${keyId} does not exist in ${env.awsRegion}`,
      remediation: `an administrator creates it: ${create}`,
    };
  }
  if (!apply)
    return {
      item: 'attestation-key',
      status: 'missing',
      detail: `${keyId} does not exist`,
      remediation: 'sentinel bootstrap --apply creates it (sandbox environments only)',
    };
  try {
    const created = await kms.send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Description: `Sentinel attestations (${env.approvedDigestParameter})`,
      }),
    );
    const id = created.KeyMetadata!.KeyId!;
    if (keyId.startsWith('alias/'))
      await kms.send(new CreateAliasCommand({ AliasName: keyId, TargetKeyId: id }));
    return {
      item: 'attestation-key',
      status: 'created',
      detail: `${keyId} (${id}, ECC_NIST_P256, SIGN_VERIFY)`,
    };
  } catch (err) {
    if (awsErrorName(err) === 'AlreadyExistsException')
      return { item: 'attestation-key', status: 'present', detail: `${keyId} was created concurrently` };
    return {
      item: 'attestation-key',
      status: 'invalid',
      detail: `${keyId}: ${awsErrorMessage(err)}`,
      remediation: create,
    };
  }
}
