/**
 * A real OCI registry on a free loopback port: Debian's `docker-registry`
 * (the CNCF distribution registry), filesystem storage in a temporary
 * directory, no authentication. The demo and the tests point Sentinel at it
 * with SENTINEL_REGISTRY_URL, and push small real images to it over the
 * registry's HTTP API (`pushImage`).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { freePort, startProcess, waitUntil, type ManagedProcess } from './process';
import { registryBinary } from './tools';

export interface LocalRegistry {
  /** `http://127.0.0.1:<port>`: the value for SENTINEL_REGISTRY_URL. */
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startRegistry(options: { workDir: string; logFile: string }): Promise<LocalRegistry> {
  const port = await freePort();
  const storage = path.join(options.workDir, 'storage');
  mkdirSync(storage, { recursive: true });
  const config = {
    version: 0.1,
    log: { level: 'warn', fields: { service: 'registry' } },
    storage: {
      filesystem: { rootdirectory: storage },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, headers: { 'X-Content-Type-Options': ['nosniff'] } },
    // No auth block: the packaged config's htpasswd auth is what this leaves out.
  };
  const configFile = path.join(options.workDir, 'config.yml');
  writeFileSync(configFile, stringify(config));
  const proc = startProcess(registryBinary(), ['serve', configFile], options.logFile);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil('docker-registry', async () => (await fetch(`${url}/v2/`)).ok, 30_000, proc);
  return { url, process: proc, stop: () => proc.stop() };
}

export interface PushOptions {
  /** Varies the image's content, hence its digest: one seed, one digest. */
  seed: string;
  /** Also tag the manifest (e.g. `latest`); without it the manifest is pushed by digest only. */
  tag?: string;
  /** Recorded as the `org.opencontainers.image.revision` label. */
  revision?: string;
  /**
   * The build time in the image config (`created`), which orders promotions.
   * Default: now, and always later than the previous image this process pushed,
   * as successive builds are.
   */
  created?: Date;
}

export interface PushedImage {
  /** `sha256:<hex>` of the manifest. */
  digest: string;
  manifest: Buffer;
  /** The image config's `created` time. */
  created: string;
}

let lastCreated = 0;

/** Now, but at least a millisecond after the last build time handed out: images pushed one after the other are ordered. */
function nextBuildTime(): Date {
  lastCreated = Math.max(Date.now(), lastCreated + 1);
  return new Date(lastCreated);
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/**
 * Pushes a small real image (one layer: a gzipped tar holding one file; its
 * config with the build time; an OCI manifest) to `<registryUrl>/v2/<name>`
 * with the standard upload flow, and returns the manifest's digest. The same
 * seed and build time always give the same digest.
 */
export async function pushImage(
  registryUrl: string,
  name: string,
  options: PushOptions,
): Promise<PushedImage> {
  const base = registryUrl.replace(/\/+$/, '');
  const tar = singleFileTar('etc/sentinel-seed', Buffer.from(`${options.seed}\n`));
  const layer = gzipSync(tar, { level: 9 });
  // Fixed times and no file names in the gzip header: the same seed always gives the same layer.
  layer.writeUInt32LE(0, 4);
  const created = (options.created ?? nextBuildTime()).toISOString();
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created,
      config: {
        Cmd: ['/bin/true'],
        Labels: {
          'org.opencontainers.image.title': 'radix-cluster-agent (test image)',
          ...(options.revision ? { 'org.opencontainers.image.revision': options.revision } : {}),
        },
      },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  await pushBlob(base, name, config);
  await pushBlob(base, name, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: sha256(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const digest = sha256(manifest);
  for (const reference of options.tag ? [digest, options.tag] : [digest]) {
    const res = await fetch(`${base}/v2/${name}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: manifest,
    });
    if (res.status !== 201)
      throw new Error(`PUT manifest ${name}:${reference}: HTTP ${res.status} ${await res.text()}`);
    const reported = res.headers.get('docker-content-digest');
    if (reported && reported !== digest)
      throw new Error(`registry stored manifest as ${reported}, expected ${digest}`);
  }
  return { digest, manifest, created };
}

async function pushBlob(base: string, name: string, blob: Buffer): Promise<void> {
  const digest = sha256(blob);
  const exists = await fetch(`${base}/v2/${name}/blobs/${digest}`, { method: 'HEAD' });
  if (exists.ok) return;
  const start = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  await start.body?.cancel();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw new Error(`start upload to ${name}: HTTP ${start.status}`);
  const upload = new URL(location, base);
  upload.searchParams.set('digest', digest);
  const put = await fetch(upload, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: blob,
  });
  if (put.status !== 201)
    throw new Error(`upload ${digest} to ${name}: HTTP ${put.status} ${await put.text()}`);
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A POSIX (ustar) archive of one regular file, as `tar` writes it. */
function singleFileTar(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) =>
    header.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, value: number) =>
    field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  field(0, 100, name);
  octal(100, 8, 0o644); // mode
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, content.length);
  octal(136, 12, 1_704_067_200); // mtime: 2024-01-01
  field(148, 8, '        '); // checksum placeholder
  field(156, 1, '0'); // regular file
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}
