import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { AwsClients } from '../../src/aws/clients';
import { loadInvariants, PROJECT_ROOT } from '../../src/config/load';
import {
  cluster,
  createClusterRequest,
  job,
  onboarding,
  submitJobRequest,
} from '../../src/control-plane/contract';
import { startReferenceControlPlane } from '../../dev/control-plane/server';

const spec = parse(readFileSync(path.join(PROJECT_ROOT, 'docs', 'control-plane.openapi.yaml'), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, { required?: string[]; properties: Record<string, unknown> }> };
};

describe('control-plane contract (docs/control-plane.openapi.yaml)', () => {
  it('documents exactly the routes the reference control plane serves', async () => {
    const server = await startReferenceControlPlane({
      invariants: loadInvariants(undefined, {}),
      environment: 'local',
      aws: new AwsClients({
        endpoint: 'http://127.0.0.1:9',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      }),
      cognito: { region: 'us-west-2', userPoolId: 'us-west-2_contract', clientId: 'contract' },
      onboardingTokenTtlMs: 60_000,
    });
    try {
      const served = new Set<string>();
      const routes = server.app.printRoutes({ commonPrefix: false });
      for (const [pathName, methods] of Object.entries(spec.paths)) {
        for (const method of Object.keys(methods).filter((m) =>
          ['get', 'post', 'delete', 'put', 'patch'].includes(m),
        )) {
          const fastifyPath = pathName.replace(/\{(\w+)\}/g, ':$1');
          assert.ok(
            server.app.hasRoute({ method: method.toUpperCase(), url: fastifyPath }),
            `${method.toUpperCase()} ${pathName} is documented but not served`,
          );
          served.add(`${method.toUpperCase()} ${fastifyPath}`);
        }
      }
      const routeCount = (routes.match(/\((GET|POST|DELETE|PUT|PATCH)[^)]*\)/g) ?? [])
        .join(',')
        .split(/,\s*/)
        .filter((m) => /GET|POST|DELETE|PUT|PATCH/.test(m) && !/HEAD/.test(m)).length;
      assert.equal(
        routeCount,
        served.size,
        `the server has routes the contract does not document:\n${routes}`,
      );
    } finally {
      await server.stop();
    }
  });

  it('keeps the documented schemas and the validators Sentinel uses in step', () => {
    const pairs: Array<[string, z.ZodObject]> = [
      ['CreateClusterRequest', createClusterRequest],
      ['Cluster', cluster],
      ['Onboarding', onboarding],
      ['SubmitJobRequest', submitJobRequest],
      ['Job', job],
    ];
    for (const [name, validator] of pairs) {
      const documented = spec.components.schemas[name]!;
      assert.deepEqual(
        Object.keys(documented.properties).sort(),
        Object.keys(validator.shape).sort(),
        `${name} properties`,
      );
      const required = Object.entries(validator.shape)
        .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
        .map(([key]) => key)
        .sort();
      assert.deepEqual([...(documented.required ?? [])].sort(), required, `${name} required properties`);
    }
  });
});
