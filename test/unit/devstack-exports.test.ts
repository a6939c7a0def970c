import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { shellExports } from '../../src/devstack/exports';

describe('the dev stack\'s export lines', () => {
  it('set exactly the given values in a real shell, quotes and spaces included', () => {
    const env = { TEMPORAL_ADDRESS: '127.0.0.1:40123', TEMPORAL_NAMESPACE: 'default', ODD: `it's a "test" $HOME \`x\`` };
    const lines = shellExports(env);
    assert.deepEqual(lines.slice(0, 2), [`export ODD='it'\\''s a "test" $HOME \`x\`'`, "export TEMPORAL_ADDRESS='127.0.0.1:40123'"]);
    const out = execFileSync('bash', ['-c', `${lines.join('\n')}\nprintf '%s\\n' "$ODD" "$TEMPORAL_ADDRESS" "$TEMPORAL_NAMESPACE"`], { env: {} }).toString();
    assert.equal(out, `${env.ODD}\n127.0.0.1:40123\ndefault\n`);
  });
});
