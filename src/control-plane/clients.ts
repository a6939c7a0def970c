import { TokenProviders, type CognitoSettings } from '../auth/cognito-token';
import { ControlPlaneClient } from './client';

export interface ControlPlaneRef {
  baseUrl: string;
  cognito: CognitoSettings;
}

/** One control-plane client per base URL and user pool, sharing the worker's token cache. */
export class ControlPlanes {
  private readonly clients = new Map<string, ControlPlaneClient>();
  readonly tokens: TokenProviders;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.tokens = new TokenProviders(env);
  }

  for(ref: ControlPlaneRef): ControlPlaneClient {
    const key = `${ref.baseUrl}|${ref.cognito.userPoolId}|${ref.cognito.clientId}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new ControlPlaneClient(ref.baseUrl, this.tokens.for(ref.cognito));
      this.clients.set(key, client);
    }
    return client;
  }

  destroy(): void {
    this.tokens.destroy();
  }
}
