import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  RegistryClient,
  RegistryError,
  registryEndpoint,
  parseBearerChallenge,
} from '../../src/registry/client';
import { candidate, REPOSITORY, unknownCandidate } from '../support/aws';
import { testEnvironment } from '../support/invariants';
import { startRun } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';
import { asyncHandler } from '../support/http-handler';

/**
 * The token flow GHCR uses, in front of the suite's real registry: every
 * /v2/ call without a valid Bearer token is answered 401 with a
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge; the realm
 * hands out anonymous pull tokens (or refuses them, for a private package);
 * calls with the token are passed to the registry.
 */
async function tokenFront(upstream: string) {
  const stats = { challenges: 0, tokens: 0, passed: 0 };
  const state = { private: false };
  const server = http.createServer(
    asyncHandler(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://front');
      const port = (server.address() as AddressInfo).port;
      if (url.pathname === '/token') {
        stats.tokens += 1;
        const scope = url.searchParams.get('scope') ?? '';
        if (
          state.private ||
          url.searchParams.get('service') !== 'front.test' ||
          !/^repository:[^:]+:pull$/.test(scope)
        ) {
          res
            .writeHead(403, { 'Content-Type': 'application/json' })
            .end('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}');
          return;
        }
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ token: `anon:${scope}`, expires_in: 300 }));
        return;
      }
      const name = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1];
      // A package made private stops honouring the tokens handed out before.
      if (!name || state.private || req.headers.authorization !== `Bearer anon:repository:${name}:pull`) {
        stats.challenges += 1;
        res
          .writeHead(401, {
            'Content-Type': 'application/json',
            'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="front.test",scope="repository:${name ?? 'unknown'}:pull"`,
          })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      stats.passed += 1;
      const answer = await fetch(`${upstream}${url.pathname}${url.search}`, {
        method: req.method,
        headers: { Accept: String(req.headers.accept ?? '*/*') },
      });
      const headers: Record<string, string> = {};
      answer.headers.forEach((value, key) => {
        if (key !== 'content-encoding' && key !== 'transfer-encoding') headers[key] = value;
      });
      const body = req.method === 'HEAD' ? undefined : Buffer.from(await answer.arrayBuffer());
      res.writeHead(answer.status, headers).end(body);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('registry client: OCI distribution API with the anonymous token flow', function () {
  let front: Awaited<ReturnType<typeof tokenFront>>;
  before(async () => {
    const stack = await sharedStack();
    front = await tokenFront(stack.registry.url);
  });
  after(async () => {
    await front?.close();
  });

  it('derives the API base from the repository host, and SENTINEL_REGISTRY_URL overrides it', () => {
    assert.deepEqual(registryEndpoint('ghcr.io/iangreen74/radix-cluster-agent', {}), {
      baseUrl: 'https://ghcr.io',
      name: 'iangreen74/radix-cluster-agent',
    });
    assert.deepEqual(registryEndpoint('docker.io/library/busybox', {}), {
      baseUrl: 'https://registry-1.docker.io',
      name: 'library/busybox',
    });
    assert.deepEqual(registryEndpoint('ghcr.io/x/y', { SENTINEL_REGISTRY_URL: 'http://127.0.0.1:5000/' }), {
      baseUrl: 'http://127.0.0.1:5000',
      name: 'x/y',
    });
    assert.throws(
      () => registryEndpoint('ghcr.io/x/y', { SENTINEL_REGISTRY_URL: 'ftp://nope' }),
      /must be an http\(s\) URL/,
    );
    assert.deepEqual(
      parseBearerChallenge(
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:x/y:pull"',
      ),
      {
        realm: 'https://ghcr.io/token',
        service: 'ghcr.io',
        scope: 'repository:x/y:pull',
      },
    );
    assert.equal(parseBearerChallenge('Basic realm="registry"'), undefined);
  });

  it('answers the 401 challenge with an anonymous token, reuses it, and tells a missing manifest from a refused one', async () => {
    const digest = (await candidate('token-flow')).split('@')[1]!;
    const endpoint = { baseUrl: front.url, name: registryEndpoint(REPOSITORY).name };
    const client = new RegistryClient();
    const before = { ...front.stats };

    const head = await client.headManifest(endpoint, digest);
    assert.equal(head?.digest, digest);
    assert.equal(head?.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(
      await client.headManifest(endpoint, unknownCandidate('token-flow').split('@')[1]!),
      undefined,
      '404 after authenticating',
    );
    assert.equal(front.stats.tokens - before.tokens, 1, 'one token for both calls');
    assert.equal(front.stats.challenges - before.challenges, 1, 'challenged once');

    front.state.private = true;
    try {
      await assert.rejects(
        new RegistryClient().headManifest(endpoint, digest),
        (err: unknown) =>
          err instanceof RegistryError &&
          err.kind === 'auth_refused' &&
          /private or does not exist/.test(err.message),
      );
    } finally {
      front.state.private = false;
    }
  });

  it('a dry run through a token-protected registry passes; a private package fails with REGISTRY_AUTH_REFUSED', async () => {
    const env = testEnvironment('token-front');
    const worker = await startWorker(env.invariants);
    const saved = process.env.SENTINEL_REGISTRY_URL;
    process.env.SENTINEL_REGISTRY_URL = front.url; // the in-process worker reads it per call
    try {
      const digest = await candidate('token-front');
      const ok = await (await startRun(env, { candidate: digest, dryRun: true })).result();
      assert.equal(ok.verdict, 'passed');
      assert.match(
        ok.preflight!.find((c) => c.name === 'manifest')!.detail,
        new RegExp(`found at ${front.url}`),
      );

      front.state.private = true;
      const refused = await (await startRun(env, { candidate: digest, dryRun: true })).result();
      assert.equal(refused.verdict, 'failed');
      assert.equal(refused.failure?.code, 'REGISTRY_AUTH_REFUSED');
      assert.match(refused.failure.remediation, /make the package public/);
    } finally {
      front.state.private = false;
      process.env.SENTINEL_REGISTRY_URL = saved;
      await worker.stop();
    }
  });
});
