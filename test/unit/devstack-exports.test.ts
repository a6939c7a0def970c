import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { pointEnvironmentAt, shellExports } from '../../dev/stack/exports';
import { CONNECTION_OVERRIDE_VARIABLES } from '../../src/temporal/connection';

describe("the dev stack's export lines", () => {
  it('set exactly the given values in a real shell, quotes and spaces included', () => {
    const env = {
      TEMPORAL_ADDRESS: '127.0.0.1:40123',
      TEMPORAL_NAMESPACE: 'default',
      ODD: `it's a "test" $HOME \`x\``,
    };
    const lines = shellExports(env);
    assert.deepEqual(lines.slice(0, 2), [
      `export ODD='it'\\''s a "test" $HOME \`x\`'`,
      "export TEMPORAL_ADDRESS='127.0.0.1:40123'",
    ]);
    const out = execFileSync(
      'bash',
      ['-c', `${lines.join('\n')}\nprintf '%s\\n' "$ODD" "$TEMPORAL_ADDRESS" "$TEMPORAL_NAMESPACE"`],
      { env: {} },
    ).toString();
    assert.equal(out, `${env.ODD}\n127.0.0.1:40123\ndefault\n`);
  });

  it("clear the Temporal variables that would override the stack's profile (a key or certificate for another server)", () => {
    const env = { TEMPORAL_CONFIG_FILE: '/tmp/stack/temporal.toml', TEMPORAL_PROFILE: 'devstack' };
    const lines = shellExports(env, CONNECTION_OVERRIDE_VARIABLES);
    const shell = {
      TEMPORAL_API_KEY: 'cloud-key',
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/secrets/c.pem',
      TEMPORAL_PROFILE: 'cloud',
    };
    const out = execFileSync(
      'bash',
      [
        '-c',
        `${lines.join('\n')}\nprintf '%s|' "$TEMPORAL_PROFILE" "\${TEMPORAL_API_KEY-unset}" "\${TEMPORAL_ADDRESS-unset}" "\${TEMPORAL_TLS_CLIENT_CERT_PATH-unset}"`,
      ],
      { env: shell },
    ).toString();
    assert.equal(out, 'devstack|unset|unset|unset|');

    const processEnv: NodeJS.ProcessEnv = { ...shell, HOME: '/home/x' };
    pointEnvironmentAt(processEnv, env);
    assert.deepEqual(processEnv, { HOME: '/home/x', ...env });
  });
});
