/**
 * Where evidence packs live: a directory (sandbox environments) or an S3
 * bucket and prefix (`s3://bucket/prefix/`, kept 90 days by the bucket's
 * lifecycle rule). Runs started by a schedule have no CI to upload their
 * evidence, so Sentinel stores it itself, on every path.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AwsClients } from '../aws/clients';
import type { EvidenceLocation } from '../domain/run';

export interface EvidenceFiles {
  /** File name without extension, e.g. the run's workflow id. */
  name: string;
  json: string;
  markdown: string;
}

export function parseS3Location(location: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (!match) return undefined;
  const prefix = match[2] ?? '';
  return { bucket: match[1]!, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}

export async function storeEvidence(
  aws: AwsClients,
  region: string,
  location: string,
  files: EvidenceFiles,
): Promise<EvidenceLocation> {
  const safeName = files.name.replace(/[^A-Za-z0-9._-]/g, '_');
  const s3 = parseS3Location(location);
  if (s3) {
    const put = async (key: string, body: string, contentType: string) => {
      await aws
        .s3(region)
        .send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: contentType }));
      return `s3://${s3.bucket}/${key}`;
    };
    return {
      json: await put(`${s3.prefix}${safeName}.json`, files.json, 'application/json'),
      markdown: await put(`${s3.prefix}${safeName}.md`, files.markdown, 'text/markdown; charset=utf-8'),
    };
  }
  await mkdir(location, { recursive: true });
  const write = async (file: string, body: string) => {
    // Written aside then renamed, so a reader never sees half a file.
    const partial = `${file}.partial-${process.pid}`;
    await writeFile(partial, body);
    await rename(partial, file);
    return file;
  };
  return {
    json: await write(path.join(location, `${safeName}.json`), files.json),
    markdown: await write(path.join(location, `${safeName}.md`), files.markdown),
  };
}
