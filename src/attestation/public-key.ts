/**
 * Reading an attestation key's public half from KMS, as PEM: all a checker
 * needs (kms:GetPublicKey), kept apart from signing so that code which only
 * verifies never reaches kms:Sign.
 */
import { GetPublicKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createPublicKey } from 'node:crypto';

export async function exportPublicKeyPem(kms: KMSClient, keyId: string): Promise<string> {
  const out = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  if (!out.PublicKey) throw new Error(`KMS returned no public key for ${keyId}`);
  return createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString();
}
