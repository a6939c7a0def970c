/**
 * The attestation signing keys of the sandbox environments, created in the
 * emulator when the dev stack starts (moto's KMS signs with real ECDSA), as
 * `sentinel bootstrap --apply` would.
 */
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { Invariants } from '../../src/config/schema';

export async function createSandboxSigningKeys(
  invariants: Invariants,
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<void> {
  const wanted = new Map<string, string>();
  for (const env of Object.values(invariants.environments)) {
    if (env.kind === 'sandbox' && env.attestation.kmsKeyId.startsWith('alias/'))
      wanted.set(`${env.awsRegion} ${env.attestation.kmsKeyId}`, env.awsRegion);
  }
  for (const [key, region] of wanted) {
    const alias = key.slice(key.indexOf(' ') + 1);
    const kms = new KMSClient({ region, endpoint, credentials });
    try {
      const created = await kms.send(
        new CreateKeyCommand({
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          Description: 'Sentinel attestations (dev stack)',
        }),
      );
      await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: created.KeyMetadata!.KeyId! }));
    } finally {
      kms.destroy();
    }
  }
}
