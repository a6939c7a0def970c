import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { loadTemporalConfig, taskQueueOf, TemporalConfigError } from '../../src/temporal/connection';
import { createSentinelWorker } from '../../src/worker/worker';
import { candidate } from '../support/aws';
import { testEnvironment } from '../support/invariants';
import { sharedStack, suiteDir } from '../support/stack';
import { makePki, startTlsProxy, type TestPki, type TlsProxy } from '../support/tls';
import { workflowBundle } from '../support/worker';
import { startRun } from '../support/runs';

describe('Temporal connection settings (envconfig: profiles and TEMPORAL_* variables)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-temporal-config-'));
  const file = (name: string, text: string): string => {
    const target = path.join(dir, name);
    writeFileSync(target, text);
    return target;
  };
  const [crt, key, ca] = [file('c.pem', 'CERT'), file('k.pem', 'KEY'), file('ca.pem', 'CA')];
  const missing = path.join(dir, 'missing.pem');
  const refused = (env: NodeJS.ProcessEnv, message: RegExp) =>
    assert.throws(
      () => loadTemporalConfig(env),
      (err: unknown) => err instanceof TemporalConfigError && message.test(err.message),
      `${JSON.stringify(env)} is refused with ${message}`,
    );

  it('defaults to a plaintext local server', () => {
    assert.deepEqual(loadTemporalConfig({}), {
      address: 'localhost:7233',
      namespace: 'default',
      connectionOptions: { address: 'localhost:7233' },
    });
    assert.equal(taskQueueOf('sentinel-gpu-matrix', {}), 'sentinel-gpu-matrix');
    assert.equal(taskQueueOf('sentinel-gpu-matrix', { TEMPORAL_TASK_QUEUE: 'other' }), 'other');
  });

  it('turns TLS on for an API key, a client certificate, a CA or TEMPORAL_TLS=true, and takes an empty variable as unset', () => {
    const apiKey = loadTemporalConfig({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'ns.acct',
      TEMPORAL_API_KEY: 'k',
    });
    assert.deepEqual(apiKey, {
      address: 'ns.acct.tmprl.cloud:7233',
      namespace: 'ns.acct',
      connectionOptions: { address: 'ns.acct.tmprl.cloud:7233', tls: true, apiKey: 'k' },
    });
    assert.ok(loadTemporalConfig({ TEMPORAL_TLS: 'true' }).connectionOptions.tls, 'TEMPORAL_TLS=true');
    assert.ok(
      loadTemporalConfig({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca }).connectionOptions.tls,
      'a CA alone',
    );
    assert.equal(loadTemporalConfig({ TEMPORAL_TLS: 'false' }).connectionOptions.tls, false);
    // A CI secret that is not set arrives as "": no key, no TLS, the default address.
    assert.deepEqual(
      loadTemporalConfig({
        TEMPORAL_ADDRESS: '',
        TEMPORAL_NAMESPACE: '',
        TEMPORAL_API_KEY: '',
        TEMPORAL_TLS: '',
      }),
      loadTemporalConfig({}),
    );
  });

  it('reads certificate files named by the standard variables', () => {
    const tls = loadTemporalConfig({
      TEMPORAL_TLS_CLIENT_CERT_PATH: crt,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    }).connectionOptions.tls as TLSConfig;
    assert.equal(Buffer.from(tls.clientCertPair!.crt).toString(), 'CERT');
    assert.equal(Buffer.from(tls.clientCertPair!.key).toString(), 'KEY');
    assert.equal(Buffer.from(tls.serverRootCACertificate!).toString(), 'CA');
    assert.equal(tls.serverNameOverride, 'temporal.internal');
  });

  it('reads a profile of a TOML config file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), with the variables over it', () => {
    const config = file(
      'temporal.toml',
      [
        '[profile.default]',
        'address = "default.example:7233"',
        '',
        '[profile.cloud]',
        'address = "ns.acct.tmprl.cloud:7233"',
        'namespace = "ns.acct"',
        '[profile.cloud.tls]',
        `client_cert_path = "${crt}"`,
        `client_key_path = "${key}"`,
        '[profile.cloud.grpc_meta]',
        'x-team = "gpu"',
      ].join('\n'),
    );
    assert.equal(
      loadTemporalConfig({ TEMPORAL_CONFIG_FILE: config }).address,
      'default.example:7233',
      'the default profile',
    );
    const cloud = loadTemporalConfig({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud' });
    assert.equal(cloud.address, 'ns.acct.tmprl.cloud:7233');
    assert.equal(cloud.namespace, 'ns.acct');
    assert.equal(
      Buffer.from((cloud.connectionOptions.tls as TLSConfig).clientCertPair!.crt).toString(),
      'CERT',
    );
    assert.deepEqual(cloud.connectionOptions.metadata, { 'x-team': 'gpu' });
    const overridden = loadTemporalConfig({
      TEMPORAL_CONFIG_FILE: config,
      TEMPORAL_PROFILE: 'cloud',
      TEMPORAL_NAMESPACE: 'other.acct',
    });
    assert.equal(overridden.namespace, 'other.acct');
    assert.equal(overridden.address, 'ns.acct.tmprl.cloud:7233');
  });

  it('refuses what would otherwise connect somewhere unintended, naming the variable or file and the fix', () => {
    // The names this project read before: refused, never ignored (TLS would silently be off).
    refused(
      { TEMPORAL_TLS_CA: ca },
      /TEMPORAL_TLS_CA is no longer read: set TEMPORAL_TLS_SERVER_CA_CERT_PATH instead/,
    );
    refused(
      { TEMPORAL_TLS_CERT: crt, TEMPORAL_TLS_KEY: key },
      /TEMPORAL_TLS_CERT is no longer read: set TEMPORAL_TLS_CLIENT_CERT_PATH instead; TEMPORAL_TLS_KEY is no longer read: set TEMPORAL_TLS_CLIENT_KEY_PATH instead/,
    );
    refused(
      { TEMPORAL_TLS_CLIENT_CERT_PATH: crt },
      /set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/,
    );
    refused({ TEMPORAL_TLS_CLIENT_KEY_PATH: key }, /set both/);
    refused(
      { TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing },
      new RegExp(`^TEMPORAL_TLS_SERVER_CA_CERT_PATH=${missing}: ENOENT`),
    );
    refused({ TEMPORAL_TLS: 'yes' }, /TEMPORAL_TLS=yes: use true or false/);
    refused(
      { TEMPORAL_CONFIG_FILE: path.join(dir, 'nowhere.toml') },
      /TEMPORAL_CONFIG_FILE=.*nowhere\.toml: ENOENT/,
    );
    const config = file(
      'profiles.toml',
      `[profile.dev]\naddress = "dev:7233"\n[profile.broken.tls]\nserver_ca_cert_path = "${missing}"\n`,
    );
    refused(
      { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'prod' },
      /TEMPORAL_PROFILE=prod: .*profiles\.toml has no \[profile\.prod\] \(it has dev, broken\)/,
    );
    refused(
      { TEMPORAL_PROFILE: 'prod' },
      /TEMPORAL_PROFILE=prod: the default Temporal config file .* has no \[profile\.prod\]/,
    );
    refused(
      { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'broken' },
      new RegExp(`tls\\.server_ca_cert_path of profile broken in .*profiles\\.toml=${missing}: ENOENT`),
    );
    refused(
      { TEMPORAL_CONFIG_FILE: file('typo.toml', '[profile.default]\nadress = "x:7233"\n') },
      /typo\.toml: .*unrecognized in profile\.default: adress/,
    );
  });
});

describe('Temporal over TLS (a TLS proxy in front of the dev server)', function () {
  let pki: TestPki;
  let tlsOnly: TlsProxy;
  let mutual: TlsProxy;

  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    pki = makePki();
    tlsOnly = await startTlsProxy(pki, stack.temporal.address, { requireClientCert: false });
    mutual = await startTlsProxy(pki, stack.temporal.address, { requireClientCert: true });
  });

  after(async () => {
    await tlsOnly?.close();
    await mutual?.close();
  });

  async function reachable(env: NodeJS.ProcessEnv, connectTimeout = 5_000): Promise<void> {
    const connection = await Connection.connect({
      ...loadTemporalConfig(env).connectionOptions,
      connectTimeout,
    });
    try {
      await connection.workflowService.getSystemInfo({});
    } finally {
      await connection.close();
    }
  }

  it('connects the client with a private CA and a server name', async () => {
    await reachable({
      TEMPORAL_ADDRESS: tlsOnly.address,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca,
      TEMPORAL_TLS_SERVER_NAME: pki.serverName,
    });
  });

  it('connects the client with the CA and server name of a config file profile', async () => {
    const config = path.join(pki.dir, 'temporal.toml');
    writeFileSync(
      config,
      `[profile.secured]\naddress = "${tlsOnly.address}"\n[profile.secured.tls]\nserver_ca_cert_path = "${pki.ca}"\nserver_name = "${pki.serverName}"\n`,
    );
    await reachable({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'secured' });
  });

  it('refuses a server whose certificate the configured CA did not sign', async () => {
    await assert.rejects(
      reachable(
        {
          TEMPORAL_ADDRESS: tlsOnly.address,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCa,
          TEMPORAL_TLS_SERVER_NAME: pki.serverName,
        },
        1_500,
      ),
    );
  });

  it('needs the client certificate where the server requires mTLS', async () => {
    const before = mutual.rejected;
    await assert.rejects(
      reachable(
        {
          TEMPORAL_ADDRESS: mutual.address,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca,
          TEMPORAL_TLS_SERVER_NAME: pki.serverName,
        },
        1_500,
      ),
    );
    assert.ok(mutual.rejected > before, 'the server refused the handshake');
    await reachable({
      TEMPORAL_ADDRESS: mutual.address,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca,
      TEMPORAL_TLS_SERVER_NAME: pki.serverName,
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
    });
  });

  it('runs a whole matrix through a worker connected with mTLS', async () => {
    const env = testEnvironment('mtls');
    const settings = loadTemporalConfig({
      TEMPORAL_ADDRESS: mutual.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca,
      TEMPORAL_TLS_SERVER_NAME: pki.serverName,
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
    });
    const sentinel = await createSentinelWorker({
      invariants: env.invariants,
      temporal: settings,
      workflowBundle: await workflowBundle(),
      localWorkRoot: path.join(suiteDir, 'hosts-work'),
    });
    const running = sentinel.worker.run();
    try {
      const result = await (await startRun(env, { candidate: await candidate('mtls') })).result();
      assert.equal(result.verdict, 'passed');
    } finally {
      sentinel.worker.shutdown();
      await running;
      await sentinel.close();
    }
  });
});
