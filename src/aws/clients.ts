/**
 * AWS SDK v3 clients, one per service and region, shared by every activity of
 * a worker. Region comes from the environment's configuration; credentials
 * from the standard chain; the endpoint from the standard AWS_ENDPOINT_URL /
 * AWS_ENDPOINT_URL_<SERVICE> variables (which is how tests and the demo point
 * at an emulator, with no custom flag).
 *
 * Every call is counted by operation, so benchmarks and tests can assert how
 * many AWS calls a run makes.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';

type AnyClient = EC2Client | SSMClient | S3Client | IAMClient | KMSClient;

/** Explicit connection settings, for a component of the dev stack that must not depend on process.env. */
export interface AwsClientOverrides {
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export class AwsClients {
  private readonly clients = new Map<string, AnyClient>();
  private readonly calls = new Map<string, number>();

  constructor(private readonly overrides: AwsClientOverrides = {}) {}

  ec2(region: string): EC2Client {
    return this.get(`ec2:${region}`, () => new EC2Client({ region, ...this.overrides }));
  }

  /**
   * EC2 for RunInstances: one attempt per call, no SDK retry. The capacity
   * sweep decides itself what an error means (next pair, or back off on a
   * throttle); the SDK would otherwise repeat an InsufficientInstanceCapacity
   * (a 5xx) against the same exhausted zone.
   */
  ec2Launch(region: string): EC2Client {
    return this.get(
      `ec2-launch:${region}`,
      () => new EC2Client({ region, maxAttempts: 1, ...this.overrides }),
      'EC2',
    );
  }

  ssm(region: string): SSMClient {
    return this.get(`ssm:${region}`, () => new SSMClient({ region, ...this.overrides }));
  }

  s3(region: string): S3Client {
    // Path-style keeps bucket names out of DNS, which emulators and private endpoints need.
    const forcePathStyle = !!(
      this.overrides.endpoint ||
      process.env.AWS_ENDPOINT_URL ||
      process.env.AWS_ENDPOINT_URL_S3
    );
    return this.get(`s3:${region}`, () => new S3Client({ region, forcePathStyle, ...this.overrides }));
  }

  /** KMS signs attestations; the private key never leaves it. */
  kms(region: string): KMSClient {
    return this.get(`kms:${region}`, () => new KMSClient({ region, ...this.overrides }));
  }

  /** IAM is global; the region only picks the signing endpoint. */
  iam(region: string): IAMClient {
    return this.get(`iam:${region}`, () => new IAMClient({ region, ...this.overrides }));
  }

  /** Calls made so far, keyed `Service.Operation` (e.g. `EC2.RunInstances`). */
  callCounts(): Record<string, number> {
    return Object.fromEntries([...this.calls.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  resetCallCounts(): void {
    this.calls.clear();
  }

  destroy(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }

  private get<C extends AnyClient>(
    key: string,
    create: () => C,
    service = key.split(':')[0]!.toUpperCase(),
  ): C {
    let client = this.clients.get(key) as C | undefined;
    if (!client) {
      client = create();
      this.count(client, service);
      this.clients.set(key, client);
    }
    return client;
  }

  private count(client: AnyClient, service: string): void {
    (client.middlewareStack as EC2Client['middlewareStack']).add(
      (next, context) => async (args) => {
        const operation = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
        const key = `${service}.${operation}`;
        this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'sentinelCallCounter' },
    );
  }
}
