/**
 * The AWS API calls the code makes, derived from the source: every module
 * reachable (by runtime imports) from an entry point is scanned for
 * `new <X>Command(` where X is imported from an `@aws-sdk/client-*` package.
 * A command someone adds anywhere the entry reaches is picked up on its own.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';

/** IAM service prefix of each SDK package. A package missing here fails the IAM test with its name. */
export const IAM_PREFIX: Record<string, string> = {
  'client-ec2': 'ec2',
  'client-ssm': 'ssm',
  'client-s3': 's3',
  'client-iam': 'iam',
  'client-sts': 'sts',
  'client-cognito-identity-provider': 'cognito-idp',
  'client-ecr': 'ecr',
  'client-secrets-manager': 'secretsmanager',
  'client-kms': 'kms',
};

/** Operations whose IAM action is not named like the API operation. */
const ACTION_NAMES: Record<string, string> = {
  's3:HeadBucket': 's3:ListBucket',
  's3:ListObjectsV2': 's3:ListBucket',
  's3:HeadObject': 's3:GetObject',
  's3:GetBucketLifecycleConfiguration': 's3:GetLifecycleConfiguration',
  's3:PutBucketLifecycleConfiguration': 's3:PutLifecycleConfiguration',
  's3:PutPublicAccessBlock': 's3:PutBucketPublicAccessBlock',
  's3:GetPublicAccessBlock': 's3:GetBucketPublicAccessBlock',
  's3:DeleteObjects': 's3:DeleteObject',
};

/** Actions AWS authorizes in addition when a call carries certain parameters (tags at creation). */
export const IMPLIED_ACTIONS: Record<string, string[]> = {
  'ec2:RunInstances': ['ec2:CreateTags', 'iam:PassRole'], // TagSpecifications, IamInstanceProfile
  'iam:CreateRole': ['iam:TagRole'], // Tags
};

export function iamAction(prefix: string, operation: string): string {
  const raw = `${prefix}:${operation}`;
  return ACTION_NAMES[raw] ?? raw;
}

/** `EC2.RunInstances` (AwsClients.callCounts keys) as an IAM action. */
export function iamActionOfCall(call: string): string {
  const [service, operation] = call.split('.') as [string, string];
  const prefix = {
    EC2: 'ec2',
    SSM: 'ssm',
    S3: 's3',
    IAM: 'iam',
    STS: 'sts',
    KMS: 'kms',
    COGNITO: 'cognito-idp',
    'COGNITO-IDP': 'cognito-idp',
  }[service.toUpperCase()];
  if (!prefix) throw new Error(`no IAM prefix known for the AwsClients service ${service}`);
  return iamAction(prefix, operation);
}

function resolveModule(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Relative modules a file loads at run time (type-only imports are left out). */
function runtimeImports(file: string, text: string): string[] {
  const specifiers: string[] = [];
  for (const m of text.matchAll(
    /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm,
  )) {
    if (!m[2]) specifiers.push(m[3]!);
  }
  for (const m of text.matchAll(/(?:require|import)\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g))
    specifiers.push(m[1]!);
  return specifiers.map((s) => resolveModule(file, s)).filter((f): f is string => f !== undefined);
}

/** `new XCommand(` calls whose class comes from an @aws-sdk/client-* import, as [package, operation]. */
function commandsIn(text: string): Array<[string, string]> {
  const imported = new Map<string, string>(); // local name -> package
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"]@aws-sdk\/(client-[a-z0-9-]+)['"]/g)) {
    for (const part of m[1]!.split(',')) {
      const [name, alias] = part
        .replace(/\btype\s+/, '')
        .trim()
        .split(/\s+as\s+/);
      if (name && /Command$/.test(name)) imported.set((alias ?? name).trim(), `${m[2]}:${name.trim()}`);
    }
  }
  const found: Array<[string, string]> = [];
  for (const m of text.matchAll(/new\s+([A-Za-z0-9_]+)\s*\(/g)) {
    const origin = imported.get(m[1]!);
    if (origin) {
      const [pkg, command] = origin.split(':') as [string, string];
      found.push([pkg, command.replace(/Command$/, '')]);
    }
  }
  return found;
}

export interface DerivedActions {
  /** IAM action -> the source files (relative) that call it. */
  actions: Map<string, Set<string>>;
  files: string[];
}

export function awsActionsReachableFrom(entry: string): DerivedActions {
  const start = path.resolve(PROJECT_ROOT, entry);
  const seen = new Set<string>([start]);
  const queue = [start];
  const actions = new Map<string, Set<string>>();
  while (queue.length > 0) {
    const file = queue.shift()!;
    const text = readFileSync(file, 'utf8');
    for (const [pkg, operation] of commandsIn(text)) {
      const prefix = IAM_PREFIX[pkg];
      if (!prefix)
        throw new Error(
          `${path.relative(PROJECT_ROOT, file)} calls @aws-sdk/${pkg}: add its IAM prefix to IAM_PREFIX in test/support/aws-actions.ts`,
        );
      const action = iamAction(prefix, operation);
      for (const a of [action, ...(IMPLIED_ACTIONS[action] ?? [])]) {
        if (!actions.has(a)) actions.set(a, new Set());
        actions.get(a)!.add(path.relative(PROJECT_ROOT, file));
      }
    }
    for (const next of runtimeImports(file, text)) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return { actions, files: [...seen].map((f) => path.relative(PROJECT_ROOT, f)).sort() };
}
