/**
 * DSSE (Dead Simple Signing Envelope) v1: the envelope cosign, in-toto and
 * Sigstore bundles carry attestations in. A signature covers the
 * pre-authentication encoding (PAE) of the payload type and the payload, so
 * neither can be swapped without breaking it.
 *
 * Parsing is strict: anything that is not exactly an envelope with a base64
 * payload and at least one base64 signature is refused with a reason, never
 * half-read.
 */
import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';

export interface DsseSignature {
  keyid?: string;
  /** Base64 of the signature (ECDSA: ASN.1 DER). */
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  /** Base64 of the payload bytes. */
  payload: string;
  signatures: DsseSignature[];
}

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ]);
}

export type EnvelopeProblem = 'not_json' | 'not_envelope' | 'bad_base64' | 'no_signature';

export class EnvelopeError extends Error {
  constructor(
    readonly problem: EnvelopeProblem,
    message: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Bytes(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw new EnvelopeError('bad_base64', `${what} is not base64`);
  }
  return Buffer.from(value, 'base64');
}

/** Reads an envelope from its JSON text; throws EnvelopeError with what is wrong. */
export function parseEnvelope(text: string): DsseEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new EnvelopeError('not_json', 'the envelope is not JSON (truncated or altered?)');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new EnvelopeError('not_envelope', 'the envelope is not a JSON object');
  const { payloadType, payload, signatures } = raw as Record<string, unknown>;
  if (typeof payloadType !== 'string' || payloadType.length === 0)
    throw new EnvelopeError('not_envelope', 'the envelope has no payloadType');
  base64Bytes(payload, 'the payload');
  if (!Array.isArray(signatures) || signatures.length === 0)
    throw new EnvelopeError('no_signature', 'the envelope carries no signature');
  const sigs = signatures.map((s, i): DsseSignature => {
    if (typeof s !== 'object' || s === null)
      throw new EnvelopeError('not_envelope', `signature ${i} is not an object`);
    const { sig, keyid } = s as Record<string, unknown>;
    base64Bytes(sig, `signature ${i}`);
    return { sig: sig as string, ...(typeof keyid === 'string' && keyid !== '' ? { keyid } : {}) };
  });
  return { payloadType, payload: payload as string, signatures: sigs };
}

export function payloadBytes(envelope: DsseEnvelope): Buffer {
  return Buffer.from(envelope.payload, 'base64');
}

export function publicKeyFromPem(pem: string): KeyObject {
  return createPublicKey({ key: pem, format: 'pem' });
}

/** True when at least one signature verifies over PAE with this (ECDSA P-256, SHA-256) key. */
export function envelopeSignedBy(envelope: DsseEnvelope, publicKey: KeyObject): boolean {
  const message = pae(envelope.payloadType, payloadBytes(envelope));
  return envelope.signatures.some((s) => {
    try {
      return verifySignature('sha256', message, publicKey, Buffer.from(s.sig, 'base64'));
    } catch {
      return false;
    }
  });
}
