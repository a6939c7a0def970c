import { strict as assert } from 'node:assert';
import {
  AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { SignJWT, generateKeyPair } from 'jose';
import { CognitoTokenProvider, ControlPlaneAuthError } from '../../src/auth/cognito-token';
import { ControlPlaneClient } from '../../src/control-plane/client';
import { sharedStack } from '../support/stack';
import type { DevStack } from '../../dev/stack/stack';

describe('service-user auth against Cognito (moto) and the reference control plane', function () {
  let stack: DevStack;
  let cognito: CognitoIdentityProviderClient;
  const settings = () => ({
    region: stack.serviceUser.region,
    userPoolId: stack.serviceUser.userPoolId,
    clientId: stack.serviceUser.clientId,
    refreshBefore: 60_000,
  });
  const credentials = () => ({
    RADIX_TEST_USERNAME: stack.serviceUser.username,
    RADIX_TEST_PASSWORD: stack.serviceUser.password,
  });

  before(async () => {
    stack = await sharedStack();
    cognito = new CognitoIdentityProviderClient({ region: stack.serviceUser.region });
  });
  after(() => cognito.destroy());

  it('signs in once for many concurrent and later callers, and caches the IdToken until shortly before it expires', async () => {
    const provider = new CognitoTokenProvider(settings(), cognito, credentials());
    const tokens = await Promise.all(Array.from({ length: 20 }, () => provider.idToken()));
    tokens.push(await provider.idToken(), await provider.idToken());
    assert.equal(new Set(tokens).size, 1);
    assert.equal(provider.signIns, 1);
    const payload = JSON.parse(Buffer.from(tokens[0]!.split('.')[1]!, 'base64url').toString());
    assert.equal(payload.token_use, 'id');
    assert.equal(payload['cognito:username'], stack.serviceUser.username);
  });

  it('signs in again once the cached token is within refreshBefore of its expiry', async () => {
    let now = Date.now();
    const provider = new CognitoTokenProvider(settings(), cognito, credentials(), () => now);
    await provider.idToken();
    now += 58 * 60_000; // the IdToken lives one hour; refreshBefore is one minute
    await provider.idToken();
    assert.equal(provider.signIns, 1, 'still fresh at 58 minutes');
    now += 2 * 60_000;
    await Promise.all([provider.idToken(), provider.idToken(), provider.idToken()]);
    assert.equal(provider.signIns, 2, 'one refresh for three concurrent callers');
  });

  it('refuses a wrong password with a message naming the variable to fix, and never the password', async () => {
    const wrong = 'Wrong-Passw0rd-that-must-not-leak';
    const provider = new CognitoTokenProvider(settings(), cognito, {
      ...credentials(),
      RADIX_TEST_PASSWORD: wrong,
    });
    await assert.rejects(provider.idToken(), (err: unknown) => {
      assert.ok(err instanceof ControlPlaneAuthError);
      assert.match(err.message, /fix RADIX_TEST_PASSWORD/);
      assert.ok(!err.message.includes(wrong));
      return true;
    });
    const nobody = new CognitoTokenProvider(settings(), cognito, {
      RADIX_TEST_USERNAME: 'nobody',
      RADIX_TEST_PASSWORD: wrong,
    });
    await assert.rejects(nobody.idToken(), /fix RADIX_TEST_USERNAME/);
    const missing = new CognitoTokenProvider(settings(), cognito, {});
    await assert.rejects(missing.idToken(), /set RADIX_TEST_USERNAME and RADIX_TEST_PASSWORD/);
  });

  it('uses RADIX_JWT_TOKEN as is, without signing in', async () => {
    const provider = new CognitoTokenProvider(settings(), cognito, { RADIX_JWT_TOKEN: 'given.jwt.token' });
    assert.equal(await provider.idToken(), 'given.jwt.token');
    assert.equal(provider.signIns, 0);
  });

  it('lets the reference control plane accept the service user and refuse forged or missing tokens', async () => {
    const provider = new CognitoTokenProvider(settings(), cognito, credentials());
    const api = new ControlPlaneClient(stack.controlPlane.url, provider);
    const created = await api.createCluster({ name: `auth-check-${Date.now()}` });
    assert.equal((await api.getCluster(created.cluster.id)).status, 'pending');
    await api.deleteCluster(created.cluster.id);
    await api.deleteCluster(created.cluster.id); // idempotent

    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ token_use: 'id', 'cognito:groups': ['radix-release-gate'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'dummy' })
      .setIssuer(
        `https://cognito-idp.${stack.serviceUser.region}.amazonaws.com/${stack.serviceUser.userPoolId}`,
      )
      .setAudience(stack.serviceUser.clientId)
      .setExpirationTime('1h')
      .sign(privateKey);
    for (const authorization of [undefined, 'Bearer not-a-jwt', `Bearer ${forged}`]) {
      const response = await fetch(`${stack.controlPlane.url}/v1/clusters`, {
        headers: authorization ? { authorization } : {},
      });
      assert.equal(response.status, 401, `authorization ${authorization?.slice(0, 20)}`);
    }
  });

  it('allows a candidate install only to members of the release-gate group', async () => {
    const username = `outsider-${Date.now()}`;
    const password = 'Outsider-Passw0rd!';
    await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: stack.serviceUser.userPoolId,
        Username: username,
        MessageAction: 'SUPPRESS',
      }),
    );
    await cognito.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: stack.serviceUser.userPoolId,
        Username: username,
        Password: password,
        Permanent: true,
      }),
    );
    const outsider = new ControlPlaneClient(
      stack.controlPlane.url,
      new CognitoTokenProvider(settings(), cognito, {
        RADIX_TEST_USERNAME: username,
        RADIX_TEST_PASSWORD: password,
      }),
    );
    const candidate = `ghcr.io/iangreen74/radix-cluster-agent@sha256:${'c'.repeat(64)}`;
    await assert.rejects(
      outsider.createCluster({ name: `outsider-${Date.now()}`, candidate }),
      (err: unknown) => err instanceof ControlPlaneAuthError && /radix-release-gate/.test(err.message),
    );

    const member = new ControlPlaneClient(
      stack.controlPlane.url,
      new CognitoTokenProvider(settings(), cognito, credentials()),
    );
    const created = await member.createCluster({ name: `member-${Date.now()}`, candidate });
    assert.equal(created.cluster.candidate, candidate);
    assert.match(created.onboarding.installerUrl, /candidate=/);
    await member.deleteCluster(created.cluster.id);
  });
});
