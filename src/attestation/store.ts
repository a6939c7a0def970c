/**
 * Attestation files beside the evidence: `<evidence location>/attestations/<run>/`,
 * in the same directory or S3 prefix, so they share its retention.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AwsClients } from '../aws/clients';
import { parseS3Location } from '../evidence/store';

export interface StoredFile {
  name: string;
  /** A path or an s3:// URL. */
  location: string;
}

const safe = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, '_');

export async function storeAttestationFiles(
  aws: AwsClients,
  region: string,
  evidenceLocation: string,
  runWorkflowId: string,
  files: Array<{ name: string; body: string }>,
): Promise<StoredFile[]> {
  const s3 = parseS3Location(evidenceLocation);
  const stored: StoredFile[] = [];
  if (s3) {
    for (const file of files) {
      const key = `${s3.prefix}attestations/${safe(runWorkflowId)}/${safe(file.name)}`;
      const contentType = file.name.endsWith('.pem') ? 'application/x-pem-file' : 'application/json';
      await aws
        .s3(region)
        .send(
          new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: file.body, ContentType: contentType }),
        );
      stored.push({ name: file.name, location: `s3://${s3.bucket}/${key}` });
    }
    return stored;
  }
  const dir = path.join(evidenceLocation, 'attestations', safe(runWorkflowId));
  await mkdir(dir, { recursive: true });
  for (const file of files) {
    const target = path.join(dir, safe(file.name));
    const partial = `${target}.partial-${process.pid}`;
    await writeFile(partial, file.body);
    await rename(partial, target);
    stored.push({ name: file.name, location: target });
  }
  return stored;
}
