import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { CognitoTokenProvider } from '../../src/auth/cognito-token';
import { ControlPlaneClient, ControlPlaneRequestError } from '../../src/control-plane/client';

describe('control-plane client: what a refused request says', () => {
  let server: http.Server;
  let url: string;
  let answer = { status: 409, body: '' };
  const cognito = new CognitoIdentityProviderClient({ region: 'us-east-1' });
  // A fixed token: this client signs nothing in, so no Cognito call is made.
  const tokens = new CognitoTokenProvider(
    { region: 'us-east-1', userPoolId: 'us-east-1_unused', clientId: 'unused', refreshBefore: 60_000 },
    cognito,
    { RADIX_JWT_TOKEN: 'given.jwt.token' },
  );

  before(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    cognito.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function refusal(): Promise<ControlPlaneRequestError> {
    const err = await new ControlPlaneClient(url, tokens).getCluster('c-1').then(
      () => assert.fail('the request should have been refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ControlPlaneRequestError, String(err));
    return err;
  }

  it("carries the control plane's message", async () => {
    answer = { status: 409, body: JSON.stringify({ message: 'cluster name taken' }) };
    assert.equal((await refusal()).message, 'GET /v1/clusters/c-1: 409 cluster name taken');
  });

  it('shows an error object as JSON, not as [object Object]', async () => {
    answer = {
      status: 422,
      body: JSON.stringify({ error: { code: 'INVALID', message: 'gpu count out of range' } }),
    };
    const { message } = await refusal();
    assert.doesNotMatch(message, /\[object Object\]/);
    assert.match(message, /422 \{"code":"INVALID","message":"gpu count out of range"\}/);
  });
});
