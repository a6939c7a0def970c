/**
 * Verifies the bearer tokens Sentinel presents: Cognito IdTokens, checked
 * against the user pool's published keys (JWKS), issuer, audience and expiry.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface CognitoPool {
  region: string;
  userPoolId: string;
  clientId: string;
}

export interface Principal {
  subject: string;
  username: string;
  groups: string[];
}

export class Unauthorized extends Error {}

/** Where the pool publishes its keys: the real Cognito endpoint, or the configured AWS endpoint (an emulator). */
export function jwksUrl(pool: CognitoPool, env: NodeJS.ProcessEnv = process.env): URL {
  const endpoint =
    env.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER ||
    env.AWS_ENDPOINT_URL ||
    `https://cognito-idp.${pool.region}.amazonaws.com`;
  return new URL(`${endpoint.replace(/\/$/, '')}/${pool.userPoolId}/.well-known/jwks.json`);
}

export function cognitoVerifier(pool: CognitoPool, env: NodeJS.ProcessEnv = process.env) {
  const keys = createRemoteJWKSet(jwksUrl(pool, env));
  const issuer = `https://cognito-idp.${pool.region}.amazonaws.com/${pool.userPoolId}`;
  return async function verify(authorization: string | undefined): Promise<Principal> {
    const match = /^Bearer (\S+)$/.exec(authorization ?? '');
    if (!match) throw new Unauthorized('missing bearer token');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1]!, keys, { issuer, audience: pool.clientId }));
    } catch (err) {
      throw new Unauthorized(`invalid token: ${(err as Error).message}`);
    }
    if (payload.token_use !== 'id') throw new Unauthorized('an IdToken is required');
    const groups = Array.isArray(payload['cognito:groups'])
      ? (payload['cognito:groups'] as unknown[]).map(String)
      : [];
    return {
      subject: String(payload.sub),
      username:
        typeof payload['cognito:username'] === 'string' ? payload['cognito:username'] : String(payload.sub),
      groups,
    };
  };
}
