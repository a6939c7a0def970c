import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/config/load';

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

type Version = [number, number, number];

function version(text: string): Version {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`not a version: ${text}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** `engines.node` as this project writes it: caret ranges joined by `||`. */
function satisfies(range: string, v: Version): boolean {
  return range.split('||').some((part) => {
    const m = /^\s*\^(\d+\.\d+\.\d+)\s*$/.exec(part);
    if (!m) throw new Error(`engines.node part ${JSON.stringify(part)}: expected ^major.minor.patch`);
    const floor = version(m[1]!);
    if (v[0] !== floor[0]) return false;
    return v[1] > floor[1] || (v[1] === floor[1] && v[2] >= floor[2]);
  });
}

describe('Node.js versions: the image, the tested ones and engines agree', () => {
  const dockerfile = read('Dockerfile');
  const imageTag = /^ARG NODE_IMAGE=node:(\d+)-[\w.-]*@sha256:[0-9a-f]{64}$/m.exec(dockerfile);
  const imageVersion = /\(Node (\d+\.\d+\.\d+)\b/.exec(dockerfile)?.[1];
  const tested = /^NODE24_VERSION="(\d+\.\d+\.\d+)"$/m.exec(read('scripts/ensure-tools.sh'))?.[1];
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;

  it("the image's Node major is the one `npm run test:node24` runs", () => {
    assert.ok(imageTag, 'the Dockerfile pins node:<major>-… by digest');
    assert.ok(tested, 'scripts/ensure-tools.sh pins NODE24_VERSION');
    assert.equal(Number(imageTag[1]), version(tested)[0]);
    assert.equal(
      version(imageVersion ?? '')[0],
      Number(imageTag[1]),
      'the Dockerfile says which Node the pinned digest carries',
    );
    assert.match(
      read('scripts/use-node24.sh'),
      /\)" != "24" \]/,
      'scripts/use-node24.sh refuses any other major',
    );
    for (const tier of ['scripts/test-node24.sh', 'scripts/test-production.sh'])
      assert.match(read(tier), /source "\$root\/scripts\/use-node24\.sh"/, `${tier} runs on Node 24`);
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    assert.equal(scripts['test:node24'], 'bash scripts/test-node24.sh');
    assert.match(read('README.md'), /npm run test:node24/, 'the README says how to run the suite on Node 24');
  });

  it('engines admits the Node running this suite, the tested Node 24 and the image, and no untested major', () => {
    assert.ok(
      satisfies(engines, version(process.versions.node)),
      `${engines} admits ${process.versions.node}`,
    );
    assert.ok(satisfies(engines, version(tested!)), `${engines} admits ${tested}`);
    assert.ok(satisfies(engines, version(imageVersion!)), `${engines} admits the image's ${imageVersion}`);
    for (const untested of ['18.20.0', '22.23.2', '26.0.0'])
      assert.ok(!satisfies(engines, version(untested)), `${engines} refuses ${untested}`);
  });

  it('the CI job sets up the same major', () => {
    const workflow = parse(read('.github/workflows/sentinel-gpu-matrix-and-promote-dev.yml')) as {
      jobs: Record<string, { steps: Array<{ uses?: string; with?: Record<string, unknown> }> }>;
    };
    const setup = Object.values(workflow.jobs)
      .flatMap((j) => j.steps)
      .find((s) => s.uses?.startsWith('actions/setup-node@'));
    assert.equal(String(setup?.with?.['node-version']), imageTag![1]);
  });

  it('runs on the Node major its runner asked for', function () {
    const expected = process.env.SENTINEL_EXPECT_NODE_MAJOR;
    if (!expected) {
      // `npm test` runs on the machine's Node; `npm run test:node24` sets the variable.
      assert.ok(satisfies(engines, version(process.versions.node)));
      return;
    }
    assert.equal(process.versions.node.split('.')[0], expected);
  });
});
