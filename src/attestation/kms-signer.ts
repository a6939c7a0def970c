/**
 * Signing with an AWS KMS asymmetric key (ECC_NIST_P256, ECDSA_SHA_256): the
 * private key never leaves KMS; only its public key is exported, as PEM,
 * for anyone to verify with.
 */
import { SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createHash } from 'node:crypto';
import { exportPublicKeyPem } from './public-key';
import { IN_TOTO_PAYLOAD_TYPE, type Statement } from './statements';
import { pae, type DsseEnvelope } from './dsse';

/** KMS signs a RAW message of at most 4096 bytes; a longer one is signed as its SHA-256 digest. */
export const KMS_RAW_MESSAGE_LIMIT = 4096;

export interface AttestationSigner {
  keyId: string;
  sign(message: Buffer): Promise<Buffer>;
  publicKeyPem(): Promise<string>;
}

export function kmsSigner(kms: KMSClient, keyId: string): AttestationSigner {
  let pem: Promise<string> | undefined;
  return {
    keyId,
    async sign(message) {
      const raw = message.length <= KMS_RAW_MESSAGE_LIMIT;
      const out = await kms.send(
        new SignCommand({
          KeyId: keyId,
          SigningAlgorithm: 'ECDSA_SHA_256',
          MessageType: raw ? 'RAW' : 'DIGEST',
          Message: raw ? message : createHash('sha256').update(message).digest(),
        }),
      );
      if (!out.Signature) throw new Error(`KMS returned no signature for key ${keyId}`);
      return Buffer.from(out.Signature);
    },
    publicKeyPem() {
      pem ??= exportPublicKeyPem(kms, keyId).catch((err: unknown) => {
        pem = undefined;
        throw err;
      });
      return pem;
    },
  };
}

export { exportPublicKeyPem };

/** The statement as a signed DSSE envelope. */
export async function signStatement(
  signer: AttestationSigner,
  statement: Statement<unknown>,
): Promise<DsseEnvelope> {
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const signature = await signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload));
  return {
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ keyid: '', sig: signature.toString('base64') }],
  };
}
