/**
 * infra/sentinel-iam.yaml read the way CloudFormation would resolve it
 * (Ref, Fn::Sub, Fn::Join, Fn::If, Fn::Equals, Fn::GetAtt for the few forms
 * the template uses), and an evaluator of its identity policies: is an action
 * allowed on a resource, under which statement and conditions.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/config/load';

type Json = any;

export const TEMPLATE_FILE = path.join(PROJECT_ROOT, 'infra', 'sentinel-iam.yaml');
export const PSEUDO = {
  'AWS::Region': 'us-west-2',
  'AWS::AccountId': '123456789012',
  'AWS::Partition': 'aws',
} as const;

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface ResolvedTemplate {
  raw: Json;
  parameters: Record<string, string | string[]>;
  /** Identity policies by name: WorkerPolicy, OperatorPolicy, CiEvidenceReaderRole/ReadEvidence, ... */
  policies: Record<string, Statement[]>;
}

export function loadTemplate(overrides: Record<string, string | string[]> = {}): ResolvedTemplate {
  const raw = parse(readFileSync(TEMPLATE_FILE, 'utf8'));
  const parameters: Record<string, string | string[]> = {};
  for (const [name, spec] of Object.entries<Json>(raw.Parameters ?? {})) {
    const value = overrides[name] ?? spec.Default;
    parameters[name] =
      spec.Type === 'CommaDelimitedList' && typeof value === 'string' ? value.split(',') : value;
  }
  const conditions: Record<string, boolean> = {};
  const resolve = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const keys = Object.keys(node);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const v = node[k];
      if (k === 'Ref') {
        if (v in PSEUDO) return PSEUDO[v as keyof typeof PSEUDO];
        if (v in parameters) return parameters[v];
        return `<${v}>`; // a resource of the template
      }
      if (k === 'Fn::Sub') {
        const [text, vars] = Array.isArray(v) ? [v[0], resolve(v[1])] : [v, {}];
        return String(text).replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
          const value =
            vars[name] ?? (name in PSEUDO ? PSEUDO[name as keyof typeof PSEUDO] : parameters[name]);
          if (value === undefined) throw new Error(`Fn::Sub: unknown \${${name}}`);
          return Array.isArray(value) ? value.join(',') : String(value);
        });
      }
      if (k === 'Fn::Join') return (resolve(v[1]) as string[]).join(resolve(v[0]));
      if (k === 'Fn::Equals') return resolve(v[0]) === resolve(v[1]);
      if (k === 'Fn::If') return conditions[v[0]] ? resolve(v[1]) : resolve(v[2]);
      if (k === 'Fn::GetAtt') return `<${v.join('.')}>`;
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolve(value)]));
  };
  for (const [name, expression] of Object.entries<Json>(raw.Conditions ?? {}))
    conditions[name] = resolve(expression) as boolean;
  const asList = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : [String(value)]);
  const statements = (doc: Json): Statement[] =>
    (doc.Statement as Json[]).map((s) => ({ ...s, Action: asList(s.Action), Resource: asList(s.Resource) }));
  const policies: Record<string, Statement[]> = {};
  for (const [logicalId, resource] of Object.entries<Json>(raw.Resources)) {
    const props = resolve(resource.Properties);
    if (resource.Type === 'AWS::IAM::ManagedPolicy') policies[logicalId] = statements(props.PolicyDocument);
    if (resource.Type === 'AWS::IAM::Role') {
      for (const inline of props.Policies ?? [])
        policies[`${logicalId}/${inline.PolicyName}`] = statements(inline.PolicyDocument);
    }
  }
  return { raw, parameters, policies };
}

/** IAM wildcard match: `*` any run of characters, `?` one; case-insensitive for actions. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    ignoreCase ? 'i' : '',
  );
  return re.test(value);
}

export interface Request {
  action: string;
  resource: string;
  /** Condition keys of the request, e.g. `aws:RequestTag/radix:purpose`. */
  context?: Record<string, string>;
}

function conditionsHold(condition: Statement['Condition'], context: Record<string, string>): boolean {
  for (const [operator, entries] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(entries)) {
      const actual = context[key];
      const values = Array.isArray(expected) ? expected : [expected];
      if (actual === undefined) return false;
      const ok =
        // A request here carries one value per key, so ForAnyValue:StringEquals reduces to StringEquals.
        operator === 'StringEquals' || operator === 'ArnEquals' || operator === 'ForAnyValue:StringEquals'
          ? values.includes(actual)
          : operator === 'StringLike' || operator === 'ArnLike'
            ? values.some((v) => globMatch(v, actual))
            : false;
      if (!ok) return false;
    }
  }
  return true;
}

/** The Allow statements granting the request (explicit Deny wins and yields none). */
export function allowingStatements(policy: Statement[], request: Request): Statement[] {
  const applies = (s: Statement) =>
    s.Action.some((a) => globMatch(a, request.action, true)) &&
    s.Resource.some((r) => globMatch(r, request.resource)) &&
    conditionsHold(s.Condition, request.context ?? {});
  if (policy.some((s) => s.Effect === 'Deny' && applies(s))) return [];
  return policy.filter((s) => s.Effect === 'Allow' && applies(s));
}

export function isAllowed(policy: Statement[], request: Request): boolean {
  return allowingStatements(policy, request).length > 0;
}

/** Every action a policy names, for "does it grant more than the code needs" checks. */
export function actionsNamed(policy: Statement[]): string[] {
  return [...new Set(policy.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action))].sort();
}
