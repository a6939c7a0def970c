import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';

/** Every .ts file under a folder of the project. */
function sources(dir: string): string[] {
  return readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(PROJECT_ROOT, path.join(e.parentPath, e.name)));
}

/** The project files a module imports by relative path. */
function relativeImports(file: string): string[] {
  const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) =>
    path.normalize(path.join(path.dirname(file), m[1]!)),
  );
}

describe('what ships in the image', () => {
  it('the image copies no dev-only code: the build compiles src/ only and the runtime stage copies no dev/', () => {
    const build = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
      compilerOptions: { rootDir: string };
    };
    assert.deepEqual(build.include, ['src']);
    assert.equal(build.compilerOptions.rootDir, 'src');
    const copied = [
      ...readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8').matchAll(/^COPY (?!--from)(.+) \S+$/gm),
    ].flatMap((m) => m[1]!.split(/\s+/));
    assert.ok(copied.includes('src'), `the build stage copies src (${copied.join(', ')})`);
    for (const source of copied)
      assert.ok(!/^(\.\/)?dev(\/|$)/.test(source), `the Dockerfile copies ${source}`);
  });

  it('nothing under src/ imports dev/ (dev stack, reference control plane, simulated hosts)', () => {
    const shipped = sources('src');
    assert.ok(shipped.length > 50, `${shipped.length} modules under src/`);
    const leaks = shipped.flatMap((file) =>
      relativeImports(file)
        .filter((target) => target.split(path.sep)[0] === 'dev')
        .map((target) => `${file} -> ${target}`),
    );
    assert.deepEqual(leaks, []);
  });

  it('the dev-only code is under dev/: the dev stack, the reference control plane and the simulated hosts', () => {
    const dev = sources('dev');
    for (const expected of ['dev/stack/stack.ts', 'dev/control-plane/server.ts'])
      assert.ok(dev.includes(expected), expected);
    assert.ok(readdirSync(path.join(PROJECT_ROOT, 'dev', 'simulated-hosts')).includes('replay.sh'));
    assert.ok(
      !sources('src').some((f) => /devstack|control-plane\/reference/.test(f)),
      'no dev-only folder left under src/',
    );
  });
});
