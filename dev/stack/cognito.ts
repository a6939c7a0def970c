/**
 * The service user Sentinel signs in as, in the emulated account: a user pool
 * with an app client allowing USER_PASSWORD_AUTH, the user with a permanent
 * password, in the release-gate group. The password is made up per stack and
 * handed over only through RADIX_TEST_PASSWORD, as CI does with its secret.
 */
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  CreateGroupCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { randomBytes } from 'node:crypto';
import { RELEASE_GATE_GROUP } from '../../src/control-plane/contract';

export interface EmulatedServiceUser {
  region: string;
  userPoolId: string;
  clientId: string;
  username: string;
  password: string;
  /** Variables that hand the pool and the credentials to Sentinel (config overrides and CI-style secrets). */
  env: Record<string, string>;
}

export async function createServiceUser(region: string, endpoint: string): Promise<EmulatedServiceUser> {
  const cognito = new CognitoIdentityProviderClient({
    region,
    endpoint,
    credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' },
  });
  try {
    const pool = await cognito.send(new CreateUserPoolCommand({ PoolName: 'radix-sentinel-sandbox' }));
    const userPoolId = pool.UserPool!.Id!;
    const client = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId: userPoolId,
        ClientName: 'sentinel',
        ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      }),
    );
    const clientId = client.UserPoolClient!.ClientId!;
    const username = 'sentinel-service';
    const password = `Sx-${randomBytes(12).toString('base64url')}9a!`;
    await cognito.send(
      new AdminCreateUserCommand({ UserPoolId: userPoolId, Username: username, MessageAction: 'SUPPRESS' }),
    );
    await cognito.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: userPoolId,
        Username: username,
        Password: password,
        Permanent: true,
      }),
    );
    await cognito.send(new CreateGroupCommand({ UserPoolId: userPoolId, GroupName: RELEASE_GATE_GROUP }));
    await cognito.send(
      new AdminAddUserToGroupCommand({
        UserPoolId: userPoolId,
        Username: username,
        GroupName: RELEASE_GATE_GROUP,
      }),
    );
    return {
      region,
      userPoolId,
      clientId,
      username,
      password,
      env: {
        RADIX_COGNITO_REGION: region,
        RADIX_COGNITO_USER_POOL_ID: userPoolId,
        RADIX_COGNITO_CLIENT_ID: clientId,
        RADIX_TEST_USERNAME: username,
        RADIX_TEST_PASSWORD: password,
      },
    };
  } finally {
    cognito.destroy();
  }
}
