/**
 * Sentinel's identity at the control plane: a Cognito IdToken for the
 * service user, obtained without a human (InitiateAuth, USER_PASSWORD_AUTH).
 *
 * - RADIX_JWT_TOKEN, when set, is used as is (no sign-in).
 * - Otherwise RADIX_TEST_USERNAME / RADIX_TEST_PASSWORD sign in; the token is
 *   cached in the worker until `refreshBefore` ahead of its expiry and then
 *   fetched again, once for all concurrent callers.
 * - Refused credentials are an error no retry can fix, and the message names
 *   the variable to correct. Neither password nor token ever appears in an
 *   error message, a log line or a result.
 */
import {
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { decodeJwt } from 'jose';
import { awsErrorName } from '../aws/errors';

export interface CognitoSettings {
  region: string;
  userPoolId: string;
  clientId: string;
  refreshBefore: number;
}

export class ControlPlaneAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlPlaneAuthError';
  }
}

interface CachedToken {
  token: string;
  expiresAtMs: number;
}

export class CognitoTokenProvider {
  private cached?: CachedToken;
  private inflight?: Promise<CachedToken>;
  /** InitiateAuth calls made, for tests and metrics. */
  signIns = 0;

  constructor(
    private readonly settings: CognitoSettings,
    private readonly client: CognitoIdentityProviderClient,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly now: () => number = Date.now,
  ) {}

  async idToken(): Promise<string> {
    const fixed = this.env.RADIX_JWT_TOKEN;
    if (fixed) return fixed;
    if (this.cached && this.now() < this.cached.expiresAtMs - this.settings.refreshBefore)
      return this.cached.token;
    this.inflight ??= this.signIn().finally(() => {
      this.inflight = undefined;
    });
    this.cached = await this.inflight;
    return this.cached.token;
  }

  /** Forgets the cached token (after the control plane rejected it), so the next call signs in again. */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  private async signIn(): Promise<CachedToken> {
    const username = this.env.RADIX_TEST_USERNAME;
    const password = this.env.RADIX_TEST_PASSWORD;
    if (!username || !password) {
      throw new ControlPlaneAuthError(
        `no control-plane credentials: set RADIX_TEST_USERNAME and RADIX_TEST_PASSWORD (the service user of Cognito pool ${this.settings.userPoolId}), or RADIX_JWT_TOKEN`,
      );
    }
    this.signIns += 1;
    let out;
    try {
      out = await this.client.send(
        new InitiateAuthCommand({
          AuthFlow: 'USER_PASSWORD_AUTH',
          ClientId: this.settings.clientId,
          AuthParameters: { USERNAME: username, PASSWORD: password },
        }),
      );
    } catch (err) {
      const name = awsErrorName(err);
      if (name === 'NotAuthorizedException') {
        throw new ControlPlaneAuthError(
          `Cognito refused the password of RADIX_TEST_USERNAME=${username}: fix RADIX_TEST_PASSWORD (or the user is disabled)`,
        );
      }
      if (name === 'UserNotFoundException') {
        throw new ControlPlaneAuthError(
          `Cognito pool ${this.settings.userPoolId} has no user RADIX_TEST_USERNAME=${username}: fix RADIX_TEST_USERNAME`,
        );
      }
      if (name === 'ResourceNotFoundException' || name === 'InvalidParameterException') {
        throw new ControlPlaneAuthError(
          `Cognito rejected the sign-in setup (${name}): check controlPlane.cognito (clientId ${this.settings.clientId}, USER_PASSWORD_AUTH enabled) in ops/invariants.yaml`,
        );
      }
      throw err; // throttling, network: retryable
    }
    if (out.ChallengeName) {
      throw new ControlPlaneAuthError(
        `Cognito asks the service user RADIX_TEST_USERNAME=${username} to answer ${out.ChallengeName}; finish that once by hand (e.g. set a permanent password)`,
      );
    }
    const token = out.AuthenticationResult?.IdToken;
    if (!token) throw new ControlPlaneAuthError('Cognito returned no IdToken for the service user');
    const exp = decodeJwt(token).exp;
    const expiresInMs = (out.AuthenticationResult?.ExpiresIn ?? 3600) * 1000;
    return { token, expiresAtMs: typeof exp === 'number' ? exp * 1000 : this.now() + expiresInMs };
  }
}

/** One provider per user pool and app client, shared by a worker's activities. */
export class TokenProviders {
  private readonly providers = new Map<string, CognitoTokenProvider>();
  private readonly clients = new Map<string, CognitoIdentityProviderClient>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  for(settings: CognitoSettings): CognitoTokenProvider {
    const key = `${settings.region}/${settings.userPoolId}/${settings.clientId}`;
    let provider = this.providers.get(key);
    if (!provider) {
      let client = this.clients.get(settings.region);
      if (!client) {
        client = new CognitoIdentityProviderClient({ region: settings.region });
        this.clients.set(settings.region, client);
      }
      provider = new CognitoTokenProvider(settings, client, this.env);
      this.providers.set(key, provider);
    }
    return provider;
  }

  destroy(): void {
    for (const client of this.clients.values()) client.destroy();
  }
}
