/**
 * Pushing to a registry that wants a push token (as GHCR does): the writer
 * uses the client's token flow, sends its credentials only to the token
 * realm, keeps the token for the calls that follow, and says what to set
 * when the realm refuses them.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient, RegistryError } from '../../src/registry/client';
import { RegistryWriter, sha256Digest } from '../../src/registry/push';
import { asyncHandler } from '../support/http-handler';
import { sharedStack } from '../support/stack';

const USER = 'writer';
const PASSWORD = 'secret';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The suite's registry behind GHCR's token flow: reads need a pull token, writes a push token got with Basic credentials. */
async function pushTokenFront(upstream: string) {
  const stats = { pushTokens: 0, pullTokens: 0, refusedTokens: 0, challenges: 0, basicOutsideRealm: 0 };
  const server = http.createServer(
    asyncHandler(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const url = new URL(req.url ?? '/', 'http://front');
      const front = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      if (url.pathname === '/token') {
        const scope = url.searchParams.get('scope') ?? '';
        if (scope.endsWith(':pull,push')) {
          if (req.headers.authorization !== basic(USER, PASSWORD)) {
            stats.refusedTokens += 1;
            res
              .writeHead(401, { 'Content-Type': 'application/json' })
              .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
            return;
          }
          stats.pushTokens += 1;
        } else {
          stats.pullTokens += 1;
        }
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ token: `t:${scope}`, expires_in: 300 }));
        return;
      }
      if (req.headers.authorization?.startsWith('Basic ')) stats.basicOutsideRealm += 1;
      const name = /^\/v2\/(.+?)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1] ?? 'unknown';
      const write = req.method !== 'GET' && req.method !== 'HEAD';
      const allowed = write
        ? [`Bearer t:repository:${name}:pull,push`]
        : [`Bearer t:repository:${name}:pull`, `Bearer t:repository:${name}:pull,push`];
      if (!allowed.includes(String(req.headers.authorization))) {
        stats.challenges += 1;
        res
          .writeHead(401, {
            'WWW-Authenticate': `Bearer realm="${front}/token",service="front.test",scope="repository:${name}:${write ? 'pull,push' : 'pull'}"`,
          })
          .end();
        return;
      }
      const headers: Record<string, string> = {};
      for (const key of ['accept', 'content-type'])
        if (req.headers[key]) headers[key] = String(req.headers[key]);
      const answer = await fetch(`${upstream}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        ...(write && chunks.length ? { body: Buffer.concat(chunks) } : {}),
        redirect: 'manual',
      });
      const out: Record<string, string> = {};
      answer.headers.forEach((value, key) => {
        if (key !== 'content-encoding' && key !== 'transfer-encoding' && key !== 'content-length')
          out[key] = key === 'location' ? value.replace(upstream, front) : value;
      });
      const body = req.method === 'HEAD' ? undefined : Buffer.from(await answer.arrayBuffer());
      if (req.method === 'HEAD' && answer.headers.get('content-length'))
        out['content-length'] = answer.headers.get('content-length')!;
      res.writeHead(answer.status, out).end(body);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("registry push: the client's token flow with credentials", function () {
  let front: Awaited<ReturnType<typeof pushTokenFront>>;
  before(async () => {
    front = await pushTokenFront((await sharedStack()).registry.url);
  });
  after(async () => {
    await front?.close();
  });

  it('pushes blobs and a manifest with one push token, sending the credentials to the token realm only; a reader then finds the manifest', async () => {
    const endpoint = { baseUrl: front.url, name: `sentinel/push-${randomUUID().slice(0, 8)}` };
    const writer = new RegistryWriter(endpoint, { username: USER, password: PASSWORD });
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created: new Date().toISOString(),
        rootfs: { type: 'layers', diff_ids: [] },
      }),
    );
    const layer = Buffer.from(`layer ${randomUUID()}`);
    const configDigest = await writer.putBlob(config);
    const layerDigest = await writer.putBlob(layer);
    assert.equal(configDigest, sha256Digest(config));
    assert.equal(await writer.putBlob(layer), layerDigest, 'a blob already there is not uploaded again');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: configDigest,
          size: config.length,
        },
        layers: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length },
        ],
      }),
    );
    const digest = await writer.putManifest('v1', 'application/vnd.oci.image.manifest.v1+json', manifest);
    assert.equal(digest, sha256Digest(manifest));
    assert.deepEqual(
      (await writer.getManifest(digest, 'application/vnd.oci.image.manifest.v1+json'))?.toString(),
      manifest.toString(),
    );

    assert.equal(front.stats.pushTokens, 1, 'one push token, kept for every call after');
    assert.equal(front.stats.basicOutsideRealm, 0, 'the credentials go to the token realm only');
    const head = await new RegistryClient().headManifest(endpoint, digest);
    assert.equal(head?.digest, digest);
    assert.equal(front.stats.pullTokens, 1, 'the reader gets its own anonymous pull token');
  });

  it('refused credentials: auth_refused, naming the variables to set', async () => {
    const endpoint = { baseUrl: front.url, name: `sentinel/push-${randomUUID().slice(0, 8)}` };
    const writer = new RegistryWriter(endpoint, { username: USER, password: 'wrong' });
    await assert.rejects(writer.putBlob(Buffer.from('x')), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.kind, 'auth_refused');
      assert.match(
        err.message,
        /no push token for sentinel\/push-\w+ \(HTTP 401\); set SENTINEL_REGISTRY_USERNAME and SENTINEL_REGISTRY_PASSWORD/,
      );
      return true;
    });
    assert.ok(front.stats.refusedTokens >= 1);
  });
});
