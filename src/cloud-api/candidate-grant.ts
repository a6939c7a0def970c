/**
 * Candidate grants: the only way an installer URL may install a candidate
 * instead of the approved digest.
 *
 * A grant is a short-lived HS256 JWT signed with the control plane's grant
 * key (RADIX_INSTALLER_GRANT_KEY), issued for a Sentinel test leg when its
 * test cluster is created. It names exactly one candidate reference, one
 * environment, and one cluster (by a hash of its onboarding token, so the
 * token itself is not copied into the grant). The installer endpoint verifies
 * all of them, and its expiry; anything else is refused.
 *
 * The key never reaches a test host: the host only sees the grant, which is
 * useless for any other image, cluster or environment, and soon expires.
 */
import { createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { GrantRefusal } from './installer-script';

export const GRANT_AUDIENCE = 'radix-installer-candidate';
export const GRANT_KEY_VARIABLE = 'RADIX_INSTALLER_GRANT_KEY';
/** Longest lifetime a grant may have, whatever its issuer asked for. */
export const GRANT_MAX_LIFETIME_SECONDS = 24 * 3600;
const MIN_KEY_BYTES = 32;

export interface GrantSubject {
  /** `<repository>@sha256:<hex>` the grant allows. */
  candidate: string;
  /** The test cluster's onboarding token. */
  onboardingToken: string;
  environment: string;
}

export class GrantKeyError extends Error {}

/** The grant key from the environment, or undefined when candidate installs are disabled. */
export function grantKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Uint8Array | undefined {
  const value = env[GRANT_KEY_VARIABLE];
  if (value === undefined || value === '') return undefined;
  const key = new TextEncoder().encode(value);
  if (key.length < MIN_KEY_BYTES) {
    throw new GrantKeyError(
      `${GRANT_KEY_VARIABLE} must hold at least ${MIN_KEY_BYTES} bytes (e.g. \`openssl rand -hex 32\`)`,
    );
  }
  return key;
}

function tokenHash(onboardingToken: string): string {
  return createHash('sha256').update(onboardingToken).digest('base64url');
}

/** Issues a grant for one candidate, cluster and environment, valid for `lifetimeSeconds`. */
export async function mintCandidateGrant(
  key: Uint8Array,
  subject: GrantSubject,
  lifetimeSeconds: number,
  now = Date.now(),
): Promise<string> {
  if (!(lifetimeSeconds > 0 && lifetimeSeconds <= GRANT_MAX_LIFETIME_SECONDS)) {
    throw new RangeError(
      `a grant lives between 1 s and ${GRANT_MAX_LIFETIME_SECONDS} s, not ${lifetimeSeconds}`,
    );
  }
  const iat = Math.floor(now / 1000);
  return new SignJWT({
    img: subject.candidate,
    env: subject.environment,
    tkh: tokenHash(subject.onboardingToken),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setAudience(GRANT_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.ceil(lifetimeSeconds))
    .sign(key);
}

export type GrantVerdict = { ok: true } | { ok: false; refusal: GrantRefusal };

/** Verifies grants against one key. */
export class CandidateGrants {
  constructor(private readonly key: Uint8Array) {}

  async verify(grant: string, subject: GrantSubject, now = Date.now()): Promise<GrantVerdict> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(grant, this.key, {
        algorithms: ['HS256'],
        audience: GRANT_AUDIENCE,
        requiredClaims: ['iat', 'exp'],
        maxTokenAge: GRANT_MAX_LIFETIME_SECONDS,
        currentDate: new Date(now),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { ok: false, refusal: 'expired' };
      return { ok: false, refusal: 'invalid' };
    }
    const matches =
      payload.img === subject.candidate &&
      payload.env === subject.environment &&
      payload.tkh === tokenHash(subject.onboardingToken);
    return matches ? { ok: true } : { ok: false, refusal: 'mismatch' };
  }
}
