#!/usr/bin/env node
/*
 * The package side of a simulated host (see README.md): what a setup script
 * calls to change the machine. One program, called by the host's wrappers as
 *   host-sim.js <tool> [args...]
 * with the simulated host in the environment:
 *   SIMULATED_HOST_DIR  the host's image (dev/simulated-hosts/<target>/):
 *                       packages/<name>/control (+ files/, module/) is what
 *                       its mirrors serve, as recorded on the target
 *   RADIX_HOST_ROOT     the instance's own root, a copy of the image's root/
 *                       made at boot, where installed files land
 * Tools: apt-get (update, install), wget (downloads served by
 * the recorded mirrors), amdgpu-install (its --usecase as apt-get installs),
 * modprobe (loads a module an installed package ships) and systemctl (units of
 * installed packages). Each answers with the real tool's own words and exit
 * codes where a script depends on them (dpkg-query, bin/dpkg-query, reads the
 * same record of installed packages); anything else fails loudly, so a
 * setup script this simulation does not cover is noticed, not ignored.
 *
 * A file `mirror-unreachable` in the image makes every mirror unreachable, as
 * on a subnet without a route to the internet.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const [tool, ...args] = process.argv.slice(2);
const image = process.env.SIMULATED_HOST_DIR;
const root = process.env.RADIX_HOST_ROOT;
if (!image || !root) {
  process.stderr.write(`${tool}: simulated host without SIMULATED_HOST_DIR / RADIX_HOST_ROOT\n`);
  process.exit(127);
}
const statusDir = path.join(root, 'var', 'lib', 'dpkg', 'simulated');
const listsDir = path.join(root, 'var', 'lib', 'apt', 'lists', 'simulated');
const unreachable = fs.existsSync(path.join(image, 'mirror-unreachable'));

const out = (text) => process.stdout.write(text);
const err = (text) => process.stderr.write(text);

/** Every package the host's mirrors (and its AMI) know: packages/<name>/control, `Field: value` lines. */
function catalogue() {
  const dir = path.join(image, 'packages');
  const all = new Map();
  if (!fs.existsSync(dir)) return all;
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name, 'control');
    if (!fs.existsSync(file)) continue;
    const fields = {};
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields[m[1].toLowerCase()] = m[2].trim();
    }
    all.set(fields.package || name, { ...fields, dir: path.join(dir, name) });
  }
  return all;
}

const installedVersion = (name) => {
  const file = path.join(statusDir, name);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined;
};
const list = (value) =>
  value
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

/** The apt sources of the instance: the Ubuntu archive, plus what amdgpu-install added. */
function sources() {
  const all = [{ origin: 'archive', url: 'http://us-west-2.ec2.archive.ubuntu.com/ubuntu', suite: 'jammy' }];
  const added = path.join(root, 'etc', 'apt', 'sources.list.d');
  for (const [file, origin] of [
    ['amdgpu.list', 'amdgpu'],
    ['rocm.list', 'rocm'],
  ]) {
    const p = path.join(added, file);
    if (!fs.existsSync(p)) continue;
    const m = /(https?:\/\/\S+)\s+(\S+)/.exec(fs.readFileSync(p, 'utf8'));
    if (m) all.push({ origin, url: m[1], suite: m[2] });
  }
  return all;
}

function hostOf(url) {
  return new URL(url).hostname;
}

function aptUpdate(opts) {
  fs.mkdirSync(listsDir, { recursive: true });
  let n = 0;
  let failed = false;
  for (const s of sources()) {
    n += 1;
    if (unreachable) {
      failed = true;
      out(`Err:${n} ${s.url} ${s.suite} InRelease\n  Temporary failure resolving '${hostOf(s.url)}'\n`);
      continue;
    }
    out(`Get:${n} ${s.url} ${s.suite} InRelease [${110 + n} kB]\n`);
    fs.writeFileSync(path.join(listsDir, s.origin), `${s.url} ${s.suite}\n`);
  }
  out('Reading package lists...\n');
  if (failed) {
    for (const s of sources())
      err(
        `W: Failed to fetch ${s.url}/dists/${s.suite}/InRelease  Temporary failure resolving '${hostOf(s.url)}'\n`,
      );
    if (opts.errorOnAny) {
      err('E: Some index files failed to download. They have been ignored, or old ones used instead.\n');
      process.exit(100);
    }
    err('W: Some index files failed to download. They have been ignored, or old ones used instead.\n');
  }
  process.exit(0);
}

/** Puts a package's files into the instance's root (keeping modes) and records it as installed. */
function unpack(pkg) {
  const files = path.join(pkg.dir, 'files');
  if (fs.existsSync(files)) fs.cpSync(files, root, { recursive: true, force: true });
  fs.mkdirSync(statusDir, { recursive: true });
  fs.writeFileSync(path.join(statusDir, pkg.package), `${pkg.version}\n`);
}

function aptInstall(names, opts) {
  const all = catalogue();
  const wanted = [];
  for (const name of names) {
    if (name.startsWith('./') || name.startsWith('/')) {
      // A downloaded .deb: the stand-in wget wrote names its package.
      const file = path.resolve(name);
      const m = fs.existsSync(file) ? /^Package: (\S+)/m.exec(fs.readFileSync(file, 'utf8')) : null;
      if (!m || !all.has(m[1])) {
        err(`E: Unsupported file ${name} given on commandline\n`);
        process.exit(100);
      }
      wanted.push(all.get(m[1]));
      continue;
    }
    const pkg = all.get(name);
    const origin = pkg && pkg.origin;
    const listed =
      pkg && (pkg.preinstalled === 'yes' || (origin && fs.existsSync(path.join(listsDir, origin))));
    if (!listed) {
      out('Reading package lists...\nBuilding dependency tree...\nReading state information...\n');
      err(`E: Unable to locate package ${name}\n`);
      process.exit(100);
    }
    wanted.push(pkg);
  }
  // Dependencies first, each once.
  const order = [];
  const visit = (pkg) => {
    if (order.includes(pkg)) return;
    for (const dep of list(pkg.depends)) {
      const d = all.get(dep);
      if (!d) {
        err(
          `E: Unable to correct problems, you have held broken packages. (${pkg.package} depends on ${dep})\n`,
        );
        process.exit(100);
      }
      visit(d);
    }
    order.push(pkg);
  };
  wanted.forEach(visit);
  out('Reading package lists...\nBuilding dependency tree...\nReading state information...\n');
  const todo = order.filter((p) => installedVersion(p.package) !== p.version);
  for (const p of wanted)
    if (!todo.includes(p)) out(`${p.package} is already the newest version (${p.version}).\n`);
  if (todo.length === 0) {
    out('0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n');
    process.exit(0);
  }
  out(`The following NEW packages will be installed:\n  ${todo.map((p) => p.package).join(' ')}\n`);
  if (!opts.yes) {
    out('Do you want to continue? [Y/n] Abort.\n');
    process.exit(1);
  }
  if (unreachable && todo.some((p) => p.origin !== 'file')) {
    for (const p of todo)
      err(
        `E: Failed to fetch ${p.url || 'http://us-west-2.ec2.archive.ubuntu.com/ubuntu'}  Temporary failure resolving '${hostOf(p.url || 'http://us-west-2.ec2.archive.ubuntu.com')}'\n`,
      );
    err('E: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?\n');
    process.exit(100);
  }
  for (const p of todo) {
    out(`Unpacking ${p.package} (${p.version}) ...\n`);
    unpack(p);
  }
  for (const p of todo) out(`Setting up ${p.package} (${p.version}) ...\n`);
  process.exit(0);
}

function aptGet(argv) {
  const opts = { yes: false, errorOnAny: false };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-y' || a === '--yes' || a === '--assume-yes') opts.yes = true;
    else if (a === '-q' || a === '-qq' || a === '--quiet' || a === '--no-install-recommends') continue;
    else if (a === '--error-on=any') opts.errorOnAny = true;
    else if (a === '-o') i += 1;
    else if (a.startsWith('-')) {
      err(
        `E: Command line option '${a}' is not understood in combination with the other options (simulated host)\n`,
      );
      process.exit(100);
    } else rest.push(a);
  }
  const [command, ...names] = rest;
  if (command === 'update') return aptUpdate(opts);
  if (command === 'install' && names.length > 0) return aptInstall(names, opts);
  err(`E: simulated apt-get does not cover: apt-get ${argv.join(' ')}\n`);
  process.exit(100);
}

function wget(argv) {
  let output;
  let url;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-q' || a === '--quiet' || a === '-nv') continue;
    if (a === '-O') output = argv[++i];
    else if (a.startsWith('--output-document=')) output = a.slice(18);
    else if (a.startsWith('-')) {
      err(`wget: simulated host does not cover option ${a}\n`);
      process.exit(2);
    } else url = a;
  }
  if (!url) {
    err('wget: missing URL\n');
    process.exit(1);
  }
  const host = hostOf(url);
  const pkg = [...catalogue().values()].find((p) => p.url === url);
  if (unreachable || !pkg) {
    if (!unreachable && [...catalogue().values()].some((p) => p.url && hostOf(p.url) === host)) {
      err(
        `--2026-01-01--  ${url}\nHTTP request sent, awaiting response... 404 Not Found\n${new Date().toISOString()} ERROR 404: Not Found.\n`,
      );
      process.exit(8);
    }
    err(
      `Resolving ${host} (${host})... failed: Temporary failure in name resolution.\nwget: unable to resolve host address '${host}'\n`,
    );
    process.exit(4);
  }
  const target = path.resolve(output || path.basename(new URL(url).pathname));
  // A stand-in for the .deb: apt-get install ./<file> reads which package it is.
  fs.writeFileSync(target, `Package: ${pkg.package}\nVersion: ${pkg.version}\n`);
  err(`'${path.basename(target)}' saved\n`);
  process.exit(0);
}

function amdgpuInstall(argv) {
  const usecases = [];
  let yes = false;
  for (const a of argv) {
    if (a === '-y') yes = true;
    else if (a.startsWith('--usecase=')) usecases.push(...list(a.slice(10)));
    else if (a === '--no-32' || a === '--accept-eula') continue;
    else {
      err(`amdgpu-install: simulated host does not cover option ${a}\n`);
      process.exit(2);
    }
  }
  // The use cases this host's recordings cover, as the packages amdgpu-install asks apt-get for.
  const byUsecase = { dkms: ['amdgpu-dkms'], rocm: ['rocm'] };
  const packages = [];
  for (const u of usecases.length ? usecases : ['graphics']) {
    if (!byUsecase[u]) {
      err(`amdgpu-install: use case ${u} is not recorded for this simulated host\n`);
      process.exit(2);
    }
    packages.push(...byUsecase[u]);
  }
  const r = spawnSync('apt-get', ['install', ...(yes ? ['-y'] : []), ...packages], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

function modprobe(argv) {
  const name = argv.filter((a) => !a.startsWith('-'))[0];
  if (!name) {
    err('modprobe: no module name\n');
    process.exit(1);
  }
  if (fs.existsSync(path.join(root, 'sys', 'module', name))) process.exit(0);
  const pkg = [...catalogue().values()].find(
    (p) => list(p.modules).includes(name) && installedVersion(p.package) !== undefined,
  );
  if (!pkg) {
    const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
    err(`modprobe: FATAL: Module ${name} not found in directory /lib/modules/${kernel}\n`);
    process.exit(1);
  }
  // Loading the module is what creates its device nodes and its /sys/module entry.
  fs.cpSync(path.join(pkg.dir, 'module', name), root, { recursive: true, force: true });
  process.exit(0);
}

function systemctl(argv) {
  const [verb, ...rest] = argv.filter((a) => a !== '--now' && a !== '--quiet' && a !== '-q');
  const unit = (rest[0] || '').replace(/\.service$/, '');
  const owner = [...catalogue().values()].find(
    (p) => list(p.units).includes(unit) && installedVersion(p.package) !== undefined,
  );
  if (verb === 'is-active') {
    out(owner ? 'active\n' : 'inactive\n');
    process.exit(owner ? 0 : 3);
  }
  if (['enable', 'start', 'restart'].includes(verb)) {
    if (owner) process.exit(0);
    err(`Failed to ${verb} unit: Unit file ${unit}.service does not exist.\n`);
    process.exit(verb === 'enable' ? 1 : 5);
  }
  err(`systemctl: simulated host does not cover: systemctl ${argv.join(' ')}\n`);
  process.exit(1);
}

const tools = { 'apt-get': aptGet, wget, 'amdgpu-install': amdgpuInstall, modprobe, systemctl };
if (!tools[tool]) {
  err(`host-sim: unknown tool ${tool}\n`);
  process.exit(127);
}
tools[tool](args);
