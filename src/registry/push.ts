/**
 * Writing to an OCI registry: blobs (monolithic upload: POST then PUT with
 * the digest) and manifests by tag or digest. Used to attach attestations to
 * the candidate image, where `cosign verify-attestation` and other standard
 * tools look for them.
 *
 * Credentials, when the registry wants them (GHCR does for any push), come
 * from SENTINEL_REGISTRY_USERNAME / SENTINEL_REGISTRY_PASSWORD and are only
 * ever sent to the registry's token realm (Basic), which answers with a
 * push token: the client's token flow (./client.ts, RegistryTokens).
 */
import { createHash } from 'node:crypto';
import { RegistryError, RegistryTokens, type RegistryCredentials, type RegistryEndpoint } from './client';

export function registryCredentials(env: NodeJS.ProcessEnv = process.env): RegistryCredentials | undefined {
  const username = env.SENTINEL_REGISTRY_USERNAME?.trim();
  const password = env.SENTINEL_REGISTRY_PASSWORD;
  return username && password ? { username, password } : undefined;
}

export const sha256Digest = (bytes: Buffer | string): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export class RegistryWriter {
  private readonly tokens: RegistryTokens;

  constructor(
    private readonly endpoint: RegistryEndpoint,
    credentials: RegistryCredentials | undefined = registryCredentials(),
    private readonly fetchFn: typeof fetch = fetch,
  ) {
    this.tokens = new RegistryTokens(fetchFn, credentials);
  }

  /** Uploads a blob unless the registry already has it; returns its digest. */
  async putBlob(bytes: Buffer): Promise<string> {
    const digest = sha256Digest(bytes);
    const head = await this.call('HEAD', `blobs/${digest}`);
    if (head.ok) return digest;
    const start = await this.call('POST', 'blobs/uploads/');
    if (start.status !== 202) throw this.failure(start, 'start blob upload');
    const location = start.headers.get('location');
    if (!location)
      throw new RegistryError(
        'bad_response',
        `${this.endpoint.baseUrl}: blob upload answered without a Location`,
      );
    const url = new URL(location, this.endpoint.baseUrl);
    url.searchParams.set('digest', digest);
    const done = await this.callUrl(
      url.toString(),
      'PUT',
      { 'Content-Type': 'application/octet-stream' },
      bytes,
    );
    if (done.status !== 201) throw this.failure(done, `upload blob ${digest}`);
    return digest;
  }

  /** Puts a manifest under a tag or its digest; returns the manifest's digest. */
  async putManifest(reference: string, mediaType: string, body: Buffer): Promise<string> {
    const res = await this.call('PUT', `manifests/${reference}`, { 'Content-Type': mediaType }, body);
    if (res.status !== 201) throw this.failure(res, `put manifest ${reference}`);
    return res.headers.get('docker-content-digest') ?? sha256Digest(body);
  }

  /** A manifest's bytes by tag or digest, or undefined when there is none. */
  async getManifest(reference: string, accept: string): Promise<Buffer | undefined> {
    const res = await this.call('GET', `manifests/${reference}`, { Accept: accept });
    if (res.status === 404) return undefined;
    if (!res.ok) throw this.failure(res, `get manifest ${reference}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async getBlob(digest: string): Promise<Buffer | undefined> {
    const res = await this.call('GET', `blobs/${digest}`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw this.failure(res, `get blob ${digest}`);
    return Buffer.from(await res.arrayBuffer());
  }

  private failure(res: Response, what: string): RegistryError {
    const kind =
      res.status === 401 || res.status === 403
        ? 'auth_refused'
        : res.status === 429 || res.status >= 500
          ? 'unreachable'
          : 'bad_response';
    const hint =
      kind === 'auth_refused'
        ? ' (set SENTINEL_REGISTRY_USERNAME and SENTINEL_REGISTRY_PASSWORD to an account that may push)'
        : '';
    return new RegistryError(
      kind,
      `${this.endpoint.baseUrl}/v2/${this.endpoint.name}: ${what} answered HTTP ${res.status}${hint}`,
      res.status,
    );
  }

  private call(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<Response> {
    return this.callUrl(`${this.endpoint.baseUrl}/v2/${this.endpoint.name}/${path}`, method, headers, body);
  }

  /** One call with the push token (an upload's Location is a URL of its own). */
  private callUrl(
    url: string,
    method: string,
    headers: Record<string, string>,
    body?: Buffer,
  ): Promise<Response> {
    return this.tokens.call(this.endpoint, 'push', url, (authorization) =>
      this.send(url, method, { ...headers, ...authorization }, body),
    );
  }

  private async send(
    url: string,
    method: string,
    headers: Record<string, string>,
    body?: Buffer,
  ): Promise<Response> {
    try {
      return await this.fetchFn(url, { method, headers, ...(body ? { body } : {}), redirect: 'follow' });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new RegistryError(
        'unreachable',
        `${new URL(url).origin}: ${cause?.code ?? (err as Error).message}`,
      );
    }
  }
}
