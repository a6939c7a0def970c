import { strict as assert } from 'node:assert';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { CognitoTokenProvider } from '../../src/auth/cognito-token';
import { RELEASE_GATE_GROUP } from '../../src/control-plane/contract';
import type { DevStack } from '../../dev/stack/stack';
import { sharedStack } from '../support/stack';

/**
 * The reference control plane's owner and group checks, with real users of
 * the emulated Cognito pool: only a cluster's owner may mint its onboarding
 * tokens or delete it, and for a release-gate cluster (one that installs a
 * candidate) the owner must also still belong to the release-gate group.
 */
describe('reference control plane: owner and group checks', function () {
  let stack: DevStack;
  let cognito: CognitoIdentityProviderClient;
  let counter = 0;

  before(async () => {
    stack = await sharedStack();
    cognito = new CognitoIdentityProviderClient({ region: stack.serviceUser.region });
  });
  after(() => cognito.destroy());

  /** A user of the same pool, signed in afresh on every call (so group changes show in the IdToken). */
  async function user(slug: string, groups: string[] = []) {
    counter += 1;
    const username = `${slug}-${Date.now()}-${counter}`;
    const password = `Us3r-${slug}-Passw0rd!`;
    const pool = stack.serviceUser.userPoolId;
    await cognito.send(
      new AdminCreateUserCommand({ UserPoolId: pool, Username: username, MessageAction: 'SUPPRESS' }),
    );
    await cognito.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: pool,
        Username: username,
        Password: password,
        Permanent: true,
      }),
    );
    for (const group of groups)
      await cognito.send(
        new AdminAddUserToGroupCommand({ UserPoolId: pool, Username: username, GroupName: group }),
      );
    return { username, ...caller({ RADIX_TEST_USERNAME: username, RADIX_TEST_PASSWORD: password }) };
  }

  function caller(credentials: Record<string, string>) {
    const settings = {
      region: stack.serviceUser.region,
      userPoolId: stack.serviceUser.userPoolId,
      clientId: stack.serviceUser.clientId,
      refreshBefore: 60_000,
    };
    const request = async (method: string, path: string, body?: unknown) => {
      const token = await new CognitoTokenProvider(settings, cognito, credentials).idToken();
      const response = await fetch(`${stack.controlPlane.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
    };
    return {
      create: (name: string, candidate?: string) =>
        request('POST', '/v1/clusters', { name, ...(candidate ? { candidate } : {}) }),
      mint: (id: string) => request('POST', `/v1/clusters/${id}/onboarding-tokens`),
      remove: (id: string) => request('DELETE', `/v1/clusters/${id}`),
      get: (id: string) => request('GET', `/v1/clusters/${id}`),
    };
  }

  const service = () =>
    caller({
      RADIX_TEST_USERNAME: stack.serviceUser.username,
      RADIX_TEST_PASSWORD: stack.serviceUser.password,
    });
  const candidate = `ghcr.io/iangreen74/radix-cluster-agent@sha256:${'d'.repeat(64)}`;

  it("refuses a release-gate cluster's onboarding token and its deletion to any other user of the pool, in the group or not", async () => {
    const owner = service();
    const created = await owner.create(`gate-${Date.now()}`, candidate);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.cluster.id as string;

    const outsider = await user('outsider');
    const otherMember = await user('member', [RELEASE_GATE_GROUP]);
    for (const [who, other] of [
      ['outsider', outsider],
      ['another release-gate member', otherMember],
    ] as const) {
      const minted = await other.mint(id);
      assert.equal(minted.status, 403, `${who} minted a token: ${JSON.stringify(minted.body)}`);
      assert.equal(minted.body.onboardingToken, undefined);
      assert.equal(minted.body.installerUrl, undefined, 'no candidate grant handed out');
      assert.match(minted.body.message, /owner/);
      const removed = await other.remove(id);
      assert.equal(removed.status, 403, `${who} deleted the cluster`);
      assert.match(removed.body.message, /owner/);
    }
    assert.equal((await owner.get(id)).status, 200, 'the cluster is still there');

    const own = await owner.mint(id);
    assert.equal(own.status, 201, JSON.stringify(own.body));
    assert.match(own.body.installerUrl, /grant=/);
    assert.equal((await owner.remove(id)).status, 204);
  });

  it('refuses an owner who has left the release-gate group a token (and a grant) for their candidate cluster', async () => {
    const member = await user('leaver', [RELEASE_GATE_GROUP]);
    const created = await member.create(`leaver-${Date.now()}`, candidate);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.cluster.id as string;
    await cognito.send(
      new AdminRemoveUserFromGroupCommand({
        UserPoolId: stack.serviceUser.userPoolId,
        Username: member.username,
        GroupName: RELEASE_GATE_GROUP,
      }),
    );

    const minted = await member.mint(id);
    assert.equal(minted.status, 403, JSON.stringify(minted.body));
    assert.match(minted.body.message, new RegExp(RELEASE_GATE_GROUP));
    const removed = await member.remove(id);
    assert.equal(removed.status, 403);
    assert.match(removed.body.message, new RegExp(RELEASE_GATE_GROUP));
    // Only the service user (owner and member) could; nobody else is left to: the cluster stays for the janitor/operators.
    assert.equal((await member.get(id)).status, 200);
  });

  it('lets only the owner delete or onboard a plain cluster (no candidate); membership is not needed for it', async () => {
    const alice = await user('alice');
    const bob = await user('bob', [RELEASE_GATE_GROUP]);
    const created = await alice.create(`plain-${Date.now()}`);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.cluster.id as string;
    assert.equal((await bob.mint(id)).status, 403);
    assert.equal((await bob.remove(id)).status, 403);
    assert.equal((await alice.mint(id)).status, 201);
    assert.equal((await alice.remove(id)).status, 204);
    assert.equal((await alice.remove(id)).status, 404);
  });
});
