import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { connectionOptions, taskQueueOf, temporalSettings, TemporalSettingsError } from '../../src/temporal/connection';
import { createSentinelWorker } from '../../src/worker/worker';
import { candidate } from '../support/aws';
import { testEnvironment } from '../support/invariants';
import { sharedStack, suiteDir } from '../support/stack';
import { makePki, startTlsProxy, type TestPki, type TlsProxy } from '../support/tls';
import { workflowBundle } from '../support/worker';
import { startRun } from '../support/runs';

describe('Temporal connection settings (TEMPORAL_* variables)', () => {
  it('defaults to a plaintext local server', () => {
    assert.deepEqual(temporalSettings({}), { address: 'localhost:7233', namespace: 'default' });
    assert.equal(taskQueueOf('sentinel-gpu-matrix', {}), 'sentinel-gpu-matrix');
    assert.equal(taskQueueOf('sentinel-gpu-matrix', { TEMPORAL_TASK_QUEUE: 'other' }), 'other');
  });

  it('turns TLS on for an API key, a client certificate, a CA or TEMPORAL_TLS=true', () => {
    const apiKey = temporalSettings({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'k' });
    assert.deepEqual(apiKey, { address: 'ns.acct.tmprl.cloud:7233', namespace: 'ns.acct', tls: {}, apiKey: 'k' });
    assert.deepEqual(connectionOptions(apiKey), { address: 'ns.acct.tmprl.cloud:7233', tls: {}, apiKey: 'k' });
    assert.deepEqual(temporalSettings({ TEMPORAL_TLS: 'true' }).tls, {});
    assert.equal(temporalSettings({ TEMPORAL_TLS: 'false' }).tls, undefined);
  });

  it('reads certificate files and names the variable of one it cannot read', () => {
    const dir = path.join(os.tmpdir(), `sentinel-tls-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const [crt, key, ca] = ['c.pem', 'k.pem', 'ca.pem'].map((f) => path.join(dir, f)) as [string, string, string];
    writeFileSync(crt, 'CERT');
    writeFileSync(key, 'KEY');
    writeFileSync(ca, 'CA');
    const mtls = temporalSettings({ TEMPORAL_TLS_CERT: crt, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: ca, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' });
    assert.equal(mtls.tls?.clientCertPair?.crt.toString(), 'CERT');
    assert.equal(mtls.tls?.clientCertPair?.key.toString(), 'KEY');
    assert.equal(mtls.tls?.serverRootCACertificate?.toString(), 'CA');
    assert.equal(mtls.tls?.serverNameOverride, 'temporal.internal');
    assert.throws(() => temporalSettings({ TEMPORAL_TLS_CERT: crt }), (err: unknown) => err instanceof TemporalSettingsError && /both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY/.test(err.message));
    assert.throws(() => temporalSettings({ TEMPORAL_TLS_KEY: key }), TemporalSettingsError);
    assert.throws(
      () => temporalSettings({ TEMPORAL_TLS_CA: path.join(dir, 'missing.pem') }),
      (err: unknown) => err instanceof TemporalSettingsError && err.message.startsWith(`TEMPORAL_TLS_CA=${path.join(dir, 'missing.pem')}:`),
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
    const connection = await Connection.connect({ ...connectionOptions(temporalSettings(env)), connectTimeout });
    try {
      await connection.workflowService.getSystemInfo({});
    } finally {
      await connection.close();
    }
  }

  it('connects the client with a private CA and a server name', async () => {
    await reachable({ TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS_CA: pki.ca, TEMPORAL_TLS_SERVER_NAME: pki.serverName });
  });

  it('refuses a server whose certificate the configured CA did not sign', async () => {
    await assert.rejects(reachable({ TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS_CA: pki.otherCa, TEMPORAL_TLS_SERVER_NAME: pki.serverName }, 1_500));
  });

  it('needs the client certificate where the server requires mTLS', async () => {
    const before = mutual.rejected;
    await assert.rejects(reachable({ TEMPORAL_ADDRESS: mutual.address, TEMPORAL_TLS_CA: pki.ca, TEMPORAL_TLS_SERVER_NAME: pki.serverName }, 1_500));
    assert.ok(mutual.rejected > before, 'the server refused the handshake');
    await reachable({ TEMPORAL_ADDRESS: mutual.address, TEMPORAL_TLS_CA: pki.ca, TEMPORAL_TLS_SERVER_NAME: pki.serverName, TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.clientKey });
  });

  it('runs a whole matrix through a worker connected with mTLS', async () => {
    const env = testEnvironment('mtls');
    const settings = temporalSettings({
      TEMPORAL_ADDRESS: mutual.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TLS_CA: pki.ca,
      TEMPORAL_TLS_SERVER_NAME: pki.serverName,
      TEMPORAL_TLS_CERT: pki.clientCert,
      TEMPORAL_TLS_KEY: pki.clientKey,
    });
    const sentinel = await createSentinelWorker({ invariants: env.invariants, temporal: settings, workflowBundle: await workflowBundle(), localWorkRoot: path.join(suiteDir, 'hosts-work') });
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
