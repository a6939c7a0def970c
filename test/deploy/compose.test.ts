import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/config/load';
import { searchAttributeFlags } from '../../dev/stack/temporal-server';
import { dockerCompose } from '../support/ops-tools';

type Json = Record<string, any>;

const COMPOSE_FILE = 'docker-compose.temporal.yml';

describe('docker-compose.temporal.yml', function () {
  let config: Json;

  before(function () {
    const out = dockerCompose(['-f', COMPOSE_FILE, 'config', '--format', 'json']);
    assert.equal(out.status, 0, `${out.display} failed:\n${out.stderr}`);
    config = JSON.parse(out.stdout) as Json;
  });

  it('passes `docker compose config` with the services a deployment needs', () => {
    assert.deepEqual(Object.keys(config.services).sort(), [
      'postgresql',
      'sentinel-worker',
      'temporal',
      'temporal-schema',
      'temporal-setup',
      'temporal-ui',
    ]);
    assert.match(config.services.postgresql.image, /^postgres:15[\w.-]*@sha256:[0-9a-f]{64}$/);
    assert.equal(config.services.temporal.environment.DB, 'postgres12');
    assert.equal(config.services.temporal.environment.POSTGRES_SEEDS, 'postgresql');
    assert.match(config.services['temporal-ui'].image, /^temporalio\/ui:\d+\.\d+\.\d+$/);
    for (const name of ['temporal', 'temporal-schema', 'temporal-setup']) {
      assert.match(
        config.services[name].image,
        /^temporalio\/(server|admin-tools):1\.30\.1$/,
        `${name} pins one Temporal version`,
      );
    }
  });

  it('builds the worker from the repository Dockerfile and points it at the stack', () => {
    const worker = config.services['sentinel-worker'];
    assert.equal(path.resolve(worker.build.context), PROJECT_ROOT);
    assert.equal(worker.build.dockerfile, 'Dockerfile');
    assert.equal(worker.environment.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(
      worker.environment.TEMPORAL_TLS,
      'false',
      'its own plaintext server, whatever the env file says',
    );
    assert.match(worker.environment.SENTINEL_METRICS_ADDRESS, /:9464$/);
    assert.deepEqual(worker.depends_on['temporal-setup'], {
      condition: 'service_completed_successfully',
      required: true,
    });
  });

  it('orders start-up by health: database, schema, server, namespace, then UI and worker', () => {
    const s = config.services;
    assert.equal(s['temporal-schema'].depends_on.postgresql.condition, 'service_healthy');
    assert.equal(s.temporal.depends_on['temporal-schema'].condition, 'service_completed_successfully');
    assert.equal(s['temporal-setup'].depends_on.temporal.condition, 'service_healthy');
    assert.equal(s['temporal-ui'].depends_on.temporal.condition, 'service_healthy');
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'sentinel-worker']) {
      assert.ok(s[name].healthcheck?.test, `${name} has a health check`);
    }
  });

  it('keeps state in named volumes and publishes ports on loopback only', () => {
    assert.deepEqual(Object.keys(config.volumes).sort(), ['sentinel-evidence', 'temporal-postgres']);
    const pg = config.services.postgresql.volumes.find((v: Json) => v.target === '/var/lib/postgresql/data');
    assert.equal(pg?.type, 'volume');
    assert.equal(pg?.source, 'temporal-postgres');
    for (const [name, service] of Object.entries<Json>(config.services)) {
      for (const port of service.ports ?? [])
        assert.equal(port.host_ip, '127.0.0.1', `${name} publishes ${port.published} on loopback only`);
    }
  });

  it('holds no secret: passwords come from Docker secrets, credentials from a git-ignored env file', () => {
    const secretish = /PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|ACCESS_KEY/;
    for (const [name, service] of Object.entries<Json>(config.services)) {
      for (const [key, value] of Object.entries<string | null>(service.environment ?? {})) {
        if (!secretish.test(key)) continue;
        assert.ok(
          key.endsWith('_FILE') && String(value).startsWith('/run/secrets/'),
          `${name}: ${key} must come from a secret file, not the compose file`,
        );
      }
    }
    assert.deepEqual(Object.keys(config.secrets), ['postgres_password']);
    assert.equal(
      path.relative(PROJECT_ROOT, config.secrets.postgres_password.file),
      path.join('deploy', 'secrets', 'postgres_password'),
    );
    assert.match(readFileSync(path.join(PROJECT_ROOT, 'deploy', 'secrets', '.gitignore'), 'utf8'), /^\*$/m);
    // An absent optional env file is dropped from `config` output: read the declaration itself.
    const raw = parse(readFileSync(path.join(PROJECT_ROOT, COMPOSE_FILE), 'utf8')) as Json;
    assert.deepEqual(raw.services['sentinel-worker'].env_file, [
      { path: './deploy/sentinel.env', required: false },
    ]);
    assert.match(readFileSync(path.join(PROJECT_ROOT, '.gitignore'), 'utf8'), /^deploy\/sentinel\.env$/m);
    assert.ok(existsSync(path.join(PROJECT_ROOT, 'deploy', 'sentinel.env.example')));
  });

  it('registers exactly the search attributes the workflows set (src/temporal/definitions.ts)', () => {
    const registered = String(config.services['temporal-setup'].environment.SENTINEL_SEARCH_ATTRIBUTES)
      .trim()
      .split(/\s+/)
      .sort();
    const flags = searchAttributeFlags();
    const expected = flags.filter((_, i) => i % 2 === 1).sort();
    assert.deepEqual(registered, expected);
    const script = readFileSync(path.join(PROJECT_ROOT, 'deploy', 'temporal', 'setup-namespace.sh'), 'utf8');
    assert.match(script, /temporal operator search-attribute create/);
  });

  it('mounts only files that exist in the repository', () => {
    for (const [name, service] of Object.entries<Json>(config.services)) {
      for (const volume of service.volumes ?? []) {
        if (volume.type !== 'bind') continue;
        assert.ok(existsSync(volume.source), `${name} mounts ${volume.source}, which does not exist`);
      }
    }
    for (const script of ['setup-schema.sh', 'setup-namespace.sh']) {
      assert.ok(existsSync(path.join(PROJECT_ROOT, 'deploy', 'temporal', script)));
    }
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8');

  it('builds in stages from a Node 24 image pinned by digest and runs as a non-root user', () => {
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
    assert.match(base ?? '', /^node:24[\w.-]*@sha256:[0-9a-f]{64}$/);
    const stages = [...text.matchAll(/^FROM (\S+) AS (\w+)$/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(stages, [
      ['${NODE_IMAGE}', 'build'],
      ['${NODE_IMAGE}', 'runtime'],
    ]);
    const runtime = text.slice(text.indexOf('AS runtime'));
    assert.match(runtime, /npm ci --omit=dev/);
    assert.match(runtime, /COPY --from=build \/app\/dist/);
    const user = /^USER (\S+)$/m.exec(runtime)?.[1];
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `runtime user ${user}`);
    assert.match(text, /npm run build/);
  });

  it('keeps the build context small and free of local state', () => {
    const ignored = readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', '.tools', '.git', 'dist', 'test'])
      assert.ok(ignored.includes(entry), `.dockerignore lists ${entry}`);
  });
});
