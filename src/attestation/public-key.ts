/**
 * The environment's public key, exported from KMS as PEM. Its own module so
 * that code which only verifies (the installer endpoint) reaches no signing
 * call: the IAM of each service is derived from the modules it imports.
 */
import { GetPublicKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createPublicKey } from 'node:crypto';

export async function exportPublicKeyPem(kms: KMSClient, keyId: string): Promise<string> {
  const out = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  if (!out.PublicKey) throw new Error(`KMS returned no public key for ${keyId}`);
  return createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
}
