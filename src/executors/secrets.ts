/**
 * How a check's secrets (the onboarding token, the installer URL with its
 * candidate grant) reach the host: never in the command's text, which SSM
 * keeps in its command history (ssm:ListCommands), and never in a process's
 * arguments, which anyone on the host reads with `ps`. The script carries
 * only where to find them; `load_secrets` (ops/checks/lib.sh) reads them
 * into shell variables of the check.
 */
import { shellQuote } from '../checks/scripts';

/** Where the SSM executor keeps a check's secrets while its command runs: one SecureString per host and check. */
export const HOST_SECRETS_PATH = '/sentinel/host-secrets';

export function hostSecretsParameter(instanceId: string, check: string): string {
  return `${HOST_SECRETS_PATH}/${instanceId}/${check}`;
}

/** The secrets as one line of shell assignments (`NAME='value' …`), which load_secrets evaluates. */
export function secretAssignments(secrets: Record<string, string>): string {
  return Object.entries(secrets)
    .map(([name, value]) => {
      if (!/^[A-Z][A-Z0-9_]*$/.test(name))
        throw new Error(`secret name ${name} is not an upper-case shell variable name`);
      if (/[\n\r\0]/.test(value)) throw new Error(`secret ${name} holds a line break or NUL`);
      return `${name}=${shellQuote(value)}`;
    })
    .join(' ');
}

/** The script with the exports that tell load_secrets where its secrets are, right after its `#!` line. */
export function withSecretSource(script: string, source: Record<string, string>): string {
  const exports = Object.entries(source).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
  const newline = script.indexOf('\n');
  if (!script.startsWith('#!') || newline < 0) return [...exports, script].join('\n');
  return [script.slice(0, newline), ...exports, script.slice(newline + 1)].join('\n');
}
