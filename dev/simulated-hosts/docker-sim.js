#!/usr/bin/env node
/*
 * `docker` of a simulated host (see README.md). Implements the part of the
 * docker CLI the check plan and the installer use, with docker's own
 * behaviour and messages where it matters:
 *   info      replayed from the host's recording (recordings/docker/)
 *   pull REF  records the image as present
 *   run ...   starts the container's process: for the cluster agent image,
 *             the agent simulation (agent/radix-agent-sim.js)
 *   ps, logs NAME, inspect NAME, rm [-f] NAME
 * Any other command or option fails with exit 125, so a change to the
 * installer that this simulation does not cover is noticed, not ignored.
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const [hostDir, ...args] = process.argv.slice(2);
const work = process.env.RADIX_HOST_WORKDIR || process.env.HOME || '/tmp';
const stateDir = path.join(work, 'docker');
fs.mkdirSync(path.join(stateDir, 'containers'), { recursive: true });
const imagesFile = path.join(stateDir, 'images.json');

const fail = (message, code = 125) => {
  process.stderr.write(`docker: ${message}\n`);
  process.exit(code);
};
const images = () => (fs.existsSync(imagesFile) ? JSON.parse(fs.readFileSync(imagesFile, 'utf8')) : []);
const containerFile = (name) => path.join(stateDir, 'containers', `${name}.json`);
const pidFile = (name) => path.join(work, `container-${name}.pid`);
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const container = (name) =>
  fs.existsSync(containerFile(name)) ? JSON.parse(fs.readFileSync(containerFile(name), 'utf8')) : undefined;
const running = (c) => c && c.pid && alive(c.pid);

function pull(ref) {
  if (!/^[a-z0-9][a-z0-9._\-/:]*(@sha256:[0-9a-f]{64})?$/.test(ref)) fail(`invalid reference format: ${ref}`);
  const [name, digest] = ref.split('@');
  process.stdout.write(
    `${digest ? digest.slice(7, 19) : 'latest'}: Pulling from ${name.split('/').slice(1).join('/')}\nDigest: ${digest || 'sha256:' + crypto.createHash('sha256').update(ref).digest('hex')}\nStatus: Downloaded newer image for ${ref}\n${ref}\n`,
  );
  const list = images().filter((i) => i !== ref);
  fs.writeFileSync(imagesFile, JSON.stringify([...list, ref]));
}

function run(argv) {
  const withValue = new Set([
    '-e',
    '--env',
    '--name',
    '--restart',
    '--gpus',
    '--device',
    '--group-add',
    '--network',
    '-v',
    '--volume',
    '--label',
    '--log-opt',
  ]);
  const flags = new Set(['-d', '--detach', '--rm', '--init']);
  const env = {};
  const opts = { devices: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith('-')) break;
    let value;
    if (a.startsWith('--') && a.includes('='))
      [a, value] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
    if (flags.has(a)) continue;
    if (!withValue.has(a)) fail(`unknown flag: ${a}\nSee 'docker run --help'.`);
    if (value === undefined) value = argv[++i];
    if (value === undefined) fail(`flag needs an argument: ${a}`);
    if (a === '-e' || a === '--env') {
      const eq = value.indexOf('=');
      if (eq > 0) env[value.slice(0, eq)] = value.slice(eq + 1);
      else if (process.env[value] !== undefined) env[value] = process.env[value];
    } else if (a === '--name') opts.name = value;
    else if (a === '--gpus') opts.gpus = value;
    else if (a === '--device') opts.devices.push(value);
  }
  const image = argv[i];
  if (!image) fail('"docker run" requires at least 1 argument.');
  const name = opts.name || `c${crypto.randomBytes(6).toString('hex')}`;
  if (running(container(name)))
    fail(
      `Error response from daemon: Conflict. The container name "/${name}" is already in use by container "${container(name).id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
  if (opts.gpus) {
    const info =
      spawnSync(path.join(__dirname, 'replay.sh'), [hostDir, 'docker', 'info', '--format', '{{json .}}'], {
        encoding: 'utf8',
      }).stdout || '';
    if (!info.includes('"nvidia":{'))
      fail('Error response from daemon: could not select device driver "" with capabilities: [[gpu]].');
  }
  const hostRoot = process.env.RADIX_HOST_ROOT || '';
  for (const device of opts.devices) {
    const source = device.split(':')[0];
    if (!fs.existsSync(path.join(hostRoot, source)))
      fail(
        `Error response from daemon: error gathering device information while adding custom device "${source}": no such file or directory.`,
      );
  }
  if (!images().includes(image)) pull(image);
  const id = crypto.randomBytes(32).toString('hex');
  const log = fs.openSync(path.join(stateDir, 'containers', `${name}.log`), 'a');
  // The agent image runs the agent simulation. Like a real container it reaches a GPU only through
  // the flags it was started with: --gpus (NVIDIA Container Toolkit) or the ROCm device nodes.
  const gpuAccess = opts.gpus
    ? 'nvidia'
    : opts.devices.some((d) => d.split(':')[0] === '/dev/kfd')
      ? 'amd'
      : 'none';
  // A host can describe a broken agent image (see README.md, "agent-behaviour").
  const behaviourFile = path.join(hostDir, 'agent-behaviour');
  const behaviour = fs.existsSync(behaviourFile) ? fs.readFileSync(behaviourFile, 'utf8').trim() : 'normal';
  const child = spawn(process.execPath, [path.join(__dirname, 'agent', 'radix-agent-sim.js')], {
    // The agent reads the GPUs it was given with the host's recorded vendor tools (ROCm's live in /opt/rocm/bin).
    env: {
      PATH: `${process.env.PATH}:${hostRoot}/opt/rocm/bin`,
      HOME: work,
      RADIX_HOST_ROOT: hostRoot,
      SIMULATED_HOST_DIR: hostDir,
      SIMULATED_NODE: process.env.SIMULATED_NODE || process.execPath,
      RADIX_AGENT_IMAGE: image,
      SIMULATED_CONTAINER_GPU_ACCESS: gpuAccess,
      SIMULATED_AGENT_BEHAVIOUR: behaviour,
      ...env,
    },
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  fs.writeFileSync(pidFile(name), String(child.pid));
  fs.writeFileSync(
    containerFile(name),
    JSON.stringify({
      id,
      name,
      image,
      pid: child.pid,
      env: Object.keys(env),
      gpus: opts.gpus || null,
      devices: opts.devices,
      created: new Date().toISOString(),
    }),
  );
  process.stdout.write(`${id}\n`);
}

function remove(argv) {
  const force = argv.includes('-f') || argv.includes('--force');
  const names = argv.filter((a) => !a.startsWith('-'));
  for (const name of names) {
    const c = container(name);
    if (!c) {
      if (!force) fail(`Error response from daemon: No such container: ${name}`, 1);
      continue;
    }
    if (running(c)) {
      if (!force)
        fail(
          `Error response from daemon: You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`,
          1,
        );
      process.kill(c.pid, 'SIGTERM');
    }
    fs.rmSync(containerFile(name), { force: true });
    fs.rmSync(pidFile(name), { force: true });
    process.stdout.write(`${name}\n`);
  }
}

const [command, ...rest] = args;
switch (command) {
  case 'info': {
    const r = spawnSync(path.join(__dirname, 'replay.sh'), [hostDir, 'docker', ...args], {
      stdio: 'inherit',
    });
    process.exit(r.status ?? 1);
  }
  case 'pull':
    if (rest.length !== 1) fail('"docker pull" requires exactly 1 argument.');
    pull(rest[0]);
    break;
  case 'run':
    run(rest);
    break;
  case 'rm':
    remove(rest);
    break;
  case 'ps': {
    process.stdout.write('CONTAINER ID   IMAGE   NAMES   STATUS\n');
    for (const f of fs.readdirSync(path.join(stateDir, 'containers')).filter((f) => f.endsWith('.json'))) {
      const c = JSON.parse(fs.readFileSync(path.join(stateDir, 'containers', f), 'utf8'));
      if (running(c)) process.stdout.write(`${c.id.slice(0, 12)}   ${c.image}   ${c.name}   Up\n`);
    }
    break;
  }
  case 'logs': {
    const file = path.join(stateDir, 'containers', `${rest[rest.length - 1]}.log`);
    if (!fs.existsSync(file))
      fail(`Error response from daemon: No such container: ${rest[rest.length - 1]}`, 1);
    process.stdout.write(fs.readFileSync(file, 'utf8'));
    break;
  }
  case 'inspect': {
    const c = container(rest[rest.length - 1]);
    if (!c) fail(`Error: No such object: ${rest[rest.length - 1]}`, 1);
    process.stdout.write(
      `${JSON.stringify([{ Id: c.id, Name: `/${c.name}`, Config: { Image: c.image }, State: { Running: running(c), Pid: c.pid } }])}\n`,
    );
    break;
  }
  default:
    fail(`simulated host supports info, pull, run, ps, logs, inspect, rm; not: ${args.join(' ')}`);
}
