/**
 * Reading the evidence store: every `<run>.json` directly under a directory
 * or an S3 prefix (attestations live deeper and are not evidence packs).
 * A pack that does not parse is skipped with a warning naming it; a store
 * that cannot be read at all is an error naming it.
 */
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AwsClients } from '../aws/clients';
import { awsErrorMessage, awsErrorName } from '../aws/errors';
import { parseS3Location } from '../evidence/store';
import type { ReportRun } from './model';
import { normaliseEvidence } from './normalise';

export interface LoadedEvidence {
  runs: ReportRun[];
  /** One line per skipped file, naming it and saying why. */
  warnings: string[];
}

/** The store could not be listed or read: nothing to build a report from. */
export class EvidenceUnreadableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvidenceUnreadableError';
  }
}

export async function loadEvidence(
  location: string,
  region: string,
  aws: AwsClients,
): Promise<LoadedEvidence> {
  const documents = parseS3Location(location) ? await readS3(location, region, aws) : readDirectory(location);
  const runs: ReportRun[] = [];
  const warnings: string[] = [];
  for (const { source, text, error } of documents) {
    if (text === undefined) {
      warnings.push(`skipped ${source}: cannot be read (${error}); check its permissions`);
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      warnings.push(`skipped ${source}: not valid JSON (${(err as Error).message}); fix or remove the file`);
      continue;
    }
    const result = normaliseEvidence(doc, source);
    if ('problem' in result) warnings.push(`skipped ${source}: ${result.problem}`);
    else runs.push(result.run);
  }
  runs.sort((a, b) => b.startMs - a.startMs || a.id.localeCompare(b.id));
  return { runs, warnings };
}

interface Document {
  source: string;
  text?: string;
  /** Why the file could not be read. */
  error?: string;
}

function readDirectory(dir: string): Document[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory())
      throw new EvidenceUnreadableError(
        `the evidence location ${dir} is not a directory: pass --evidence <dir|s3://bucket/prefix/> or fix evidence.location in the configuration`,
      );
    names = readdirSync(dir);
  } catch (err) {
    if (err instanceof EvidenceUnreadableError) throw err;
    throw new EvidenceUnreadableError(
      `cannot read the evidence directory ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check the path (--evidence, or evidence.location in the configuration) and its permissions`,
    );
  }
  const documents: Document[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      documents.push({ source: file, text: readFileSync(file, 'utf8') });
    } catch (err) {
      // One unreadable file is like a corrupt one: named, skipped, the rest still reported.
      documents.push({ source: file, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
    }
  }
  return documents;
}

const S3_READS_AT_ONCE = 8;

async function readS3(location: string, region: string, aws: AwsClients): Promise<Document[]> {
  const { bucket, prefix } = parseS3Location(location)!;
  const s3 = aws.s3(region);
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        const rest = object.Key?.slice(prefix.length) ?? '';
        if (rest.endsWith('.json') && !rest.includes('/')) keys.push(object.Key!);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    throw new EvidenceUnreadableError(
      `cannot list the evidence at s3://${bucket}/${prefix} (${s3Problem(err)}): ${s3Fix(err)}`,
    );
  }
  const read = async (key: string): Promise<Document> => {
    const source = `s3://${bucket}/${key}`;
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { source, text: await out.Body!.transformToString('utf8') };
    } catch (err) {
      return { source, error: s3Problem(err) };
    }
  };
  // A few at a time: 90 days of nightly packs are read in seconds, without a burst of hundreds of requests.
  const sorted = keys.sort();
  const documents: Document[] = [];
  for (let i = 0; i < sorted.length; i += S3_READS_AT_ONCE)
    documents.push(...(await Promise.all(sorted.slice(i, i + S3_READS_AT_ONCE).map(read))));
  return documents;
}

function s3Problem(err: unknown): string {
  return awsErrorMessage(err).split('\n')[0]!;
}

function s3Fix(err: unknown): string {
  switch (awsErrorName(err)) {
    case 'NoSuchBucket':
      return 'the bucket does not exist; check the bucket name (--evidence, or evidence.location in the configuration) and the region';
    case 'AccessDenied':
    case 'Forbidden':
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'ExpiredToken':
      return 'the credentials may not list and read it; grant s3:ListBucket and s3:GetObject on the prefix, or use credentials that have them';
    default:
      return 'check the location (--evidence, or evidence.location in the configuration), the credentials and AWS_ENDPOINT_URL_S3 / the region';
  }
}
